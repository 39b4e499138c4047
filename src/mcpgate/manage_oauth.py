"""The management commands of OAuth: the built-in server's clients and grants (`mcpgate oauth …`),
and accounts at upstreams that want OAuth (`mcpgate accounts …`). Apart from manage.py, which runs
them, so that each module stays one idea."""

from __future__ import annotations

import argparse
import json
import sys

from mcpgate.manage import APIBackend, Backend, CommandError, DatabaseBackend, print_rows

_OFFLINE_REVOCATION = (
    "mcpgate: revoked in the database only: refresh tokens stop at once, but access tokens a running "
    "gateway has already accepted keep working until they expire (oauth.access_token_seconds); "
    "revoke through the gateway to stop them at once"
)


async def accounts(args: argparse.Namespace, backend: Backend) -> None:
    """Accounts at upstreams that want OAuth: only a running gateway can take the person back
    (its /oauth/callback), so there is no offline form."""
    if not isinstance(backend, APIBackend):
        raise CommandError("accounts: needs the running gateway (the person's browser comes back to it)")
    user = getattr(args, "user", None)
    if args.action == "connect":
        path = (
            f"/users/{user}/connections/{args.upstream}/authorize" if user else f"/upstreams/{args.upstream}/authorize"
        )
        link = (await backend.call("POST", path))["authorizationUrl"]
        who = f"the end user {user}" if user else "the gateway itself"
        if args.json:
            print(json.dumps({"authorizationUrl": link}))
        else:
            print(f"open this link to connect {who} at {args.upstream}:\n{link}")
    elif args.action == "list":
        found = await backend.call("GET", f"/upstreams/{args.upstream}/accounts")
        rows = [{"account": "(the gateway)"}] if found["gateway"] else []
        print_rows(args, rows + [{"account": name} for name in found["users"]], ["account"])
    elif args.action == "disconnect":
        path = (
            f"/users/{user}/connections/{args.upstream}/authorization"
            if user
            else f"/upstreams/{args.upstream}/authorization"
        )
        await backend.call("DELETE", path)
        print(f"disconnected {user or 'the gateway'} at {args.upstream}")


async def oauth(args: argparse.Namespace, backend: Backend) -> None:
    if args.action == "clients":
        columns = ["clientId", "clientName", "tokenEndpointAuthMethod", "activeGrants", "createdAt"]
        print_rows(args, await backend.oauth_clients(), columns)
    elif args.action == "grants":
        grants = await backend.oauth_grants(args.client, args.key, args.state)
        print_rows(args, grants, ["id", "clientName", "keyName", "serverName", "scopes", "state", "createdAt"])
    elif args.action == "revoke-grant":
        revoked = await backend.revoke_oauth_grant(args.grant_id)
        print_rows(args, [revoked], ["id", "clientName", "keyName", "state", "revokedAt"])
    elif args.action == "revoke-client":
        removed = await backend.revoke_oauth_client(args.client_id)
        if args.json:
            print(json.dumps(removed, indent=2))
        else:
            count = len(removed["revokedGrants"])
            print(f"removed OAuth client {removed['clientId']}: {count} grant{'' if count == 1 else 's'} revoked")
    if args.action.startswith("revoke-") and isinstance(backend, DatabaseBackend):
        print(_OFFLINE_REVOCATION, file=sys.stderr)
