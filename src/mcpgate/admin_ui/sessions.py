"""Who is signed in to the web UI: a key traded for a session cookie, and every change CSRF-checked.

    signed = await sign_ins.sign_in(api_key)        # Unauthorized if the key is not valid
    cookie = signed.cookie                          # HttpOnly, SameSite=Strict, Path=/admin
    signed = await sign_ins.current(request)        # None when not (or no longer) signed in
    sign_ins.check_csrf(signed, submitted_token)    # Forbidden unless it is this session's
    sealer(signed).encrypt(b"...")                  # readable by this session only

The cookie is 256 random bits; the registry keeps its digest and the key it signed in with
(`store/admin_sessions.py`), never the key. Each request looks the key up again, so revoking
the key (or its expiry) signs its browsers out at once, on every replica. The CSRF token is an
HMAC of the cookie: a page of another site cannot read it, and it needs no storage of its own.
SameSite=Strict keeps the cookie off cross-site requests as well; the Host/Origin check in
front of every route is the third line.

With no key configured (the loopback default) nobody signs in: every page is the open
principal's, and the pages say so in a banner.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from starlette.requests import Request

from mcpgate.access.authentication import Authenticator
from mcpgate.access.principal import OPEN, Principal
from mcpgate.errors import Forbidden, Unauthorized
from mcpgate.store.admin_sessions import AdminSession, AdminSessionStore

COOKIE = "mcpgate_admin"
SESSION_HOURS = 12  # then sign in again, whatever the activity


@dataclass(frozen=True, slots=True)
class SignedIn:
    principal: Principal
    csrf: str  # put in every form and sent with every change
    cookie: str | None = None  # the cookie's value: set once, by the sign-in's answer
    expires_at: datetime | None = None


def digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class SignIns:
    def __init__(self, auth: Authenticator, store: AdminSessionStore, hours: float = SESSION_HOURS) -> None:
        self.auth = auth
        self.store = store
        self.lifetime = timedelta(hours=hours)
        # Without sign-in (no key configured) the CSRF token is still checked: bound to this process.
        self._open_csrf = secrets.token_urlsafe(32)

    @property
    def required(self) -> bool:
        return self.auth.enforcing

    async def sign_in(self, api_key: str) -> SignedIn:
        """A new session for the holder of `api_key`; `Unauthorized` (with a reason) if it is not valid."""
        principal = self.auth.authenticate({"x-api-key": api_key.strip()}) if api_key.strip() else None
        if principal is None:
            raise Unauthorized("paste an API key")
        now = datetime.now(UTC)
        cookie = secrets.token_urlsafe(32)
        expires_at = now + self.lifetime
        await self.store.add(AdminSession(digest(cookie), self.auth.key_ref(principal), now, expires_at))
        return SignedIn(principal, _csrf_of(cookie), cookie, expires_at)

    async def current(self, request: Request) -> SignedIn | None:
        """Who this request comes from: None when not signed in, signed out, or the key is no longer valid."""
        if not self.required:
            return SignedIn(OPEN, self._open_csrf)
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        session = await self.store.find(digest(cookie), datetime.now(UTC))
        if session is None:
            return None
        principal = self.auth.holder(session.key_ref)
        if principal is None:  # revoked, expired or changed since: this browser is signed out
            await self.store.remove(session.digest)
            return None
        return SignedIn(principal, _csrf_of(cookie), expires_at=session.expires_at)

    async def sign_out(self, request: Request) -> None:
        if cookie := request.cookies.get(COOKIE):
            await self.store.remove(digest(cookie))

    def check_csrf(self, signed: SignedIn, submitted: str | None) -> None:
        if not submitted or not hmac.compare_digest(submitted, signed.csrf):
            raise Forbidden("this form is stale or came from another site: reload the page and try again")


def sealer(signed: SignedIn) -> Fernet:
    """Seals what this session, and only it, may read back once from a short-lived cookie (a new
    key's secret, across the redirect after its form): keyed by the session's CSRF token, so any
    replica can open it and no other browser can."""
    key = hmac.new(signed.csrf.encode(), b"mcpgate admin seal", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _csrf_of(cookie: str) -> str:
    return hmac.new(cookie.encode(), b"mcpgate admin csrf", hashlib.sha256).hexdigest()
