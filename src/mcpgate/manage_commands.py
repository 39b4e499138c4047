"""The command line of the management commands (`upstreams`, `servers`, `keys`, `oauth`, `preview`,
`import`, `db`; manage.py runs them). Apart from manage.py so that `mcpgate serve` and `wrap`,
which only need to know these commands exist, don't load the management client."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"


def add_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def common(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--gateway", default=os.environ.get("MCPGATE_URL", DEFAULT_URL), help=f"the gateway's URL ({DEFAULT_URL})"
        )
        sub.add_argument("--config", "-c", type=Path, help="config file (for the database settings when offline)")
        sub.add_argument("--offline", action="store_true", help="work on the database even if a gateway answers")
        sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        sub.add_argument(
            "--api-key",
            default=os.environ.get("MCPGATE_API_KEY") or os.environ.get("MCP_API_KEY"),
            help="a key for the gateway's API (default: $MCPGATE_API_KEY)",
        )
        return sub

    upstreams = commands.add_parser("upstreams", help="list and change upstreams").add_subparsers(
        dest="action", required=True
    )
    common(upstreams.add_parser("list", help="upstreams with their state and tool count"))
    add = common(upstreams.add_parser("add", help="register an upstream: NAME -- CMD ARGS…, or NAME --url URL"))
    add.add_argument("name")
    add.add_argument("--url", dest="upstream_url", help="a remote MCP server (transport detected)")
    add.add_argument("--transport", choices=["auto", "sse", "streamable_http"], default="auto")
    add.add_argument("--openapi", metavar="SPEC", help="an OpenAPI catalog: the document's path or URL, or 'self'")
    add.add_argument("--base-url", help="where the catalog's live calls go (default: the document's server)")
    add.add_argument("--guides", help="a folder of Markdown guides for the catalog")
    add.add_argument(
        "--live-tools", choices=["none", "endpoint", "operations"], help="the catalog's live tools (default endpoint)"
    )
    add.add_argument(
        "--collection", metavar="LOCATION", help="reference records: a JSON/JSONL/YAML file, folder or URL"
    )
    add.add_argument("--record", help="what one record of the collection is, e.g. 'workflow node'")
    add.add_argument("--id-field", help="the collection's id field (default: inferred)")
    add.add_argument("--title-field", help="the collection's title field (default: inferred)")
    add.add_argument("--category-field", help="the collection's category field (default: inferred)")
    add.add_argument("--text-field", action="append", default=None, help="a field search reads (repeatable)")
    add.add_argument("--passthrough", action="append", default=None, help="a caller header passed on (repeatable)")
    add.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    add.add_argument("--env", action="append", default=[], help="KEY=VALUE for a stdio server (repeatable)")
    add.add_argument("server_command", nargs="*", help="-- <command> [args…]")
    for action in ("enable", "disable", "remove"):
        common(upstreams.add_parser(action, help=f"{action} an upstream")).add_argument("name")

    servers = commands.add_parser("servers", help="list and change virtual servers").add_subparsers(
        dest="action", required=True
    )
    common(servers.add_parser("list", help="virtual servers"))
    create = common(servers.add_parser("create", help="create a virtual server"))
    create.add_argument("name")
    create.add_argument("--mode", choices=["SMART", "NORMAL"], default="SMART")
    create.add_argument("--tools", default="", help="comma-separated tool names (as tools/list shows them)")
    create.add_argument("--description", default="")
    create.add_argument("--public", action="store_true")
    common(servers.add_parser("config", help="the tools a virtual server exposes")).add_argument("server")
    common(servers.add_parser("delete", help="delete a virtual server")).add_argument("server")

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    common(keys.add_parser("list", help="keys (never their secrets)"))
    made = common(keys.add_parser("create", help="create a key; its secret is printed once"))
    made.add_argument("name")
    made.add_argument(
        "--scopes",
        default="tools:call",
        help="comma-separated: admin, servers:read, servers:write, tools:call, users:act, *",
    )
    made.add_argument("--servers", help="comma-separated virtual servers (names or ids) the key may use")
    made.add_argument("--expires-in-days", type=float, help="the key stops working after this many days")
    common(keys.add_parser("revoke", help="revoke a key at once")).add_argument("key_id")

    oauth = commands.add_parser("oauth", help="the built-in OAuth server's clients and grants").add_subparsers(
        dest="action", required=True
    )
    common(oauth.add_parser("clients", help="registered clients (never their secrets)"))
    grants = common(oauth.add_parser("grants", help="grants: which client may act with which key"))
    grants.add_argument("--client", help="only this client's (its id)")
    grants.add_argument("--key", help="only those signed in with this API key (its id)")
    grants.add_argument("--state", choices=["active", "revoked"])
    removed = common(oauth.add_parser("revoke-client", help="remove a client; its grants are revoked"))
    removed.add_argument("client_id", help="as `oauth clients` lists it (an https URL for a metadata document)")
    common(oauth.add_parser("revoke-grant", help="revoke a grant; its tokens stop")).add_argument("grant_id")

    accounts = commands.add_parser(
        "accounts", help="accounts at upstreams that sign in with OAuth (needs the running gateway)"
    ).add_subparsers(dest="action", required=True)
    connect = common(accounts.add_parser("connect", help="print the link that connects an account at an upstream"))
    connect.add_argument("upstream")
    connect.add_argument("--user", help="the end user's account (default: the gateway's own, which serves everyone)")
    common(accounts.add_parser("list", help="who is connected at an upstream")).add_argument("upstream")
    disconnect = common(accounts.add_parser("disconnect", help="forget an account's tokens at an upstream"))
    disconnect.add_argument("upstream")
    disconnect.add_argument("--user", help="the end user (default: the gateway's own account)")

    preview = common(commands.add_parser("preview", help="list a remote MCP server's tools without registering it"))
    preview.add_argument("target", metavar="URL")
    preview.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")

    imported = common(commands.add_parser("import", help="register the servers of a claude_desktop_config.json"))
    imported.add_argument("file", type=Path)

    db = commands.add_parser("db", help="the registry's database").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply the schema migrations").add_argument("--config", "-c", type=Path)
