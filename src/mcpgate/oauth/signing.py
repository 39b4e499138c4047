"""The keys the built-in authorization server signs its access tokens with (ES256, joserfc).

A key is made the first time one is needed and kept sealed in the registry, so every replica
signs with keys every other one can check, and a restart keeps tokens valid. Tokens are JWTs
so that a resource server elsewhere (another mcpgate in `external` mode) can check them with
the published JWKS (`/oauth/jwks`); this gateway itself trusts its own tokens by their
digest in the registry, which is what revocation acts on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import anyio
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from mcpgate.store.oauth import OAuthStore

logger = logging.getLogger(__name__)

ALGORITHM = "ES256"
_RELOAD_AFTER_SECONDS = 5.0  # an unknown kid re-reads the registry (another replica's new key) at most this often


class SigningKeys:
    def __init__(self, store: OAuthStore) -> None:
        self.store = store
        self._keys: KeySet = KeySet([])
        self._current: ECKey | None = None
        self._lock = anyio.Lock()
        self._read_at = float("-inf")

    async def load(self) -> None:
        """Read the keys; make the first if there is none."""
        async with self._lock:
            stored = await self.store.signing_keys()
            if not stored:
                key = ECKey.generate_key("P-256", private=True)
                kid = key.thumbprint()
                await self.store.add_signing_key(kid, key.as_dict(private=True), datetime.now(UTC))
                stored = [(kid, key.as_dict(private=True), datetime.now(UTC))]
                logger.info("OAuth: made a signing key %s", kid)
            keys = [ECKey.import_key({**jwk, "kid": kid}) for kid, jwk, _ in stored]
            self._keys = KeySet(keys)
            self._current = keys[-1]  # the newest signs; the older ones still verify

    def sign(self, claims: dict[str, Any]) -> str:
        assert self._current is not None, "load() first"
        return jwt.encode({"alg": ALGORITHM, "kid": self._current.kid, "typ": "at+jwt"}, claims, self._current)

    def published(self) -> dict[str, Any]:
        """The public JWKS."""
        return self._keys.as_dict(private=False)

    async def signed_here(self, token: str) -> bool:
        """Whether `token` carries a valid signature of one of these keys (claims are not judged here)."""
        if self._verifies(token):
            return True
        if anyio.current_time() - self._read_at < _RELOAD_AFTER_SECONDS:
            return False
        self._read_at = anyio.current_time()  # (not at start: replicas starting together may each make a key)
        await self.load()  # another replica may have made a key since
        return self._verifies(token)

    def _verifies(self, token: str) -> bool:
        try:
            jwt.decode(token, self._keys, algorithms=[ALGORITHM])
        except (JoseError, ValueError):
            return False
        return True
