"""The overview: every upstream's health, open sessions, recent calls and errors, the fleet.

The page refreshes its live part by itself (ui.js fetches `/admin/live` every few seconds and
swaps it in); without scripts it is a page like any other, current when loaded.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse, Response

from mcpgate.admin_ui.page import Page, page
from mcpgate.admin_ui.rendering import PAGE_HEADERS


async def _state(p: Page) -> dict[str, Any]:
    health = await p.api.request("GET", "/health", accept=(503,))
    upstreams = (await p.api.get("/api/v1/upstreams"))["data"] if p.allows("servers:read") else None
    series = p.ui.recent.series() if p.ui.recent is not None else []
    bucket = p.ui.recent.bucket_seconds if p.ui.recent is not None else 10
    last = series[-7:-1]  # the last minute, whole buckets only
    calls = sum(c for c, _ in last)
    errors = sum(e for _, e in last)
    peak = max((c for c, _ in series), default=0)
    return {
        "health": health,
        "upstreams": upstreams,
        "series": series,
        "bucket": bucket,
        "peak": peak,
        "rate": calls / (bucket * len(last)) if last else 0.0,
        "error_rate": errors / calls if calls else 0.0,
        "ten_minutes": (sum(c for c, _ in series), sum(e for _, e in series)),
    }


@page()
async def overview(p: Page) -> Response:
    return p.render("overview.html", **await _state(p))


@page(fragment=True)
async def live(p: Page) -> Response:
    html = p.ui.pages.fragment("overview_live.html", signed=p.signed, root=p.root, **await _state(p))
    return HTMLResponse(html, headers=PAGE_HEADERS)


ROUTES = [("", overview, ["GET"]), ("/live", live, ["GET"])]
