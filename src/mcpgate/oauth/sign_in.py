"""The page where a person lets a client in: plain HTML, no JavaScript, one secret field `api_key`.

    GET  /oauth/sign-in?request=<sealed>   what the client asks for (its name, the scopes, the
                                           resource, where the person returns to), and a form
    POST /oauth/sign-in                    request, api_key, decision=allow|deny → 303 to the
                                           client's redirect URI with a code (or access_denied)

The authorization request arrives sealed (Fernet, the registry's secret key) by the provider
after the SDK's handler checked it, so nothing the page shows or posts back can be altered, and
any replica can read it. The key must be one the gateway manages (or MCPGATE_API_KEY); the
grant carries at most its scopes and its virtual servers. A wrong key costs nothing but a retry:
keys are 256 random bits.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.provider import construct_redirect_uri
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mcpgate.access.authentication import Authenticator
from mcpgate.access.principal import ALL, SCOPES
from mcpgate.errors import ConfigError, Unauthorized
from mcpgate.hub.gateway import Hub
from mcpgate.oauth.issuer import digest
from mcpgate.store.crypto import SecretBox
from mcpgate.store.oauth import OAuthStore

PAGE_SECONDS = 600  # how long a sign-in page may stay open
CODE_SECONDS = 300  # how long a code waits for its exchange
_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "x-frame-options": "DENY",  # a consent page in someone else's frame is a clickjacking target
    "referrer-policy": "no-referrer",
}


class PendingRequests:
    """Authorization requests waiting for a person's decision, sealed into the page itself."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box

    def seal(self, request: Mapping[str, Any]) -> str:
        sealed = self.box.seal({**request, "at": datetime.now(UTC).timestamp()})
        assert sealed is not None
        return sealed

    def open(self, sealed: str) -> dict[str, Any] | None:
        """The request, or None if it was altered, sealed with another key, or is too old."""
        try:
            request = self.box.open(sealed)
        except (ConfigError, ValueError, UnicodeError):
            return None
        at = request.get("at")
        if not isinstance(at, float | int) or datetime.now(UTC).timestamp() - at > PAGE_SECONDS:
            return None
        return request


class SignInPage:
    def __init__(self, pending: PendingRequests, auth: Authenticator, store: OAuthStore, hub: Hub) -> None:
        self.pending = pending
        self.auth = auth
        self.store = store
        self.hub = hub

    async def handle(self, request: Request) -> Response:
        if request.method == "POST":
            form = await request.form()
            fields = {name: value for name, value in form.items() if isinstance(value, str)}
        else:
            fields = dict(request.query_params)
        sealed = fields.get("request", "")
        pending = self.pending.open(sealed)
        if pending is None:
            return _page(
                "This sign-in link is not valid",
                "<p>It expired or was altered. Start again from your client.</p>",
                status=400,
            )
        if request.method != "POST":
            return _page(*self._form(pending, sealed))
        if fields.get("decision") != "allow":
            return _back(pending, error="access_denied", error_description="the person declined")
        try:
            principal = self.auth.authenticate({"x-api-key": fields.get("api_key", "").strip()})
        except Unauthorized as exc:
            return _page(*self._form(pending, sealed, exc.message), status=400)
        if principal is None or principal.kind not in ("key", "static"):
            return _page(*self._form(pending, sealed, "paste an API key of this gateway"), status=400)
        server_id = pending["server_id"]
        if server_id is not None and server_id not in self.hub.servers:
            return _page(*self._form(pending, sealed, "that virtual server no longer exists"), status=400)
        if not principal.may_use(server_id):
            where = "this virtual server" if server_id else "the default endpoint (it reaches every tool)"
            return _page(*self._form(pending, sealed, f"this key may not use {where}"), status=403)
        asked = frozenset(pending["scopes"])
        granted = asked if ALL in principal.scopes or "admin" in principal.scopes else asked & principal.scopes
        if "tools:call" not in granted:
            return _page(*self._form(pending, sealed, "this key lacks the scope 'tools:call'"), status=403)
        code = secrets.token_urlsafe(32)
        await self.store.add_code(
            digest(code),
            datetime.now(UTC) + timedelta(seconds=CODE_SECONDS),
            {
                "client_id": pending["client_id"],
                "client_name": pending["client_name"],
                "redirect_uri": pending["redirect_uri"],
                "explicit": pending["explicit"],
                "challenge": pending["challenge"],
                "resource": pending["resource"],
                "server_id": server_id,
                "scopes": sorted(granted),
                "key_ref": self.auth.key_ref(principal),
                "issuer": pending["issuer"],
            },
        )
        return _back(pending, code=code)

    def _form(self, pending: Mapping[str, Any], sealed: str, error: str | None = None) -> tuple[str, str]:
        client = html.escape(pending["client_name"])
        client_id = pending["client_id"]
        shown_id = f" <small>({html.escape(client_id)})</small>" if client_id != pending["client_name"] else ""
        scopes = "".join(
            f"<li><code>{html.escape(scope)}</code> — {html.escape(SCOPES.get(scope, 'unknown scope'))}</li>"
            for scope in pending["scopes"]
        )
        server = self.hub.servers.get(pending["server_id"]) if pending["server_id"] else None
        target = f"the virtual server <strong>{html.escape(server.name)}</strong>" if server else "every tool"
        returns = urlsplit(pending["redirect_uri"])
        alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        body = f"""{alert}
<dl>
<dt>Client</dt><dd>{client}{shown_id}</dd>
<dt>Asks for</dt><dd><ul>{scopes}</ul></dd>
<dt>On</dt><dd>{target} <small>({html.escape(pending["resource"])})</small></dd>
<dt>Then returns to</dt><dd>{html.escape(f"{returns.scheme}://{returns.netloc}{returns.path}")}</dd>
</dl>
<form method="post" action="sign-in">
<input type="hidden" name="request" value="{html.escape(sealed)}">
<label for="api_key">API key</label>
<input id="api_key" name="api_key" type="password" autocomplete="off" required aria-describedby="key-help">
<p id="key-help" class="help">Paste an API key of this gateway. The client gets at most what this key may do,
until the key or this grant is revoked.</p>
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate class="secondary">Deny</button>
</div>
</form>"""
        return f"Allow {client} to use this gateway?", body


def _back(pending: Mapping[str, Any], **params: str) -> Response:
    """Back to the client's redirect URI (303: the browser follows a POST's answer with a GET)."""
    url = construct_redirect_uri(pending["redirect_uri"], state=pending.get("state"), **params)
    return RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})


def _page(title: str, body: str, status: int = 200) -> Response:
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · mcpgate</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}}
main{{max-width:34rem;margin:2rem auto;padding:1.5rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}}
h1{{font-size:1.3rem;margin-top:0}} dt{{font-weight:600;margin-top:.6rem}} dd{{margin:0}}
ul{{margin:.2rem 0;padding-left:1.2rem}}
small,.help{{color:#57606a}} label{{display:block;font-weight:600;margin-top:1rem}}
input[type=password]{{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;
border:1px solid #8c959f;border-radius:6px}}
input:focus,button:focus{{outline:3px solid #0969da;outline-offset:2px}}
.actions{{display:flex;gap:.75rem;margin-top:1rem}}
button{{font:inherit;padding:.5rem 1.2rem;border-radius:6px;border:1px solid #1f6feb;background:#0b5cd5;
color:#fff;cursor:pointer}}
button.secondary{{background:#fff;color:#24292f;border-color:#8c959f}}
.error{{background:#ffebe9;border:1px solid #cf222e;color:#82071e;padding:.5rem .75rem;border-radius:6px}}
</style></head>
<body><main><h1>{title}</h1>
{body}
</main></body></html>""",
        status_code=status,
        headers=_HEADERS,
    )
