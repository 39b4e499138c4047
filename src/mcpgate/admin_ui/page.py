"""One request to a page of the web UI: who is signed in, their view of the management API,
the form they sent, and the answers a page gives (a page, a redirect with a note, an error).

    @page()                               # signed in, any key
    async def keys(p: Page) -> Response:
        return p.render("keys.html", keys=(await p.api.get("/api/v1/keys"))["data"])

    @page(change=True)                    # a POST: CSRF-checked first
    async def revoke(p: Page) -> Response:
        await p.api.delete(f"/api/v1/keys/{p.param('key_id')}")
        return p.redirect("/admin/keys", "Key revoked")

Not signed in: a page redirects to the sign-in page (which brings the person back); a
fragment (fetched by a script) answers 401. What the management API refuses is shown on
the page as the API worded it, with the form as it was sent, so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mcpgate.admin_ui.api_client import APIError, ManagementAPI
from mcpgate.admin_ui.rendering import PAGE_HEADERS, PREFIX
from mcpgate.admin_ui.sessions import SignedIn
from mcpgate.errors import Forbidden, GatewayError

if TYPE_CHECKING:
    from mcpgate.admin_ui.site import AdminUI

CROSS_SITE = "this form came from a page of another site or port: open the gateway's own page and try again"
NOTE_COOKIE = "mcpgate_admin_note"  # a one-time note for the page after a redirect ("Key revoked")
Handler = Callable[["Page"], Awaitable[Response]]


@dataclass
class Page:
    ui: AdminUI
    request: Request
    signed: SignedIn
    api: ManagementAPI
    form: FormData | None = None
    note: str | None = None
    _set_cookies: list[tuple[str, str, int]] = field(default_factory=list)

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def field(self, name: str, default: str = "") -> str:
        """A form field (POST) or query parameter (GET), stripped."""
        source: Any = self.form if self.form is not None else self.request.query_params
        value = source.get(name, default)
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        source: Any = self.form if self.form is not None else self.request.query_params
        return [value.strip() for value in source.getlist(name) if isinstance(value, str) and value.strip()]

    @property
    def root(self) -> str:
        """What browsers see before /admin (AdminUI.root): every link and redirect starts with it."""
        return self.ui.root(self.request)

    def allows(self, scope: str) -> bool:
        return self.signed.principal.allows(scope)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        answer = self.ui.pages.render(
            self.request, template, self.signed, status, note=self.note, root=self.root, **context
        )
        if self.note is not None:
            self.delete_cookie(answer, NOTE_COOKIE)
        return answer

    def redirect(self, path: str, note: str | None = None) -> Response:
        answer = RedirectResponse(f"{self.root}{path}", status_code=303)
        if note:
            self.set_cookie(answer, NOTE_COOKIE, quote(note), max_age=60)
        return answer

    def set_cookie(self, answer: Response, name: str, value: str, max_age: int) -> None:
        """A cookie for this UI's pages only, never sent cross-site nor readable by scripts."""
        answer.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.root + PREFIX,
            httponly=True,
            samesite="strict",
            secure=_secure(self.request),
        )

    def delete_cookie(self, answer: Response, name: str) -> None:
        answer.delete_cookie(name, path=self.root + PREFIX)


def page(
    *, change: bool = False, fragment: bool = False
) -> Callable[[Handler], Callable[[AdminUI, Request], Awaitable[Response]]]:
    """A handler's wrapper: sign-in, CSRF on a change, the API as the person, errors on the page."""

    def wrap(handler: Handler) -> Callable[[AdminUI, Request], Awaitable[Response]]:
        async def handle(ui: AdminUI, request: Request) -> Response:
            signed = await ui.sign_ins.current(request)
            if signed is None:
                if fragment:
                    return Response("signed out: reload the page", status_code=401, headers=PAGE_HEADERS)
                # A page, or a form posted after the session ended: sign in again, then back to the
                # page (a POST's form cannot be kept; it was not applied).
                back = request.url.path
                if request.method == "GET" and request.url.query:
                    back += f"?{request.url.query}"
                elif request.method != "GET":
                    back = request.headers.get("referer", "") or PREFIX
                    back = _local_path(back, ui.root(request))
                target = f"{ui.root(request)}{PREFIX}/sign-in?next={quote(back, safe='')}"
                return RedirectResponse(target, status_code=303)
            form = await request.form() if request.method == "POST" else None
            note_cookie = request.cookies.get(NOTE_COOKIE)
            async with ManagementAPI(ui.api_app, signed.principal, _scheme_and_host(ui.origin(request))) as api:
                p = Page(ui, request, signed, api, form, _unquoted(note_cookie) if note_cookie else None)
                try:
                    if change or request.method not in ("GET", "HEAD"):  # no change slips through unflagged
                        if from_another_site(request):
                            raise Forbidden(CROSS_SITE)
                        ui.sign_ins.check_csrf(signed, p.field("csrf") or request.headers.get("x-csrf-token"))
                    return await handler(p)
                except APIError as exc:
                    return p.render("error.html", status=exc.status, status_code=exc.status, message=exc.message)
                except GatewayError as exc:
                    return p.render(
                        "error.html", status=exc.http_status, status_code=exc.http_status, message=exc.message
                    )

        handle.__name__ = handler.__name__
        return handle

    return wrap


def from_another_site(request: Request) -> bool:
    """A browser says this request was sent by a page of another origin (`Sec-Fetch-Site`): a
    page on another port of the same host is "same-site", which SameSite cookies let through.
    Clients that are not browsers send no such header, and are judged by the key or cookie."""
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


def _scheme_and_host(url: str) -> str:
    """The in-process API's base: httpx would put a path in it before every request's own."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _local_path(referer: str, root: str) -> str:
    """The page a form was posted from, as a path of this UI (sign-in refuses anything else)."""
    parts = urlsplit(referer)
    path = parts.path[len(root) :] if root and parts.path.startswith(root) else parts.path
    return path + (f"?{parts.query}" if parts.query else "")


def _unquoted(value: str) -> str:
    return unquote(value)[:300]


def _secure(request: Request) -> bool:
    """Cookies only over TLS when the page came over TLS (or the gateway's public URL is https)."""
    return request.url.scheme == "https" or bool(request.scope.get("mcpgate.public_https"))
