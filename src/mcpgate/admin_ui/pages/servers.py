"""Virtual servers: the list, a form to create or change one (a tool picker grouped by upstream),
one server's page (settings, tools, endpoint URLs, client configurations to paste), delete.

Everything goes through `/api/v1/mcp_manager` and `/api/v1/upstreams` as the signed-in key. The
picker offers every tool of every upstream under the name the gateway exposes it by (the
upstream's `exposedAs` with its own tool name: `demo_echo`), which is what `selectedTools` takes.
Without scripts the picker is the full list, and "Select all" re-renders the form with the
upstream's tools checked (nothing saved); `servers.js` does the same in place, keeps the count,
and shows the search box (ui.js filters the list as you type).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from mcpgate.admin_ui.api_client import APIError
from mcpgate.admin_ui.client_configs import client_configs, example_arguments, rest_base
from mcpgate.admin_ui.page import Page, page
from mcpgate.admin_ui.rendering import PREFIX

API = "/api/v1/mcp_manager"
MODES = ("NORMAL", "SMART")


@page()
async def listing(p: Page) -> Response:
    servers = await p.api.every(API)
    return p.render("servers.html", servers=servers, writable=p.allows("servers:write"))


@page()
async def new_form(p: Page) -> Response:
    if not p.allows("servers:write"):
        return _not_allowed(p)
    return await _form_page(p, None, {"name": "", "description": "", "mode": "NORMAL", "public": False, "tools": []})


@page(change=True)
async def create(p: Page) -> Response:
    form = _sent(p)
    if p.field("select"):
        return await _form_page(p, None, await _toggled(p, form))
    try:
        created = await p.api.post(API, _body(form))
    except APIError as exc:
        return await _form_page(p, None, form, error=exc.message)  # the form as sent, and why
    return p.redirect(f"{PREFIX}/servers/{quote(created['id'], safe='')}", f"Server “{created['name']}” created")


@page()
async def detail(p: Page) -> Response:
    server_id = quote(p.param("server_id"), safe="")
    server = await p.api.get(f"{API}/{server_id}")
    config = await p.api.get(f"{API}/{server_id}/config")
    endpoints = {kind: _absolute(p, url) for kind, url in server["endpoints"].items()}
    needs_key = p.ui.sign_ins.required and not server["isPublic"]
    first = config["tools"][0] if config["tools"] else None
    return p.render(
        "server.html",
        server=server,
        config=config,
        endpoints=endpoints,
        rest=rest_base(endpoints["mcp"]),
        needs_key=needs_key,
        key_configured=p.ui.sign_ins.required,
        configs=client_configs(
            server["name"],
            endpoints,
            needs_key,
            example_tool=first["name"] if first else None,
            example_arguments=example_arguments(first.get("inputSchema")) if first else None,
        ),
        writable=p.allows("servers:write") and server["source"] != "config",
    )


@page()
async def edit_form(p: Page) -> Response:
    server = await p.api.get(f"{API}/{quote(p.param('server_id'), safe='')}")
    if not p.allows("servers:write"):
        return _not_allowed(p)
    form = {
        "name": server["name"],
        "description": server["description"],
        "mode": server["mode"],
        "public": server["isPublic"],
        "tools": list(server["selectedTools"]),
    }
    return await _form_page(p, server, form)


@page(change=True)
async def update(p: Page) -> Response:
    server_id = quote(p.param("server_id"), safe="")
    server = await p.api.get(f"{API}/{server_id}")
    form = _sent(p)
    if p.field("select"):
        return await _form_page(p, server, await _toggled(p, form))
    try:
        changed = await p.api.patch(f"{API}/{server_id}", _body(form))
    except APIError as exc:
        return await _form_page(p, server, form, error=exc.message)
    return p.redirect(f"{PREFIX}/servers/{server_id}", f"Server “{changed['name']}” saved")


@page(change=True)
async def delete(p: Page) -> Response:
    server_id = quote(p.param("server_id"), safe="")
    server = await p.api.get(f"{API}/{server_id}")
    await p.api.delete(f"{API}/{server_id}")
    return p.redirect(f"{PREFIX}/servers", f"Server “{server['name']}” deleted")


# -- the form ---------------------------------------------------------------------------


def _sent(p: Page) -> dict[str, Any]:
    """The form as the person left it: what was typed, and the tools checked, once each, in order."""
    return {
        "name": p.field("name"),
        "description": p.field("description"),
        "mode": p.field("mode"),
        "public": p.field("public") == "on",
        "tools": list(dict.fromkeys(p.fields("tools"))),
    }


def _body(form: dict[str, Any]) -> dict[str, Any]:
    # A mode the API does not know is sent as given, so the API's own words say what is wrong.
    return {
        "name": form["name"],
        "description": form["description"],
        "mode": form["mode"] or "NORMAL",
        "isPublic": form["public"],
        "selectedTools": form["tools"],
    }


async def _toggled(p: Page, form: dict[str, Any]) -> dict[str, Any]:
    """ "Select all" without scripts: every tool of that upstream checked, or none if all were."""
    group = next((g for g in await _tool_groups(p) if g["upstream"] == p.field("select")), None)
    if group is None:
        return form
    names = [tool["name"] for tool in group["tools"]]
    chosen = set(form["tools"])
    if all(name in chosen for name in names):
        tools = [name for name in form["tools"] if name not in set(names)]
    else:
        tools = form["tools"] + [name for name in names if name not in chosen]
    return {**form, "tools": tools}


async def _form_page(
    p: Page, server: dict[str, Any] | None, form: dict[str, Any], error: str | None = None
) -> Response:
    groups = await _tool_groups(p)
    offered = {tool["name"] for group in groups for tool in group["tools"]}
    # Selected tools no upstream lists right now (down, renamed) stay visible and checked, so
    # saving never drops them unseen; the API says so if they are still unknown.
    unlisted = [name for name in form["tools"] if name not in offered]
    return p.render(
        "server_form.html",
        server=server,
        form={**form, "tools": set(form["tools"])},
        selected_count=len(form["tools"]),
        groups=groups,
        unlisted=unlisted,
        modes=MODES,
        error=error,
    )


async def _tool_groups(p: Page) -> list[dict[str, Any]]:
    """Every upstream's tools under the names clients see them by, grouped by upstream."""
    upstreams = (await p.api.get("/api/v1/upstreams"))["data"]
    groups = []
    for upstream in upstreams:
        pattern = upstream.get("exposedAs") or "<tool>"
        tools = [
            {
                "name": pattern.replace("<tool>", tool["name"]),
                "description": tool.get("description") or "",
            }
            for tool in upstream.get("tools") or ()
        ]
        groups.append({"upstream": upstream["name"], "state": upstream.get("state"), "tools": tools})
    return groups


# -- helpers ----------------------------------------------------------------------------


def _absolute(p: Page, url: str) -> str:
    """An endpoint as a client reaches it: the API's path on the address this page came to."""
    if url.startswith(("http://", "https://")):
        return url
    return f"{p.ui.origin(p.request)}{url}"  # the public URL when set (TLS may end at a proxy in front)


def _not_allowed(p: Page) -> Response:
    message = "This key may not change virtual servers: that takes the servers:write scope."
    return p.render("error.html", status=403, status_code=403, message=message)


ROUTES = [
    ("/servers", listing, ["GET"]),
    ("/servers/new", new_form, ["GET"]),
    ("/servers/new", create, ["POST"]),
    ("/servers/{server_id}", detail, ["GET"]),
    ("/servers/{server_id}/edit", edit_form, ["GET"]),
    ("/servers/{server_id}/edit", update, ["POST"]),
    ("/servers/{server_id}/delete", delete, ["POST"]),
]
