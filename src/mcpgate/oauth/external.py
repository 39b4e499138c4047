"""Another issuer's JWT access tokens, checked as a resource server checks them (RFC 9068, RFC 8725).

    async with ExternalIssuer(settings.oauth, hub) as external:
        principal, user = await external.judge(token, resource, base)     # or Unauthorized

The issuer's keys are its published JWKS, found through its metadata (RFC 8414, else OpenID
Connect discovery) and kept in memory. A token signed with a key not seen yet fetches them again
— at most once per `_REFETCH_SECONDS`, so a rotation is picked up at once and forged key ids
cannot make the gateway fetch per request — and keys older than `_MAX_AGE_SECONDS` are fetched
again at the next token, so a key the issuer withdrew stops working. Start-up does not wait for
the issuer: the keys are first fetched in the background, and while the issuer cannot be reached
tokens are refused saying so (and it is tried again at most once per `_REFETCH_SECONDS`).

A token is taken when it is signed by one of those keys under an asymmetric algorithm (never
`none`, never an HMAC keyed with something public), `iss` is the issuer, `exp` has not passed and
`nbf` has (a minute's leeway either way), and `aud` names this gateway (`oauth.audience`: every
endpoint) or the endpoint's own resource (a token for one virtual server is taken there only).
Its scopes are those of `scope` / `scp` that this resource advertises — an issuer's `admin` means
nothing here, tokens act at the tool endpoints only — and its end user is the `oauth.userClaim`
claim (`sub` unless set), which per-user connections are chosen by without `x-username`.

`typ` need not be `at+jwt` (RFC 9068 asks it, most issuers send `JWT`); an ID token is kept out
by its `aud`, the client's id, unless `oauth.audience` names that client.

Deliberately not here: opaque tokens (introspection, RFC 7662), encrypted tokens, revocation (a
JWT holds until it expires: the issuer should keep them short-lived).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from mcpgate.access.principal import USERNAME, Principal
from mcpgate.errors import Unauthorized
from mcpgate.hub.gateway import Hub
from mcpgate.oauth.endpoints import SCOPES_SUPPORTED
from mcpgate.oauth.resources import AUTHORIZATION_SERVER_METADATA, Resource, resource_from_url
from mcpgate.settings import OAuthSettings

logger = logging.getLogger(__name__)

# The signature algorithms taken, each with the key type it needs.
_ALGORITHMS = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), "RSA"),
    **dict.fromkeys(("ES256", "ES384", "ES512"), "EC"),
    **dict.fromkeys(("EdDSA", "Ed25519"), "OKP"),
}
_KEY_TYPES = frozenset(_ALGORITHMS.values())  # no "oct": a symmetric key is never taken
_SCOPES = frozenset(SCOPES_SUPPORTED)
_OPENID_CONFIGURATION = "/.well-known/openid-configuration"
_LEEWAY_SECONDS = 60  # clocks of the issuer and the gateway may differ this much
_REFETCH_SECONDS = 10.0
_MAX_AGE_SECONDS = 3600.0
_FETCH_SECONDS = 5.0  # for each document, however slowly it trickles in
_MAX_DOCUMENT_BYTES = 512 * 1024


class _Unreachable(Exception):
    """The issuer's metadata or keys could not be had; the message says where and why."""


class ExternalIssuer:
    """bearer.TokenJudge for `oauth.mode: external`. `clock` (Unix seconds) times both the
    tokens and the fetches."""

    def __init__(self, settings: OAuthSettings, hub: Hub, clock: Callable[[], float] = time.time) -> None:
        assert settings.issuer is not None, "oauth mode 'external' needs an issuer"
        self.issuer = settings.issuer  # without a trailing slash (settings.public_url)
        self.settings = settings
        self.hub = hub  # resolves an `aud` that names one of this gateway's virtual servers
        self.clock = clock
        self._http = httpx.AsyncClient(
            timeout=_FETCH_SECONDS, follow_redirects=True, headers={"accept": "application/json"}
        )
        self._tasks = anyio.create_task_group()
        self._lock = anyio.Lock()  # one fetch at a time; the requests that need it wait for it
        self._keys: list[Key] = []
        self._jwks_uri: str | None = None
        self._loaded_at = -math.inf  # the last fetch that worked
        self._failed_at = -math.inf  # the last that did not, and why
        self._failure: str | None = None
        self._refetched_at = -math.inf  # the last fetch an unknown key caused

    async def __aenter__(self) -> ExternalIssuer:
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._first_fetch)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._tasks.cancel_scope.cancel()
        try:
            await self._tasks.__aexit__(exc_type, exc, tb)
        finally:
            await self._http.aclose()

    async def judge(self, token: str, resource: Resource, base: str) -> tuple[Principal, str | None]:
        """bearer.TokenJudge: the principal a valid token is at `resource`, and its end user."""
        claims = await self._verified(token)
        self._check_issuer_and_times(claims)
        servers = self._servers(claims, resource, base)
        claim = self.settings.user_claim
        user = claims.get(claim)
        if user is None:
            raise Unauthorized(f"the access token carries no {claim!r} claim to name its user by")
        if not isinstance(user, str) or not USERNAME.fullmatch(user):  # `$` would let a final newline by
            raise Unauthorized(
                f"the access token's {claim!r} claim is not a user name: 1-128 letters, digits or . _ @ + - characters"
            )
        subject = claims.get("sub")
        # Short enough for the audit log's key column, and the same for every token of the subject.
        holder = hashlib.sha256(f"{self.issuer}\n{subject if isinstance(subject, str) else user}".encode()).hexdigest()
        return Principal("oauth", f"ext:{holder[:32]}", user, _scopes(claims), servers), user

    # -- the token -----------------------------------------------------------------------

    async def _verified(self, token: str) -> dict[str, Any]:
        """The claims of `token` once its signature is found to be the issuer's."""
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError):
            raise Unauthorized("the access token is not a signed JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in _ALGORITHMS:
            raise Unauthorized(f"the access token's algorithm is not one taken here: {', '.join(_ALGORITHMS)}")
        if kid is not None and not isinstance(kid, str):
            raise Unauthorized("the access token's key id (kid) is not a string")
        key = await self._key(kid, alg)
        try:
            return jwt.decode(token, key, algorithms=[alg]).claims
        except (JoseError, ValueError):
            raise Unauthorized("the access token's signature is not valid") from None

    def _check_issuer_and_times(self, claims: dict[str, Any]) -> None:
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or issuer.rstrip("/") != self.issuer:
            raise Unauthorized(f"the access token was not issued by {self.issuer}")
        now = self.clock()
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not _is_time(expires):
            raise Unauthorized("the access token has no expiry time (exp)")
        if now >= expires + _LEEWAY_SECONDS:
            raise Unauthorized("the access token expired")
        if not_before is not None and not _is_time(not_before):
            raise Unauthorized("the access token's nbf is not a time")
        if not_before is not None and now + _LEEWAY_SECONDS < not_before:
            raise Unauthorized("the access token is not valid yet (nbf)")

    def _servers(self, claims: dict[str, Any], resource: Resource, base: str) -> frozenset[str] | None:
        """The virtual servers the token may use: every one when `aud` names this gateway; the
        endpoint's own when it names the endpoint's resource (under any of its URLs)."""
        given = claims.get("aud")
        audiences = [given] if isinstance(given, str) else given if isinstance(given, list) else []
        audiences = [audience for audience in audiences if isinstance(audience, str)]
        if any(audience in self.settings.audience for audience in audiences):
            return None
        for audience in audiences:
            named = resource_from_url(audience, base, self.hub)
            if named is not None and named.server_id == resource.server_id:
                return None if named.server_id is None else frozenset({named.server_id})
        raise Unauthorized("the access token was issued for another audience")

    # -- the issuer's keys ---------------------------------------------------------------

    async def _key(self, kid: str | None, alg: str) -> Key:
        key = self._find(kid, alg)
        if key is not None and (not self._stale() or self._lock.locked()):
            return key  # keys a little old do while a fetch is under way: it is not waited for
        async with self._lock:
            key = self._find(kid, alg)  # another request may have fetched them meanwhile
            if self._may_fetch(unknown_key=key is None):
                await self._fetch()
                key = self._find(kid, alg)
        if key is not None:
            return key
        if self._failure is not None:
            raise Unauthorized(self._failure)
        raise Unauthorized("the access token is signed with a key the issuer does not publish")

    def _find(self, kid: str | None, alg: str) -> Key | None:
        """The key `kid` names (a token without one: the issuer's only key fit for `alg`)."""
        fitting = [key for key in self._keys if key.key_type == _ALGORITHMS[alg] and key.alg in (None, alg)]
        if kid is not None:
            return next((key for key in fitting if key.kid == kid), None)
        return fitting[0] if len(fitting) == 1 else None

    def _stale(self) -> bool:
        return not _within(self.clock(), self._loaded_at, _MAX_AGE_SECONDS)

    def _may_fetch(self, unknown_key: bool) -> bool:
        now = self.clock()
        if _within(now, self._failed_at, _REFETCH_SECONDS):
            return False  # the issuer could not be reached a moment ago
        if self._stale():
            return True
        if unknown_key and not _within(now, self._refetched_at, _REFETCH_SECONDS):
            self._refetched_at = now
            return True
        return False

    async def _first_fetch(self) -> None:
        """Read the keys before the first token needs them (one that comes first reads them itself)."""
        try:
            self._lock.acquire_nowait()
        except anyio.WouldBlock:
            return
        try:
            await self._fetch()
        except Exception:  # top of a background task: the next token tries again
            logger.exception("OAuth: reading the keys of %s failed", self.issuer)
        finally:
            self._lock.release()

    async def _fetch(self) -> None:
        """Read the issuer's keys, finding where they are first; on failure keep the ones read before."""
        try:
            if self._jwks_uri is None:
                self._jwks_uri = await self._discover()
            keys = _signing_keys(await self._document(self._jwks_uri), self._jwks_uri)
        except _Unreachable as exc:
            self._jwks_uri = None  # it may have moved: the metadata is read again next time
            self._failed_at = self.clock()
            self._failure = f"the keys of the issuer {self.issuer} could not be fetched: {exc}"
            logger.warning("OAuth: %s", self._failure)
            return
        self._keys, self._loaded_at = keys, self.clock()
        self._failed_at, self._failure = -math.inf, None
        logger.info("OAuth: %d signing key(s) of %s read from %s", len(keys), self.issuer, self._jwks_uri)

    async def _discover(self) -> str:
        """The issuer's `jwks_uri`, from the first of its metadata documents that names it."""
        problems: list[str] = []
        for url in _metadata_urls(self.issuer):
            try:
                metadata = await self._document(url)
            except _Unreachable as exc:
                problems.append(str(exc))
                continue
            jwks_uri = metadata.get("jwks_uri")
            named = metadata.get("issuer")
            if not isinstance(named, str) or named.rstrip("/") != self.issuer:
                problems.append(f"{url} names another issuer")
            elif not isinstance(jwks_uri, str) or not _fits(jwks_uri, self.issuer):
                problems.append(f"{url} names no http(s) jwks_uri (https when the issuer is)")
            else:
                return jwks_uri
        raise _Unreachable("; ".join(problems))

    async def _document(self, url: str) -> dict[str, Any]:
        """A JSON object fetched from `url`, within `_FETCH_SECONDS` and `_MAX_DOCUMENT_BYTES`."""
        body = bytearray()
        try:
            with anyio.fail_after(_FETCH_SECONDS):
                async with self._http.stream("GET", url) as answer:
                    if answer.status_code != 200:
                        raise _Unreachable(f"{url} answered {answer.status_code}")
                    async for chunk in answer.aiter_bytes():
                        body += chunk
                        if len(body) > _MAX_DOCUMENT_BYTES:
                            raise _Unreachable(f"{url} sent more than {_MAX_DOCUMENT_BYTES} bytes")
        except TimeoutError:
            raise _Unreachable(f"{url} did not answer within {_FETCH_SECONDS:g} s") from None
        except httpx.HTTPError as exc:
            raise _Unreachable(f"{url} could not be reached ({type(exc).__name__})") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise _Unreachable(f"{url} did not answer JSON") from None
        if not isinstance(document, dict):
            raise _Unreachable(f"{url} did not answer a JSON object")
        return document


def _metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be, in the order the MCP authorization spec tries them:
    RFC 8414 inserts `/.well-known/…` before the issuer's path, OpenID Connect appends it."""
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    if not path:
        return [f"{origin}{AUTHORIZATION_SERVER_METADATA}", f"{origin}{_OPENID_CONFIGURATION}"]
    return [
        f"{origin}{AUTHORIZATION_SERVER_METADATA}{path}",
        f"{origin}{_OPENID_CONFIGURATION}{path}",
        f"{origin}{path}{_OPENID_CONFIGURATION}",
    ]


def _fits(jwks_uri: str, issuer: str) -> bool:
    scheme = urlsplit(jwks_uri).scheme
    return scheme == "https" or (scheme == "http" and urlsplit(issuer).scheme == "http")


def _signing_keys(jwks: dict[str, Any], url: str) -> list[Key]:
    """The public keys for signatures in a JWKS; symmetric keys and ones for encryption are left out."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise _Unreachable(f"{url} is not a JWKS (no `keys` list)")
    keys: list[Key] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in _KEY_TYPES or entry.get("use", "sig") != "sig":
            continue
        try:
            keys.append(JWKRegistry.import_key(entry))
        except (JoseError, ValueError, KeyError, TypeError):
            logger.warning("OAuth: a key in %s could not be read; it is left out", url)
    if not keys:
        raise _Unreachable(f"{url} holds no key for signatures (RSA, EC or OKP)")
    return keys


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    """`scope` (space-separated) and `scp` (a list, or space-separated), of those this resource knows."""
    names: list[str] = []
    for claim in ("scope", "scp"):
        given = claims.get(claim)
        if isinstance(given, str):
            names += given.split()
        elif isinstance(given, list):
            names += [name for name in given if isinstance(name, str)]
    return frozenset(names) & _SCOPES


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _within(now: float, then: float, seconds: float) -> bool:
    """Whether `then` was less than `seconds` ago (a clock set back counts as long ago)."""
    return 0 <= now - then < seconds
