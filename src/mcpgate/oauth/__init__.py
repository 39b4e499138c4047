"""OAuth 2.1 for clients that speak nothing else (#28), loaded only when `oauth.mode` is not `off`.

builtin    this gateway is the authorization server: provider.py (the SDK's handlers' view),
           sign_in.py (the page where a person pastes a key), issuer.py (tokens), signing.py
external   another issuer's JWTs are accepted (external.py)
both       resources.py (which resource an endpoint is), endpoints.py (metadata documents and
           routes), bearer.py (what the guard asks: who a token speaks for, what a 401 says)

async with open_oauth(settings, database, box, auth, hub) as oauth:
    guard = Guard(…, oauth=oauth.bearer)          # and oauth.endpoints serves /oauth/…, /.well-known/…
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio

from mcpgate.access.authentication import Authenticator
from mcpgate.hub.gateway import Hub
from mcpgate.oauth.bearer import BearerTokens
from mcpgate.oauth.endpoints import SCOPES_SUPPORTED, OAuthEndpoints
from mcpgate.oauth.issuer import Issuer
from mcpgate.settings import GatewaySettings
from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import Database
from mcpgate.store.oauth import OAuthStore

logger = logging.getLogger(__name__)

_PURGE_SECONDS = 3600.0


@dataclass
class OAuth:
    endpoints: OAuthEndpoints
    bearer: BearerTokens
    issuer: Issuer | None  # built-in mode: tokens, grants (the management API lists and revokes them)
    store: OAuthStore


@contextlib.asynccontextmanager
async def open_oauth(
    settings: GatewaySettings, database: Database, box: SecretBox, auth: Authenticator, hub: Hub
) -> AsyncIterator[OAuth]:
    store = OAuthStore(database, box)
    # Where clients reach this gateway (resource URLs; built-in: the issuer too). Unset: each request's Host.
    public = (settings.oauth.issuer if settings.oauth.mode == "builtin" else None) or settings.public_url
    if settings.oauth.mode == "external":
        from mcpgate.oauth.external import ExternalIssuer

        async with ExternalIssuer(settings.oauth, hub) as external:
            endpoints = OAuthEndpoints(hub, settings.oauth, public)
            yield OAuth(endpoints, BearerTokens(hub, external, public), None, store)
        return
    from mcpgate.oauth.client_documents import ClientDocuments
    from mcpgate.oauth.provider import GatewayProvider
    from mcpgate.oauth.sign_in import PendingRequests, SignInPage
    from mcpgate.oauth.signing import SigningKeys

    keys = SigningKeys(store)
    await keys.load()
    issuer = Issuer(store, keys, auth, settings.oauth)
    pending = PendingRequests(box)
    documents = ClientDocuments(SCOPES_SUPPORTED) if settings.oauth.client_metadata_documents else None
    provider = GatewayProvider(store, issuer, auth, hub, pending, documents)
    endpoints = OAuthEndpoints(hub, settings.oauth, public, provider, keys, SignInPage(pending, auth, store, hub))
    async with anyio.create_task_group() as tg:
        tg.start_soon(_purge_expired, store)
        yield OAuth(endpoints, BearerTokens(hub, issuer, public), issuer, store)
        tg.cancel_scope.cancel()


async def _purge_expired(store: OAuthStore) -> None:
    while True:
        try:
            await store.purge(datetime.now(UTC))
        except Exception:  # top of a background task: the database may be briefly away
            logger.exception("OAuth: dropping expired tokens failed")
        await anyio.sleep(_PURGE_SECONDS)  # a periodic chore, not a wait for an event
