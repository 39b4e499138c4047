"""End users: add and remove them, and their connections per upstream — a stored credential
(headers for a remote upstream, env vars for a stdio one), or an account at an upstream that
signs in with OAuth (a link the end user opens). Secrets are write-only: the API masks them.

    /admin/users                the list, a form to add one, remove (confirmed)
    /admin/users/{name}         each upstream: what it wants, what the user has, connect, disconnect
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from mcpgate.admin_ui.api_client import APIError
from mcpgate.admin_ui.page import Page, page
from mcpgate.admin_ui.rendering import PREFIX

REMOTE = ("sse", "streamable_http", "remote")  # kinds with a URL: the ones that may sign in with OAuth
NO_CREDENTIALS = ("collection",)  # read-only records: nothing to connect


def _users_api(name: str, rest: str = "") -> str:
    return f"/api/v1/users/{quote(name, safe='')}{rest}"


# -- the list --------------------------------------------------------------------------------


async def _listing(p: Page, **context: Any) -> Response:
    users = (await p.api.get("/api/v1/users"))["data"]
    context.setdefault("form", {})
    return p.render("users.html", users=users, **context)


@page()
async def users(p: Page) -> Response:
    return await _listing(p)


@page(change=True)
async def add(p: Page) -> Response:
    form = {"name": p.field("name")}
    try:
        added = await p.api.post("/api/v1/users", {"name": form["name"]})
    except APIError as exc:
        return await _listing(p, form=form, error=exc.message)
    return p.redirect(f"{PREFIX}/users/{quote(added['name'], safe='')}", f"User “{added['name']}” added")


@page(change=True)
async def remove(p: Page) -> Response:
    name = p.param("name")
    await p.api.delete(_users_api(name))
    return p.redirect(f"{PREFIX}/users", f"User “{name}” removed, with their stored credentials")


# -- one user --------------------------------------------------------------------------------


async def _user_page(p: Page, **context: Any) -> Response:
    name = p.param("name")
    user = await p.api.get(_users_api(name))
    stored = {c["upstream"]: c for c in (await p.api.get(_users_api(name, "/connections")))["data"]}
    upstreams = (await p.api.get("/api/v1/upstreams"))["data"]
    rows = []
    for upstream in upstreams:
        accounts = None
        if upstream["kind"] in REMOTE:
            # A disabled upstream is not running: the API has no accounts to say of it (404).
            found = await p.api.request(
                "GET", f"/api/v1/upstreams/{quote(upstream['name'], safe='')}/accounts", accept=(404,)
            )
            accounts = found if isinstance(found, dict) and "wantsOAuth" in found else None
        rows.append(
            {
                "upstream": upstream,
                "takes": "env" if upstream["kind"] == "stdio" else "headers",
                "stored": stored.get(upstream["name"]),
                "wants_oauth": bool(accounts and accounts["wantsOAuth"]),
                "account": bool(accounts and name in accounts["users"]),
            }
        )
    connectable = [row for row in rows if row["upstream"]["kind"] not in NO_CREDENTIALS]
    listed = {upstream["name"] for upstream in upstreams}
    for gone in sorted(set(stored) - listed):  # its upstream was removed: still shown, to disconnect
        rows.append({"upstream": {"name": gone, "kind": "removed", "enabled": True}, "stored": stored[gone]})
    context.setdefault("form", {"upstream": p.field("upstream")})  # ?upstream=…: a row's "Add credential"
    return p.render("user.html", user=user, rows=rows, connectable=connectable, **context)


@page()
async def user(p: Page) -> Response:
    return await _user_page(p)


@page(change=True)
async def connect(p: Page) -> Response:
    """Store one credential: the others already stored are sent back masked, so the API keeps them."""
    name = p.param("name")
    form = {"upstream": p.field("upstream"), "name": p.field("credential")}
    value = p.field("value")
    upstreams = {u["name"]: u for u in (await p.api.get("/api/v1/upstreams"))["data"]}
    if form["upstream"] not in upstreams:
        return await _user_page(p, form=form, error="choose an upstream from the list")
    takes = "env" if upstreams[form["upstream"]]["kind"] == "stdio" else "headers"
    if not form["name"] or not value:
        what = "variable" if takes == "env" else "header"
        return await _user_page(p, form=form, error=f"give the {what}'s name and its value")
    path = _users_api(name, f"/connections/{quote(form['upstream'], safe='')}")
    try:
        existing = await p.api.request("GET", path, accept=(404,))
        kept = existing.get(takes, {}) if isinstance(existing, dict) and "upstream" in existing else {}
        await p.api.put(path, {takes: {**kept, form["name"]: value}})
    except APIError as exc:
        return await _user_page(p, form=form, error=exc.message)
    return p.redirect(
        f"{PREFIX}/users/{quote(name, safe='')}", f"Credential {form['name']} for {form['upstream']} saved"
    )


@page(change=True)
async def disconnect(p: Page) -> Response:
    name, upstream = p.param("name"), p.param("upstream")
    await p.api.delete(_users_api(name, f"/connections/{quote(upstream, safe='')}"))
    return p.redirect(f"{PREFIX}/users/{quote(name, safe='')}", f"Credentials for {upstream} forgotten")


@page(change=True)
async def authorize(p: Page) -> Response:
    """A link for the end user to open: it ends at this gateway's /oauth/callback (the API builds it
    from where browsers reach the gateway, which `p.api` is called as)."""
    name, upstream = p.param("name"), p.param("upstream")
    path = _users_api(name, f"/connections/{quote(upstream, safe='')}/authorize")
    try:
        link = await p.api.post(path)
    except APIError as exc:
        return await _user_page(p, oauth_error={"upstream": upstream, "message": exc.message})
    return await _user_page(p, link={"upstream": upstream, "url": link["authorizationUrl"]})


@page(change=True)
async def unauthorize(p: Page) -> Response:
    name, upstream = p.param("name"), p.param("upstream")
    await p.api.delete(_users_api(name, f"/connections/{quote(upstream, safe='')}/authorization"))
    return p.redirect(f"{PREFIX}/users/{quote(name, safe='')}", f"Account at {upstream} disconnected")


ROUTES = [
    ("/users", users, ["GET"]),
    ("/users/new", add, ["POST"]),
    ("/users/{name}", user, ["GET"]),
    ("/users/{name}/remove", remove, ["POST"]),
    ("/users/{name}/connect", connect, ["POST"]),
    ("/users/{name}/connections/{upstream}/disconnect", disconnect, ["POST"]),
    ("/users/{name}/connections/{upstream}/authorize", authorize, ["POST"]),
    ("/users/{name}/connections/{upstream}/unauthorize", unauthorize, ["POST"]),
]
