"""The management commands of the CLI: `upstreams`, `servers`, `keys`, `oauth`, `preview`, `import`, `db`.

    mcpgate upstreams list                       mcpgate servers list
    mcpgate upstreams add NAME -- CMD ARGS…      mcpgate servers create NAME [--mode NORMAL --tools a,b]
    mcpgate upstreams add NAME --url URL         mcpgate servers config ID|NAME
    mcpgate upstreams add NAME --openapi SPEC [--base-url URL] [--guides DIR] [--live-tools operations]
    mcpgate upstreams add NAME --collection FILE|DIR|URL [--record "workflow node"] [--id-field F] …
    mcpgate upstreams enable|disable|remove NAME mcpgate servers delete ID|NAME
    mcpgate preview URL [--header 'K: V']        mcpgate import claude_desktop_config.json
    mcpgate keys create NAME [--scopes a,b]      mcpgate keys list | revoke ID
    mcpgate oauth clients | grants [--client ID --key ID --state S] | revoke-client ID | revoke-grant ID
    mcpgate db upgrade

They talk to the running gateway's management API (`--gateway`, default
http://127.0.0.1:8080, or `MCPGATE_URL`), so changes take effect at once. When no
gateway answers there they work on the database directly (the same settings as
`serve`: `MCPGATE_DATABASE_URL`, or the embedded SQLite file), and the gateway picks the
changes up when it starts (keys within half a minute; an OAuth revocation stops refresh tokens at
once, access tokens it has accepted when they expire). With authentication on, the API
calls carry `--api-key` (default `$MCPGATE_API_KEY`). Output is a table, or JSON with `--json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import aiohttp
import anyio
from pydantic import TypeAdapter, ValidationError

from mcpgate.access.authentication import Authenticator
from mcpgate.admin.oauth import GrantState, OAuthRecords
from mcpgate.admin.preview import ToolPreview
from mcpgate.admin.schemas import ServerCreate
from mcpgate.admin.servers import new_server
from mcpgate.app import prepare_database
from mcpgate.config import load_config, settings_from_mapping, upstream_from_claude
from mcpgate.errors import ConfigError, GatewayError, NotFound
from mcpgate.hub.servers import VirtualServer
from mcpgate.settings import (
    UPSTREAM_NAME,
    UPSTREAM_NAME_RULE,
    CollectionUpstream,
    GatewaySettings,
    OpenAPICatalogUpstream,
    UpstreamSettings,
)
from mcpgate.store.crypto import SecretBox, mask, mask_url
from mcpgate.store.database import Database, database_url
from mcpgate.store.keys import ApiKey, KeyStore
from mcpgate.store.oauth import OAuthStore
from mcpgate.store.registry import Registry

_SPEC = TypeAdapter(UpstreamSettings)


class CommandError(Exception):
    """What the user did wrong or what failed, in one line; exit status 1."""


# -- where the commands go ---------------------------------------------------------------


class Backend(Protocol):
    async def upstreams(self) -> list[dict[str, Any]]: ...
    async def add_upstream(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]: ...
    async def remove_upstream(self, name: str) -> None: ...
    async def servers(self) -> list[dict[str, Any]]: ...
    async def create_server(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def server_config(self, ident: str) -> dict[str, Any]: ...
    async def delete_server(self, ident: str) -> None: ...
    async def preview(self, url: str, headers: dict[str, str]) -> dict[str, Any]: ...
    async def keys(self) -> list[dict[str, Any]]: ...
    async def server_names(self) -> dict[str, str]: ...
    async def create_key(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def revoke_key(self, key_id: str) -> dict[str, Any]: ...
    async def oauth_clients(self) -> list[dict[str, Any]]: ...
    async def oauth_grants(
        self, client_id: str | None, key_id: str | None, state: GrantState | None
    ) -> list[dict[str, Any]]: ...
    async def revoke_oauth_client(self, client_id: str) -> dict[str, Any]: ...
    async def revoke_oauth_grant(self, grant_id: str) -> dict[str, Any]: ...


class APIBackend:
    """The running gateway's management API."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base.rstrip("/") + "/api/v1"

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.base + path, json=body) as response:
            if response.status == 204:
                return None
            try:
                payload = await response.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                payload = {"error": {"message": (await response.text())[:200]}}
            if response.status >= 400:
                error = payload.get("error", {}) if isinstance(payload, dict) else {}
                raise CommandError(f"HTTP {response.status}: {error.get('message', payload)}")
            return payload

    async def upstreams(self) -> list[dict[str, Any]]:
        return (await self.call("GET", "/upstreams"))["data"]

    async def add_upstream(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "/upstreams", body)

    async def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        return await self.call("POST", f"/upstreams/{name}/{'enable' if enabled else 'disable'}")

    async def remove_upstream(self, name: str) -> None:
        await self.call("DELETE", f"/upstreams/{name}")

    async def servers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await self.call("GET", "/mcp_manager?limit=100" + (f"&cursor={cursor}" if cursor else ""))
            found += page["data"]
            cursor = page["pagination"]["nextCursor"]
            if not cursor:
                return found

    async def create_server(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "/mcp_manager", body)

    async def _server_id(self, ident: str) -> str:
        for server in await self.servers():
            if ident in (server["id"], server["name"]):
                return server["id"]
        raise CommandError(f"no virtual server {ident!r}")

    async def server_config(self, ident: str) -> dict[str, Any]:
        return await self.call("GET", f"/mcp_manager/{await self._server_id(ident)}/config")

    async def delete_server(self, ident: str) -> None:
        await self.call("DELETE", f"/mcp_manager/{await self._server_id(ident)}")

    async def preview(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        return await self.call("POST", "/mcp_manager/load-tools-from-url", {"url": url, "headers": headers})

    async def keys(self) -> list[dict[str, Any]]:
        return (await self.call("GET", "/keys"))["data"]

    async def server_names(self) -> dict[str, str]:
        return {server["id"]: server["name"] for server in await self.servers()}

    async def create_key(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "/keys", body)

    async def revoke_key(self, key_id: str) -> dict[str, Any]:
        return await self.call("DELETE", f"/keys/{key_id}")

    async def oauth_clients(self) -> list[dict[str, Any]]:
        return (await self.call("GET", "/oauth/clients"))["data"]

    async def oauth_grants(
        self, client_id: str | None, key_id: str | None, state: GrantState | None
    ) -> list[dict[str, Any]]:
        wanted = {"clientId": client_id, "keyId": key_id, "state": state}
        query = urlencode({name: value for name, value in wanted.items() if value is not None})
        return (await self.call("GET", f"/oauth/grants?{query}"))["data"]

    async def revoke_oauth_client(self, client_id: str) -> dict[str, Any]:
        return await self.call("DELETE", f"/oauth/clients/{quote(client_id, safe='')}")  # may be an https URL

    async def revoke_oauth_grant(self, grant_id: str) -> dict[str, Any]:
        return await self.call("DELETE", f"/oauth/grants/{quote(grant_id, safe='')}")


class DatabaseBackend:
    """The registry itself, for when no gateway is running; tool lists need a running gateway."""

    def __init__(self, registry: Registry, settings: GatewaySettings) -> None:
        self.registry = registry
        self.settings = settings
        static_key = settings.api_key.get_secret_value() if settings.api_key else None
        self.auth = Authenticator(KeyStore(registry.database), static_key=static_key)  # it may stand behind a grant
        self.oauth = OAuthStore(registry.database, registry.box)

    async def keys(self) -> list[dict[str, Any]]:
        return [_key_view(key) for key in await self.auth.keys()]

    async def server_names(self) -> dict[str, str]:
        """Every virtual server's name by id, the config file's included."""
        servers = [*await self.registry.all_servers(), *map(VirtualServer.from_settings, self.settings.servers)]
        return {server.id: server.name for server in servers}

    async def create_key(self, body: dict[str, Any]) -> dict[str, Any]:
        servers = body.get("servers")
        if servers is not None:
            known = {name: server_id for server_id, name in (await self.server_names()).items()}
            unknown = [name for name in servers if name not in known and name not in known.values()]
            if unknown:
                raise CommandError(f"unknown virtual servers: {', '.join(unknown)}")
            servers = [known.get(name, name) for name in servers]
        expires = datetime.fromisoformat(body["expiresAt"]) if body.get("expiresAt") else None
        secret, key = await self.auth.create(body["name"], body["scopes"], servers, expires)
        return {**_key_view(key), "key": secret}

    async def revoke_key(self, key_id: str) -> dict[str, Any]:
        return _key_view(await self.auth.revoke(key_id))

    async def _oauth_records(self) -> OAuthRecords:
        await self.auth.load()  # which keys are valid: a grant of one that is not shows as revoked
        return OAuthRecords(self.oauth, self.auth, await self.server_names())

    async def oauth_clients(self) -> list[dict[str, Any]]:
        return [client.model_dump(mode="json") for client in await (await self._oauth_records()).clients()]

    async def oauth_grants(
        self, client_id: str | None, key_id: str | None, state: GrantState | None
    ) -> list[dict[str, Any]]:
        grants = await (await self._oauth_records()).grants(client_id, key_id, state)
        return [grant.model_dump(mode="json") for grant in grants]

    async def revoke_oauth_client(self, client_id: str) -> dict[str, Any]:
        revoked = await self.oauth.remove_client(client_id, datetime.now(UTC))
        return {"clientId": client_id, "revokedGrants": revoked}

    async def revoke_oauth_grant(self, grant_id: str) -> dict[str, Any]:
        grant = await self.oauth.revoke_grant(grant_id, datetime.now(UTC))
        return (await (await self._oauth_records()).show(grant)).model_dump(mode="json")

    async def upstreams(self) -> list[dict[str, Any]]:
        declared = [
            {"name": s.name, "kind": s.kind, "source": "config", "enabled": s.enabled} for s in self.settings.upstreams
        ]
        stored = [_upstream_view(r.spec) for r in await self.registry.upstreams()]
        return declared + stored

    async def add_upstream(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            spec = _SPEC.validate_python(body)
        except ValidationError as exc:
            raise CommandError(f"invalid upstream: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
        if not UPSTREAM_NAME.match(spec.name):
            raise CommandError(f"upstream name {spec.name!r} must be {UPSTREAM_NAME_RULE}")
        if isinstance(spec, CollectionUpstream):
            from mcpgate.catalogs.collections import load_collection  # only for collections

            await load_collection(spec, fetch_seconds=self.settings.timeouts.connect)  # as the API does
        if isinstance(spec, OpenAPICatalogUpstream) and not spec.is_own_api:
            # As the API does: a document that cannot be served is refused before it is stored.
            timeouts = self.settings.timeouts
            from mcpgate.catalogs.openapi import load_openapi_catalog  # httpx, YAML: only for catalogs

            server = await load_openapi_catalog(spec, connect_timeout=timeouts.connect, call_timeout=timeouts.call)
            if server.api is not None:
                await server.api.aclose()
        return _upstream_view((await self.registry.add_upstream(spec)).spec)

    async def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        spec = (await self.registry.upstream(name)).spec
        return _upstream_view((await self.registry.replace_upstream(spec.model_copy(update={"enabled": enabled}))).spec)

    async def remove_upstream(self, name: str) -> None:
        await self.registry.remove_upstream(name)

    async def servers(self) -> list[dict[str, Any]]:
        return [_server_view(s) for s in await self.registry.all_servers()]

    async def create_server(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            wire = ServerCreate.model_validate(body)
        except ValidationError as exc:
            raise CommandError(f"invalid server: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
        return _server_view(await self.registry.add_server(new_server(wire)))

    async def _server(self, ident: str) -> VirtualServer:
        for server in await self.registry.all_servers():
            if ident in (server.id, server.name):
                return server
        raise CommandError(f"no virtual server {ident!r}")

    async def server_config(self, ident: str) -> dict[str, Any]:
        server = await self._server(ident)
        return {**_server_view(server), "tools": [], "note": "the gateway is not running: tools are not listed"}

    async def delete_server(self, ident: str) -> None:
        await self.registry.remove_server((await self._server(ident)).id)

    async def preview(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        found, _ = await ToolPreview(timeout=min(15.0, self.settings.timeouts.connect)).load(url, headers, 0)
        return {"url": mask_url(found.url), "transport": found.transport, "tools": found.tools, "cached": False}


def _key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": sorted(key.scopes),
        "servers": sorted(key.servers) if key.servers is not None else None,
        "state": key.state(datetime.now(UTC)),
        "expiresAt": key.expires_at,
        "lastUsedAt": key.last_used_at,
    }


def _upstream_view(spec: Any) -> dict[str, Any]:
    view = {"name": spec.name, "kind": spec.kind, "source": "api", "enabled": spec.enabled, "state": "not running"}
    if spec.kind == "stdio":
        return {**view, "command": " ".join([spec.command, *spec.args]), "env": mask(spec.env)}
    if spec.kind == "openapi":
        return {**view, "spec": mask_url(spec.spec) if "://" in spec.spec else spec.spec, "headers": mask(spec.headers)}
    if spec.kind == "collection":
        location = mask_url(spec.location) if "://" in spec.location else spec.location
        return {**view, "location": location, "record": spec.record}
    return {**view, "url": mask_url(spec.url), "headers": mask(spec.headers)}


def _server_view(server: VirtualServer) -> dict[str, Any]:
    return {
        "id": server.id,
        "name": server.name,
        "mode": server.mode,
        "description": server.description,
        "selectedTools": list(server.selected_tools),
        "isPublic": server.is_public,
        "source": server.source,
    }


# -- the commands ------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    try:
        return anyio.run(_run, args)
    except (CommandError, GatewayError) as exc:
        print(f"mcpgate: error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


async def _run(args: argparse.Namespace) -> int:
    # The environment alone goes through the same checks as a file: one clear line for a bad MCPGATE_* value.
    settings = load_config(args.config) if getattr(args, "config", None) else settings_from_mapping({}, "environment")
    if args.command == "db":
        database = Database(database_url(settings.database_url, settings.data_dir))
        try:
            await prepare_database(database, migrate=True)
            print(f"database {database.shown_url} is at revision {await database.revision()}")
        finally:
            await database.aclose()
        return 0
    headers = {"Authorization": f"Bearer {args.api_key}"} if getattr(args, "api_key", None) else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), headers=headers) as http:
        if not args.offline and await _answers(http, args.gateway):
            return await _dispatch(args, APIBackend(http, args.gateway))
        if not args.offline:
            print(f"mcpgate: no gateway at {args.gateway}; working on the database directly", file=sys.stderr)
        database = Database(database_url(settings.database_url, settings.data_dir))
        try:
            await prepare_database(database, settings.migrate_on_start)
            secret = settings.secret_key.get_secret_value() if settings.secret_key else None
            registry = Registry(database, SecretBox.from_settings(secret, settings.data_dir))
            return await _dispatch(args, DatabaseBackend(registry, settings))
        finally:
            await database.aclose()


async def _answers(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(url.rstrip("/") + "/health", timeout=aiohttp.ClientTimeout(total=3)) as response:
            return response.status in (200, 503)
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _dispatch(args: argparse.Namespace, backend: Backend) -> int:
    command, action = args.command, getattr(args, "action", None)
    try:
        if command == "upstreams" and action == "list":
            rows = await backend.upstreams()
            print_rows(args, rows, ["name", "kind", "source", "enabled", "state", "tools"])
        elif command == "upstreams" and action == "add":
            print_rows(args, [await backend.add_upstream(_upstream_body(args))], ["name", "kind", "state", "tools"])
        elif command == "upstreams" and action in ("enable", "disable"):
            print_rows(args, [await backend.set_enabled(args.name, action == "enable")], ["name", "enabled", "state"])
        elif command == "upstreams" and action == "remove":
            await backend.remove_upstream(args.name)
            print(f"removed upstream {args.name}")
        elif command == "servers" and action == "list":
            print_rows(args, await backend.servers(), ["id", "name", "mode", "source", "isPublic", "selectedTools"])
        elif command == "servers" and action == "create":
            body = {
                "name": args.name,
                "mode": args.mode,
                "selectedTools": [t.strip() for t in args.tools.split(",") if t.strip()],
                "description": args.description,
                "isPublic": args.public,
            }
            print_rows(args, [await backend.create_server(body)], ["id", "name", "mode", "selectedTools"])
        elif command == "servers" and action == "config":
            config = await backend.server_config(args.server)
            if args.json:
                print(json.dumps(config, indent=2, default=str))
            else:
                print_rows(args, config["tools"], ["name", "description"])
        elif command == "servers" and action == "delete":
            await backend.delete_server(args.server)
            print(f"deleted virtual server {args.server}")
        elif command == "preview":
            found = await backend.preview(args.target, _headers(args.header))
            if args.json:
                print(json.dumps(found, indent=2, default=str))
            else:
                print(f"{found['url']} speaks {found['transport']}; {len(found['tools'])} tools")
                print_rows(args, found["tools"], ["name", "description"])
        elif command == "keys" and action == "list":
            keys = _with_server_names(await backend.keys(), await backend.server_names(), args.json)
            print_rows(args, keys, ["id", "name", "prefix", "scopes", "servers", "state", "lastUsedAt"])
        elif command == "keys" and action == "create":
            body: dict[str, Any] = {
                "name": args.name,
                "scopes": [s.strip() for s in args.scopes.split(",") if s.strip()],
            }
            if args.servers:
                body["servers"] = [s.strip() for s in args.servers.split(",") if s.strip()]
            if args.expires_in_days:
                body["expiresAt"] = (datetime.now(UTC) + timedelta(days=args.expires_in_days)).isoformat()
            created = await backend.create_key(body)
            if args.json:
                print(json.dumps(created, indent=2, default=str))
            else:
                print(f"created key {created['name']} ({created['id']}); the secret is shown this once:")
                print(created["key"])
        elif command == "keys" and action == "revoke":
            print_rows(args, [await backend.revoke_key(args.key_id)], ["id", "name", "state"])
        elif command in ("oauth", "accounts"):
            from mcpgate.manage_oauth import accounts, oauth

            await (oauth if command == "oauth" else accounts)(args, backend)
        elif command == "import":
            failures = 0
            for name, spec in _claude_servers(args.file).items():
                try:
                    added = await backend.add_upstream(upstream_from_claude(name, spec, str(args.file)))
                    print(f"imported {added['name']} ({added['kind']})")
                except (CommandError, GatewayError) as exc:
                    failures += 1
                    print(f"skipped {name}: {getattr(exc, 'message', exc)}", file=sys.stderr)
            return 1 if failures else 0
    except NotFound as exc:
        raise CommandError(exc.message) from None
    return 0


def _collection_body(args: argparse.Namespace) -> dict[str, Any]:
    location = args.collection
    if "://" not in location:
        location = str(Path(location).expanduser().resolve())  # the gateway may run elsewhere than this shell
    body: dict[str, Any] = {"name": args.name, "kind": "collection", "location": location}
    optional = {
        "record": args.record,
        "idField": args.id_field,
        "titleField": args.title_field,
        "categoryField": args.category_field,
        "textFields": args.text_field,
        "headers": _headers(args.header) or None,
    }
    return body | {key: value for key, value in optional.items() if value is not None}


def _upstream_body(args: argparse.Namespace) -> dict[str, Any]:
    command = args.server_command[1:] if args.server_command[:1] == ["--"] else args.server_command
    if sum(map(bool, (command, args.upstream_url, args.openapi, args.collection))) != 1:
        raise CommandError("give one of: the server's command after `--`, --url, --openapi or --collection")
    if args.collection:
        return _collection_body(args)
    if args.openapi:
        spec = args.openapi
        if "://" not in spec and spec != "self":
            spec = str(Path(spec).expanduser().resolve())  # the gateway may run elsewhere than this shell
        body: dict[str, Any] = {"name": args.name, "kind": "openapi", "spec": spec, "headers": _headers(args.header)}
        optional = {
            "baseUrl": args.base_url,
            "guides": str(Path(args.guides).expanduser().resolve()) if args.guides else None,
            "liveTools": args.live_tools,
            "passthroughHeaders": args.passthrough,
        }
        return body | {key: value for key, value in optional.items() if value is not None}
    if command:
        env = dict(item.split("=", 1) for item in args.env if "=" in item)
        return {"name": args.name, "kind": "stdio", "command": command[0], "args": command[1:], "env": env}
    kind = "remote" if args.transport == "auto" else args.transport
    return {"name": args.name, "kind": kind, "url": args.upstream_url, "headers": _headers(args.header)}


def _headers(items: Sequence[str]) -> dict[str, str]:
    headers = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise CommandError(f"--header {item!r}: use 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


def _claude_servers(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    servers = document.get("mcpServers") if isinstance(document, dict) else None
    if not isinstance(servers, dict):
        raise CommandError(f"{path} has no `mcpServers` mapping")
    return servers


def _with_server_names(keys: list[dict[str, Any]], names: dict[str, str], as_json: bool) -> list[dict[str, Any]]:
    """Keys as a person reads them: the servers they may use by name (JSON keeps the ids and adds
    `serverNames`). A server deleted since is shown by its id."""
    rows = []
    for key in keys:
        named = (
            [names.get(server_id, server_id) for server_id in key["servers"]] if key["servers"] is not None else None
        )
        rows.append({**key, "serverNames": named} if as_json else {**key, "servers": named})
    return rows


def print_rows(args: argparse.Namespace, rows: list[dict[str, Any]], columns: list[str]) -> None:
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return
    table = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in table)]) for i, column in enumerate(columns)]
    print("  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip())
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value)) if value and isinstance(value[0], dict) else ",".join(map(str, value))
    if value is None:
        return "-"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
