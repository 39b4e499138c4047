"""The overview: every upstream's health, open sessions, recent calls and errors, the fleet (its
replicas, and the minute's calls and errors of all of them).

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
    recent = p.ui.recent
    series = recent.series() if recent is not None else []
    bucket = recent.bucket_seconds if recent is not None else 10
    peak = max((c for c, _ in series), default=0)
    minute: dict[str, int] = recent.beat_figures() if recent is not None else {}
    # In a fleet the minute's figures are every replica's: the others' as their last beat said
    # (a second or two old), this one's as of now. The chart stays this replica's own.
    figures: dict[str, dict[str, Any]] | None = None
    if p.ui.fleet_figures is not None and "fleet" in health:
        figures = {**p.ui.fleet_figures(), health["fleet"]["replica"]: minute}
    counted = list(figures.values()) if figures is not None else [minute]
    calls = sum(f.get("calls", 0) for f in counted)
    errors = sum(f.get("errors", 0) for f in counted)
    return {
        "health": health,
        "upstreams": upstreams,
        "series": series,
        "bucket": bucket,
        "peak": peak,
        "rate": sum(f.get("calls", 0) / f["seconds"] for f in counted if f.get("seconds")),
        "error_rate": errors / calls if calls else 0.0,
        "figures": figures,
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
