"""The audit log: tool calls and failed authentications, newest first, filtered and paged.

    /admin/audit?tool=demo_echo&outcome=tool_error     the filters are a GET form: the URL is shareable
    /admin/audit/rows?<the same filters>                the newest page alone, for the live tail

The filters are the API's own (`GET /api/v1/audit`), under its names, and it judges them: what
it refuses is shown above the table in its words. Paging follows the API's cursor (older only);
the way back to newer pages is the trail of cursors the links carry (`back`), as the API has no
cursor towards newer events. "Live" (ui.js) fetches the rows fragment every 2 s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from mcpgate.admin_ui.api_client import APIError
from mcpgate.admin_ui.page import Page, page
from mcpgate.admin_ui.rendering import PAGE_HEADERS

FILTERS = ("kind", "outcome", "keyId", "user", "server", "tool", "since", "until", "limit")
KINDS = [("tool_call", "tool call"), ("auth_failure", "failed authentication")]
OUTCOMES = [
    ("ok", "ok"),
    ("tool_error", "tool error"),
    ("error", "error"),
    ("cancelled", "cancelled"),
    ("denied", "denied (authentication)"),
]
PAGE_SIZES = ("25", "50", "100", "200", "500")
DEFAULT_LIMIT = "50"
LIVE_SECONDS = 2
MAX_TRAIL = 50  # newer pages a "Newer" link can walk back through


def _filters(p: Page) -> dict[str, str]:
    """The filters as the URL has them (empty ones left out), so links keep exactly those."""
    return {name: value for name in FILTERS if (value := p.field(name))}


async def _events(p: Page, filters: dict[str, str], cursor: str) -> dict[str, Any]:
    """One page of the log, and the names its rows refer to by id (virtual servers)."""
    servers = {s["id"]: s["name"] for s in await p.api.every("/api/v1/mcp_manager")}
    params = {**filters, "limit": filters.get("limit", DEFAULT_LIMIT), "cursor": cursor}
    try:
        listing = await p.api.get("/api/v1/audit", params)
    except APIError as exc:
        return {"events": [], "next_cursor": None, "error": exc.message, "server_names": servers}
    return {
        "events": listing["data"],
        "next_cursor": listing["pagination"].get("nextCursor"),
        "server_names": servers,
    }


def _pages(filters: dict[str, str], cursor: str, back: list[str], next_cursor: str | None) -> dict[str, str | None]:
    """The query strings of the newer and older pages (None: there is none)."""
    newer = None
    if cursor:
        before = {"cursor": back[-1], "back": ".".join(back[:-1])} if back else {}
        newer = urlencode({**filters, **{k: v for k, v in before.items() if v}})
    older = None
    if next_cursor:
        trail = [*back, cursor][-MAX_TRAIL:] if cursor else []
        older = urlencode({**filters, "cursor": next_cursor, **({"back": ".".join(trail)} if trail else {})})
    return {"newer": newer, "older": older}


@page()
async def audit(p: Page) -> Response:
    filters = _filters(p)
    cursor = p.field("cursor")
    back = [c for c in p.field("back").split(".") if c.isdigit()]
    found = await _events(p, filters, cursor)
    keys = (await p.api.get("/api/v1/keys"))["data"]
    key_names = [("static", "MCPGATE_API_KEY")] + [
        (k["id"], k["name"] if k["state"] == "active" else f"{k['name']} ({k['state']})") for k in keys
    ]
    if filters.get("keyId") and filters["keyId"] not in dict(key_names):
        key_names.append((filters["keyId"], filters["keyId"]))  # a key since deleted: the form keeps it
    users = [u["name"] for u in (await p.api.get("/api/v1/users"))["data"]]
    current = urlencode(
        {**filters, **({"cursor": cursor} if cursor else {}), **({"back": ".".join(back)} if back else {})}
    )
    return p.render(
        "audit.html",
        filters=filters,
        cursor=cursor,
        live=p.field("live") == "1",
        live_seconds=LIVE_SECONDS,
        fragment_query=urlencode(filters),
        current_query=current,
        kinds=KINDS,
        outcomes=OUTCOMES,
        page_sizes=PAGE_SIZES,
        default_limit=DEFAULT_LIMIT,
        key_names=key_names,
        server_choices=sorted(found["server_names"].items(), key=lambda item: item[1]),
        user_names=users,
        **found,
        **_pages(filters, cursor, back, found["next_cursor"]),
    )


@page(fragment=True)
async def rows(p: Page) -> Response:
    """The newest page with the page's filters: what the live tail swaps in."""
    filters = _filters(p)
    found = await _events(p, filters, "")
    html = p.ui.pages.fragment(
        "audit_rows.html",
        root=p.root,
        filters=filters,
        cursor="",
        **found,
        **_pages(filters, "", [], found["next_cursor"]),
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


ROUTES = [("/audit", audit, ["GET"]), ("/audit/rows", rows, ["GET"])]
