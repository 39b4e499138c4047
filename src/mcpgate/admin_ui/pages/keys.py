"""API keys: create with scopes, servers and expiry (the secret shown once), list, revoke."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from cryptography.fernet import InvalidToken
from starlette.responses import Response

from mcpgate.access.principal import SCOPES
from mcpgate.admin_ui.api_client import APIError
from mcpgate.admin_ui.page import Page, page
from mcpgate.admin_ui.rendering import PREFIX
from mcpgate.admin_ui.sessions import sealer

NEW_KEY_COOKIE = "mcpgate_admin_new_key"
_SHOWN_WITHIN_SECONDS = 60  # the redirect follows at once; a stale one is not shown

EXPIRY_CHOICES = [
    ("", "never"),
    ("1", "in 1 day"),
    ("7", "in 7 days"),
    ("30", "in 30 days"),
    ("90", "in 90 days"),
    ("365", "in a year"),
]


async def _listing(p: Page, **context: Any) -> Response:
    keys = (await p.api.get("/api/v1/keys"))["data"]
    servers = await p.api.every("/api/v1/mcp_manager")
    names = {server["id"]: server["name"] for server in servers}
    context.setdefault("form", {"scopes": ["tools:call"]})
    status = context.pop("status", 200)
    return p.render(
        "keys.html",
        status,
        keys=keys,
        servers=servers,
        names=names,
        scopes=SCOPES,
        expiry_choices=EXPIRY_CHOICES,
        **context,
    )


@page()
async def keys(p: Page) -> Response:
    created = _created(p)
    answer = await _listing(p, **({"created": created} if created else {}))
    if NEW_KEY_COOKIE in p.request.cookies:
        p.delete_cookie(answer, NEW_KEY_COOKIE)
    return answer


@page(change=True)
async def create(p: Page) -> Response:
    form = {
        "name": p.field("name"),
        "scopes": p.fields("scopes"),
        "servers": p.fields("servers"),
        "expires_in": p.field("expires_in"),
        "expires_on": p.field("expires_on"),
    }
    body: dict[str, Any] = {"name": form["name"], "scopes": form["scopes"]}
    if form["servers"]:
        body["servers"] = form["servers"]
    try:
        if expires := _expiry(form["expires_in"], form["expires_on"]):
            body["expiresAt"] = expires.isoformat()
        created = await p.api.post("/api/v1/keys", body)
    except (APIError, ValueError) as exc:
        message = exc.message if isinstance(exc, APIError) else str(exc)
        return await _listing(p, form=form, error=message)  # the form as sent, and why
    # Post/redirect/get: a reload must not create the key again, and the secret is shown once,
    # from a cookie only this session can open, which the next page removes.
    answer = p.redirect(f"{PREFIX}/keys")
    sealed = sealer(p.signed).encrypt(json.dumps({"name": created["name"], "key": created["key"]}).encode())
    p.set_cookie(answer, NEW_KEY_COOKIE, sealed.decode(), max_age=_SHOWN_WITHIN_SECONDS)
    return answer


def _created(p: Page) -> dict[str, str] | None:
    """The key this session just created, once: its sealed cookie, if it is still fresh."""
    sealed = p.request.cookies.get(NEW_KEY_COOKIE)
    if not sealed:
        return None
    try:
        return json.loads(sealer(p.signed).decrypt(sealed.encode(), ttl=_SHOWN_WITHIN_SECONDS))
    except (InvalidToken, ValueError):
        return None


@page(change=True)
async def revoke(p: Page) -> Response:
    revoked = await p.api.delete(f"/api/v1/keys/{quote(p.param('key_id'), safe='')}")
    return p.redirect(f"{PREFIX}/keys", f"Key “{revoked['name']}” revoked; its sessions were closed")


def _expiry(days: str, on: str) -> datetime | None:
    if on:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise ValueError(f"expiry date {on!r} is not a date (YYYY-MM-DD)") from None
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    if days:
        if not days.isdigit():
            raise ValueError("choose an expiry from the list")
        return datetime.now(UTC) + timedelta(days=int(days))
    return None


ROUTES = [
    ("/keys", keys, ["GET"]),
    ("/keys/new", create, ["POST"]),
    ("/keys/{key_id}/revoke", revoke, ["POST"]),
]
