"""The web UI's routes: sign-in and sign-out here, each area's pages in `pages/`.

    ui = AdminUI(api_app, sign_ins, recent=metrics.recent, fleet_figures=link.figures_of_replicas, public_url=…)
    await ui(scope, receive, send)          # everything under /admin

Starlette's router and requests, no FastAPI: pages are HTML, and what they read and change goes
through the management API (`api_client.py`), which has the models and the checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpgate.admin_ui.page import CROSS_SITE, NOTE_COOKIE, Page, from_another_site, page
from mcpgate.admin_ui.pages import audit, keys, overview, servers, tools, upstreams, users
from mcpgate.admin_ui.rendering import PAGE_HEADERS, PREFIX, Pages
from mcpgate.admin_ui.sessions import COOKIE, SignIns
from mcpgate.edge.metrics import RecentCalls
from mcpgate.errors import Forbidden, Unauthorized


class AdminUI:
    def __init__(
        self,
        api_app: ASGIApp,
        sign_ins: SignIns,
        *,
        recent: RecentCalls | None = None,
        fleet_figures: Callable[[], dict[str, dict[str, Any]]] | None = None,
        public_url: str | None = None,
    ) -> None:
        self.api_app = api_app
        self.sign_ins = sign_ins
        self.recent = recent  # this replica's tool calls of the last minutes (edge/metrics.py)
        self.fleet_figures = fleet_figures  # each replica's last minute, from its heartbeat (fleet/link.py)
        self.pages = Pages()
        self.public_url = public_url.rstrip("/") if public_url else None  # settings.public_url
        self.public_https = bool(public_url and public_url.startswith("https://"))
        routes = [
            Route(f"{PREFIX}/sign-in", self._bound(sign_in_page), methods=["GET", "POST"]),
            Route(f"{PREFIX}/sign-out", self._bound(sign_out), methods=["POST"]),
            Route(f"{PREFIX}/static/{{name}}", lambda request: self.pages.asset(request), methods=["GET"]),
        ]
        for area in (overview, upstreams, tools, servers, keys, users, audit):
            routes += [
                Route(f"{PREFIX}{path}", self._bound(handler), methods=methods)
                for path, handler, methods in area.ROUTES
            ]
        self.router = Router(routes, redirect_slashes=True)

    def _bound(
        self, handler: Callable[[AdminUI, Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(self, request)

        return endpoint

    def origin(self, request: Request) -> str:
        """Where browsers reach this gateway: its public URL when set (a path included, for a proxy
        that serves it below one), else where this request came."""
        return self.public_url or f"{request.url.scheme}://{request.url.netloc}{self.root(request)}"

    def root(self, request: Request) -> str:
        """What browsers see before /admin: the public URL's path when set, else the ASGI root path."""
        if self.public_url:
            return urlsplit(self.public_url).path
        return str(request.scope.get("root_path", ""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.public_https:
            scope = {**scope, "mcpgate.public_https": True}
        await self.router(scope, receive, send)


async def sign_in_page(ui: AdminUI, request: Request) -> Response:
    """A plain form with one secret field, `api_key` (as the OAuth sign-in page), then the cookie."""
    root = ui.root(request)
    after = _local(request.query_params.get("next", ""))
    if not ui.sign_ins.required:
        return RedirectResponse(root + after, status_code=303)
    error = None
    # A refused key re-renders the form with the reason, as a page (200): a 401 would only add a
    # browser console error to what the page already says. A cross-site attempt is a 403.
    status = 200
    if request.method == "POST":
        form = await request.form()
        after = _local(str(form.get("next", "")))
        try:
            if from_another_site(request):  # a page elsewhere signing this browser in to its own key
                raise Forbidden(CROSS_SITE)
            signed = await ui.sign_ins.sign_in(str(form.get("api_key", "")))
        except Unauthorized as exc:
            error = exc.message
        except Forbidden as exc:
            status, error = 403, exc.message
        else:
            answer = RedirectResponse(root + after, status_code=303)
            assert signed.cookie is not None and signed.expires_at is not None
            answer.set_cookie(
                COOKIE,
                signed.cookie,
                expires=signed.expires_at,
                path=root + PREFIX,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https" or ui.public_https,
            )
            return answer
    note = request.cookies.get(NOTE_COOKIE)
    shown = unquote(note)[:300] if note else None
    answer = ui.pages.render(request, "sign_in.html", None, status, error=error, next=after, note=shown, root=root)
    if note:
        answer.delete_cookie(NOTE_COOKIE, path=root + PREFIX)
    return answer


@page(change=True)
async def sign_out_page(p: Page) -> Response:
    await p.ui.sign_ins.sign_out(p.request)
    answer = p.redirect(f"{PREFIX}/sign-in", "Signed out")
    answer.delete_cookie(COOKIE, path=p.root + PREFIX)
    return answer


async def sign_out(ui: AdminUI, request: Request) -> Response:
    return await sign_out_page(ui, request)


def _local(target: str) -> str:
    """Where to go after signing in: a page of this UI, never another site (an open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(f"{PREFIX}") or "\\" in target:
        return PREFIX
    return target


__all__ = ["PAGE_HEADERS", "AdminUI"]
