"""`GET /oauth/callback`: where a person's browser returns from an upstream's authorization
server. No key is needed (the browser has none); what proves the request is its `state`,
sealed by this gateway, and the PKCE verifier only the gateway holds."""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from mcpgate.accounts.service import UpstreamAccounts
from mcpgate.errors import GatewayError

logger = logging.getLogger(__name__)

_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),  # the page's URL holds a code: never sent on
]


class AuthorizationCallback:
    def __init__(self, accounts: UpstreamAccounts) -> None:
        self.accounts = accounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _page(send, 405, "Not here", "This address takes the browser's return from an authorization.")
            return
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        if "error" in query:
            said = " ".join(query.get(k, "")[:200] for k in ("error", "error_description")).strip()
            await _page(send, 400, "Not connected", f"The service did not allow access: {said}.")
            return
        if not query.get("code") or not query.get("state"):
            await _page(send, 400, "Not connected", "This address was opened without an authorization to finish.")
            return
        try:
            upstream, user = await self.accounts.finish(query["code"], query["state"])
        except GatewayError as exc:
            logger.info("accounts: an authorization did not complete: %s", exc.message)
            await _page(send, 400, "Not connected", exc.message)
            return
        who = f"the end user {user}" if user else "this gateway"
        await _page(send, 200, "Connected", f"{upstream} is connected for {who}. You can close this window.")


async def _page(send: Send, status: int, title: str, text: str) -> None:
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · mcpgate</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}</style>"
        f"</head><body><main><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></main></body></html>"
    ).encode()
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": body})
