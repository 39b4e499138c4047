"""An authorization server as a resource server sees one — its metadata, its JWKS, and access
tokens signed with its keys — served on loopback for tests of `oauth.mode: external`.

    async with running_issuer() as issuer:
        token = issuer.token(aud="https://gateway.test", sub="alice")
        issuer.rotate()                     # a new key under a new kid; the old one withdrawn
        issuer.down = True                  # every document answers 503
"""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, Key, OctKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import serve_asgi

OPENID = "/.well-known/openid-configuration"
RFC8414 = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/keys/jwks.json"


def new_key(kind: str = "EC") -> Key:
    """A private key named by its thumbprint: ES256 (EC P-256) or RS256 (RSA 2048)."""
    key: Key = ECKey.generate_key("P-256", private=True) if kind == "EC" else RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    return key


def _algorithm(key: Key) -> str:
    return "ES256" if key.key_type == "EC" else "RS256"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass
class IssuerApp:
    path: str = ""  # the issuer's path under its origin ("/tenant"), if any
    metadata_at: str = OPENID  # OPENID (appended to the issuer) or RFC8414 (inserted before its path)
    keys: list[Key] = field(default_factory=lambda: [new_key()])  # published; the last one signs
    down: bool = False
    fetched: Counter[str] = field(default_factory=Counter)  # path → GETs answered
    origin: str = ""  # set once served

    @property
    def url(self) -> str:
        """The issuer identifier (`iss`)."""
        return f"{self.origin}{self.path}"

    @property
    def jwks_fetches(self) -> int:
        return self.fetched[JWKS_PATH]

    def metadata_path(self) -> str:
        return f"{self.path}{OPENID}" if self.metadata_at == OPENID else f"{RFC8414}{self.path}"

    def rotate(self, keep_old: bool = False) -> Key:
        key = new_key()
        self.keys = [*self.keys, key] if keep_old else [key]
        return key

    def claims(self, **claims: Any) -> dict[str, Any]:
        """Claims of a token that is good for one minute; a claim given as None is left out."""
        now = int(time.time())
        defaults = {"iss": self.url, "sub": "alice", "scope": "tools:call", "iat": now, "exp": now + 60}
        return {name: value for name, value in {**defaults, **claims}.items() if value is not None}

    def token(self, key: Key | None = None, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """An access token signed with `key` (default: the issuer's current key)."""
        key = key or self.keys[-1]
        signing = {"alg": _algorithm(key), "kid": key.kid, "typ": "at+jwt", **(header or {})}
        return jwt.encode(signing, self.claims(**claims), key, algorithms=[signing["alg"]])

    def unsigned(self, **claims: Any) -> str:
        """A token with `alg: none` (what a forger sends when a verifier might take it)."""
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(self.claims(**claims))}."

    def hmac_with_public_key(self, **claims: Any) -> str:
        """HS256 keyed with the issuer's published key: a verifier that let the token choose the
        algorithm would take it as the issuer's."""
        key = self.keys[-1]
        secret = OctKey.import_key(json.dumps(key.as_dict(private=False)).encode())
        header = {"alg": "HS256", "kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(header, self.claims(**claims), secret, algorithms=["HS256"])

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._answer)])

    async def _answer(self, request: Request) -> Response:
        path = request.url.path
        self.fetched[path] += 1
        if self.down:
            return JSONResponse({"error": "temporarily_unavailable"}, 503)
        if path == self.metadata_path():
            return JSONResponse(
                {
                    "issuer": self.url,
                    "jwks_uri": f"{self.origin}{JWKS_PATH}",
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "response_types_supported": ["code"],
                }
            )
        if path == JWKS_PATH:
            return JSONResponse({"keys": [key.as_dict(private=False) for key in self.keys]})
        return JSONResponse({"error": "not_found"}, 404)


@asynccontextmanager
async def running_issuer(**options: Any) -> AsyncIterator[IssuerApp]:
    issuer = IssuerApp(**options)
    async with serve_asgi(issuer.app()) as origin:
        issuer.origin = origin
        yield issuer
