"""Connecting an end user's account at an upstream that wants OAuth, and keeping it connected.

    accounts = UpstreamAccounts(store, box, hub, public_url)
    url = await accounts.start("crm", "ann", base)      # → the upstream's authorization page
    upstream, user = await accounts.finish(code, state)  # its redirect came back to /oauth/callback
    accounts.bearer("crm", "ann")                        # what ann's calls to crm carry

The gateway is the OAuth client: it finds the upstream's authorization server (discovery.py),
registers there once per upstream, sends the person to authorize with PKCE (the SDK's
`PKCEParameters`), and exchanges the code at its callback. The `state` is the pending request
itself, sealed with the registry's key (so any replica can take the callback, and nobody can
alter it); tokens are sealed at rest, kept in memory for calls, and refreshed a couple of
minutes before they expire (by one replica: `claim_refresh`).

Who uses which token:
    a user's calls        their own connection to the upstream, carrying their token
    no user (or one without a token, unless the upstream is `credentialsRequired`)
                          the gateway's own token, when an operator connected the gateway itself
    the shared connection (what lists the upstream's tools for the catalog)
                          the gateway's own token, else the first connected user's
A call with no usable token gets a tool error with the link that connects the account.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import anyio

from mcpgate.errors import ConfigError, NotFound, Unprocessable, UpstreamError, shown_url
from mcpgate.hub.gateway import Hub
from mcpgate.hub.session import CALLER_HEADERS
from mcpgate.store.crypto import SecretBox
from mcpgate.store.upstream_oauth import GATEWAY, UpstreamOAuthStore, UpstreamTokens

if TYPE_CHECKING:
    from mcp.shared.auth import OAuthToken

    from mcpgate.accounts.discovery import AuthorizationServer

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/oauth/callback"
_PENDING_SECONDS = 900  # how long a person has to authorize
_REFRESH_AHEAD = timedelta(seconds=120)
_REFRESH_EVERY_SECONDS = 30.0
_TIMEOUT = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


class UpstreamAccounts:
    def __init__(
        self,
        store: UpstreamOAuthStore,
        box: SecretBox,
        hub: Hub,
        public_url: str | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.box = box
        self.hub = hub
        self.public_url = public_url
        self.clock = clock
        self._tokens: dict[tuple[str, str], UpstreamTokens] = {}
        self._connected: set[str] = set()  # upstreams someone is connected at
        self._lock = anyio.Lock()  # one registration at a time
        # Awaited after a change made here (fleet/shared_state.py tells the other replicas).
        self.on_change: list[Callable[[], Awaitable[None]]] = []

    # -- what calls use ---------------------------------------------------------------------

    def wanted(self, upstream: str) -> bool:
        """Whether `upstream` wants OAuth: it answered 401, or someone connected an account there."""
        connection = self.hub.upstreams.get(upstream)
        if connection is not None and connection.status.authorization_required is not None:
            return True
        return upstream in self._connected  # a set: this is asked on every call

    def bearer(self, upstream: str, user: str | None) -> str | None:
        """The access token `user`'s calls carry (None: the gateway's own), if connected."""
        found = self._tokens.get((upstream, user or GATEWAY))
        return found.access_token if found is not None else None

    async def link(self, upstream: str, user: str | None) -> str:
        """hub.Authorizations: the link for the end user of the call being handled. The gateway's
        own account at an upstream serves everyone: only an operator connects it (the API, the CLI)."""
        if user is None:
            raise Unprocessable(
                f"an operator connects this gateway's own account (`mcpgate accounts connect {upstream}`), "
                "or call as an end user (x-username) to connect yours"
            )
        return await self.start(upstream, user, self.base(getattr(CALLER_HEADERS.get(), "origin", None)))

    def connected(self, upstream: str) -> list[str]:
        """The users connected at `upstream` ("" for the gateway itself)."""
        return sorted(user for up, user in self._tokens if up == upstream)

    # -- connecting ------------------------------------------------------------------------

    def base(self, request_origin: str | None) -> str:
        """Where a person's browser reaches this gateway: `publicUrl`, else where the request came to."""
        return self.public_url or request_origin or "http://127.0.0.1"

    async def start(self, upstream: str, user: str | None, base: str) -> str:
        """The URL where a person authorizes this gateway at `upstream` for `user` (None: for the gateway)."""
        connection = self.hub.upstreams.get(upstream)
        if connection is None:
            raise NotFound(f"no upstream named {upstream!r}")
        url = getattr(connection.spec, "url", None)
        if not isinstance(url, str):
            raise Unprocessable(f"upstream {upstream!r} is not a remote MCP server: it takes no OAuth")
        from mcp.client.auth.oauth2 import PKCEParameters  # the SDK's OAuth client: with the first connection

        from mcpgate.accounts.discovery import requested_scope

        redirect_uri = f"{base}{CALLBACK_PATH}"
        challenge = connection.status.authorization_required
        server, client = await self._registration(upstream, url, challenge, redirect_uri)
        previous = self._tokens.get((upstream, user or GATEWAY))
        scope = requested_scope(server, challenge, previous.scope if previous is not None else None)
        pkce = PKCEParameters.generate()
        state = self.box.seal(
            {
                "upstream": upstream,
                "user": user or GATEWAY,
                "verifier": pkce.code_verifier,
                "redirect_uri": redirect_uri,
                "at": self.clock().timestamp(),
            }
        )
        params = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": redirect_uri,
            "code_challenge": pkce.code_challenge,
            "code_challenge_method": "S256",
            "state": state,
            "resource": server.resource,
            **({"scope": scope} if scope else {}),
        }
        separator = "&" if "?" in server.authorization_endpoint else "?"
        return f"{server.authorization_endpoint}{separator}{urlencode(params)}"

    async def _registration(
        self, upstream: str, url: str, challenge: str | None, redirect_uri: str
    ) -> tuple[AuthorizationServer, dict[str, Any]]:
        """The upstream's authorization server and this gateway's registration there (made once,
        and again if the gateway's callback address changed)."""
        from mcpgate.accounts.discovery import AuthorizationServer, discover, register

        async with self._lock:
            stored = await self.store.registration(upstream)
            if stored is not None and redirect_uri in stored["client"].get("redirect_uris", []):
                return AuthorizationServer.from_dict(stored["server"]), stored["client"]
            server = await discover(url, challenge)
            client = await register(server, redirect_uri, f"mcpgate ({upstream})")
            registration = {"server": server.as_dict(), "client": client.model_dump(mode="json", exclude_none=True)}
            await self.store.keep_registration(upstream, registration, self.clock())
            logger.info("accounts: registered at %s for upstream %s", server.issuer, upstream)
            return server, registration["client"]

    async def finish(self, code: str, state: str) -> tuple[str, str]:
        """Exchange the code the person's browser brought back; (upstream, user) now connected."""
        try:
            pending = self.box.open(state)
        except (ConfigError, ValueError, UnicodeError):
            raise Unprocessable("this authorization link is not valid (altered, or from another gateway)") from None
        at = pending.get("at")
        if not isinstance(at, int | float) or self.clock().timestamp() - at > _PENDING_SECONDS:
            raise Unprocessable("this authorization took too long: start again")
        upstream, user = str(pending["upstream"]), str(pending["user"])
        stored = await self.store.registration(upstream)
        if stored is None:
            raise Unprocessable(f"upstream {upstream!r} has no registration any more: start again")
        from mcpgate.accounts.discovery import AuthorizationServer

        server = AuthorizationServer.from_dict(stored["server"])
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": str(pending["redirect_uri"]),
            "code_verifier": str(pending["verifier"]),
            "resource": server.resource,
        }
        tokens = await self._token_request(server, stored["client"], form)
        await self._keep(upstream, user, tokens)
        logger.info("accounts: %s connected at upstream %s", user or "the gateway", upstream)
        return upstream, user

    async def disconnect(self, upstream: str, user: str | None) -> None:
        await self.store.forget_tokens(upstream, user or GATEWAY)
        self._tokens.pop((upstream, user or GATEWAY), None)
        self._connected = {up for up, _ in self._tokens}
        await self._applied(upstream, user or GATEWAY)
        for listener in self.on_change:
            await listener()

    # -- tokens ----------------------------------------------------------------------------

    async def _token_request(
        self, server: AuthorizationServer, client: Mapping[str, Any], form: dict[str, str]
    ) -> OAuthToken:
        import httpx
        from mcp.shared.auth import OAuthToken
        from pydantic import ValidationError

        from mcpgate.accounts.discovery import oauth_error

        form = {**form, "client_id": str(client["client_id"])}
        headers = {"accept": "application/json"}
        method, secret = client.get("token_endpoint_auth_method"), client.get("client_secret")
        if secret and method == "client_secret_basic":  # RFC 6749 §2.3.1: both form-encoded first
            pair = f"{quote(str(client['client_id']), safe='')}:{quote(str(secret), safe='')}"
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif secret and method != "none":
            form["client_secret"] = str(secret)
        async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http:
            try:
                answer = await http.post(server.token_endpoint, data=form, headers=headers)
            except httpx.HTTPError as exc:
                raise UpstreamError(f"the token endpoint {shown_url(server.token_endpoint)} failed: {exc}") from None
        if answer.status_code != 200:
            raise UpstreamError(
                f"{shown_url(server.token_endpoint)} refused ({answer.status_code}): {oauth_error(answer)}"
            )
        try:
            return OAuthToken.model_validate_json(answer.content)
        except ValidationError:
            raise UpstreamError(f"{shown_url(server.token_endpoint)} answered no usable token") from None

    async def _keep(self, upstream: str, user: str, token: OAuthToken, previous: UpstreamTokens | None = None) -> None:
        now = self.clock()
        kept = UpstreamTokens(
            upstream=upstream,
            user=user,
            access_token=token.access_token,
            # A server that does not rotate refresh tokens leaves the old one valid.
            refresh_token=token.refresh_token or (previous.refresh_token if previous else None),
            scope=token.scope,
            expires_at=now + timedelta(seconds=token.expires_in) if token.expires_in else None,
        )
        await self.store.keep_tokens(kept, now)
        self._tokens[(upstream, user)] = kept
        self._connected.add(upstream)
        await self._applied(upstream, user)
        for listener in self.on_change:
            await listener()

    async def refresh_due(self) -> None:
        """Refresh every token that expires within two minutes (each by one replica only)."""
        now = self.clock()
        for kept in list(self._tokens.values()):
            if kept.expires_at is None or kept.expires_at - now > _REFRESH_AHEAD or not kept.refresh_token:
                continue
            if not await self.store.claim_refresh(kept.upstream, kept.user, now, now + timedelta(seconds=60)):
                continue  # another replica is on it; its result arrives with its announcement
            try:
                await self._refresh(kept)
            except UpstreamError as exc:
                logger.warning(
                    "accounts: refreshing %s's token at upstream %s failed: %s",
                    kept.user or "the gateway",
                    kept.upstream,
                    exc.message,
                )

    async def _refresh(self, kept: UpstreamTokens) -> None:
        stored = await self.store.registration(kept.upstream)
        if stored is None or kept.refresh_token is None:
            return
        from mcpgate.accounts.discovery import AuthorizationServer

        server = AuthorizationServer.from_dict(stored["server"])
        form = {"grant_type": "refresh_token", "refresh_token": kept.refresh_token, "resource": server.resource}
        await self._keep(kept.upstream, kept.user, await self._token_request(server, stored["client"], form), kept)

    async def keep_fresh(self) -> None:
        while True:
            await anyio.sleep(_REFRESH_EVERY_SECONDS)  # a periodic check, not a wait for an event
            try:
                await self.refresh_due()
            except Exception:  # top of a background task: the database may be briefly away
                logger.exception("accounts: refreshing tokens failed")

    async def load(self) -> None:
        """(Re-)read every token; connections whose token changed (another replica refreshed or
        connected it) are given the new one."""
        tokens = {(t.upstream, t.user): t for t in await self.store.tokens()}
        changed = {k for k in tokens.keys() | self._tokens.keys() if tokens.get(k) != self._tokens.get(k)}
        self._tokens = tokens
        self._connected = {up for up, _ in tokens}
        for upstream, user in changed:
            await self._applied(upstream, user)

    async def _applied(self, upstream: str, user: str) -> None:
        """Connections to `upstream` use `user`'s new token: theirs restarts; the shared one
        restarts if the token it lists with changed."""
        if user != GATEWAY:
            self.hub.forget_user(user, upstream)
        lister = self.bearer(upstream, None) or next(
            (self._tokens[(upstream, u)].access_token for u in self.connected(upstream)), None
        )
        headers = {"Authorization": f"Bearer {lister}"} if lister else {}
        await self.hub.authorize_upstream(upstream, headers)
