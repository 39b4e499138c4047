"""The composition root: `create_app` wires hub, registry, router, transports and the
management API into one ASGI app.

    async with open_services(settings) as services:
        app = create_app(settings, services)
        await uvicorn.Server(uvicorn.Config(app)).serve()

The registry and the hub are started before the app exists, so a bad config or
database fails before the port is bound.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mcpgate.fleet.link import FleetLink
    from mcpgate.oauth import OAuth

from mcpgate import __version__
from mcpgate.access.audit import AuditTrail
from mcpgate.access.authentication import Authenticator
from mcpgate.access.guard import Guard
from mcpgate.access.rate_limits import RateLimiter
from mcpgate.access.users import UserDirectory
from mcpgate.accounts.callback import AuthorizationCallback
from mcpgate.accounts.service import UpstreamAccounts
from mcpgate.admin import PREFIX
from mcpgate.admin.deferred import DeferredManagementAPI
from mcpgate.admin_ui import DeferredAdminUI, is_admin_ui
from mcpgate.edge.docs_page import DOCS_ASSETS, MANAGEMENT_DOCS, docs_asset, docs_page, send_html
from mcpgate.edge.health import HealthEndpoint
from mcpgate.edge.http import IN_PROCESS_CALLER, caller_principal, send_json
from mcpgate.edge.metrics import Metrics
from mcpgate.edge.openapi import Security
from mcpgate.edge.rest import RESTEndpoints, is_rest
from mcpgate.edge.security import HostOriginCheck, OriginPolicy
from mcpgate.edge.servers import BY_ID_PREFIX, NAMED_PREFIX, VirtualServerEndpoints
from mcpgate.edge.sse import SSETransport
from mcpgate.edge.streamable_http import StreamableHTTPTransport
from mcpgate.errors import INVALID_REQUEST, METHOD_NOT_FOUND, ConfigError
from mcpgate.hub.gateway import Hub
from mcpgate.hub.routing import RequestRouter
from mcpgate.hub.session import sessions_belong_to
from mcpgate.protocol.jsonrpc import error_response
from mcpgate.settings import GatewaySettings
from mcpgate.store.audit import AuditStore
from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import HEAD_REVISION, Database, database_url
from mcpgate.store.keys import KeyStore
from mcpgate.store.registry import Registry
from mcpgate.store.upstream_oauth import UpstreamOAuthStore
from mcpgate.store.users import UserStore
from mcpgate.tracing import hook
from mcpgate.tracing.switch import open_tracing
from mcpgate.upstream.connection import Backoff

logger = logging.getLogger(__name__)


class Gateway:
    """The ASGI app: MCP message paths go straight to their transport, the management API
    (built at its first request) gets `/api/v1`, anything else is a JSON 404.

    The MCP endpoints are raw ASGI already; skipping a framework's middleware stack and route
    matching for them is a measurable share of the gateway's per-call cost.
    """

    def __init__(
        self,
        management: ASGIApp,
        fast_paths: dict[str, ASGIApp],
        virtual: ASGIApp,
        rest: RESTEndpoints,
        oauth: ASGIApp | None = None,
        admin_ui: ASGIApp | None = None,
    ) -> None:
        self._management = management
        self._admin_ui = admin_ui  # /admin: the web UI (admin_ui/), built at its first request
        self._fast_paths = fast_paths
        self._virtual = virtual
        self._rest = rest
        self._oauth = oauth  # /oauth/… and /.well-known/oauth-…, when OAuth is on

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # The route's own coroutine, handed on (HANDS_ON in edge/http.py).
        if scope["type"] == "lifespan":
            return _lifespan(receive, send)
        if scope["type"] != "http":
            return _no_websockets(scope, receive, send)
        path = scope["path"]
        if (handler := self._fast_paths.get(path)) is not None:
            return handler(scope, receive, send)
        if path.startswith((NAMED_PREFIX, BY_ID_PREFIX)):
            return self._virtual(scope, receive, send)
        if is_rest(tail := path[1:].rstrip("/")):
            return self._rest.handle(scope, receive, send, "", tail)
        if path.startswith(DOCS_ASSETS):
            return docs_asset(scope, receive, send)
        if path == PREFIX or path.startswith(f"{PREFIX}/"):
            return self._management(scope, receive, send)
        if self._oauth is not None and path.startswith(("/oauth/", "/.well-known/oauth-")):
            return self._oauth(scope, receive, send)
        if self._admin_ui is not None and is_admin_ui(path):
            return self._admin_ui(scope, receive, send)
        return send_json(send, 404, error_response(None, METHOD_NOT_FOUND, f"No route for {path}"))


async def _no_websockets(scope: Scope, receive: Receive, send: Send) -> None:
    """Not served: refused before the handshake (uvicorn answers 403). An app that returns without
    a word gets a 500 from uvicorn, which reads as a bug."""
    if scope["type"] == "websocket" and (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop here: `open_services` does that around the app."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _only(methods: tuple[str, ...], handler: ASGIApp) -> ASGIApp:
    """`handler` for `methods` (GET also answers HEAD); a JSON 405 naming them for the rest."""
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)
    allow = ", ".join(methods)

    def endpoint(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine of its own (HANDS_ON in edge/http.py): a stream's frame chain is one shorter.
        if scope["method"] in allowed:
            return handler(scope, receive, send)
        message = f"Method {scope['method']} not allowed on {scope['path']}; use {allow}"
        return send_json(send, 405, error_response(None, INVALID_REQUEST, message), [(b"allow", allow.encode())])

    return endpoint


@dataclass
class Services:
    """What the app serves from: the running hub, the registry, and the key checker."""

    hub: Hub
    registry: Registry
    auth: Authenticator
    users: UserDirectory
    audit: AuditTrail
    accounts: UpstreamAccounts
    fleet: FleetLink | None = None  # set when replicas share a Redis (settings.redis_url)
    oauth: OAuth | None = None  # set when `oauth.mode` is not off


@contextlib.asynccontextmanager
async def open_services(settings: GatewaySettings, *, backoff: Backoff | None = None) -> AsyncIterator[Services]:
    """The registry (migrated, its secrets readable), the keys, and the hub started from config + registry;
    traced when the OTEL_* variables ask for it (tracing/switch.py)."""
    async with open_tracing(os.environ):
        async with _open_services(settings, backoff) as services:
            yield services


@contextlib.asynccontextmanager
async def _open_services(settings: GatewaySettings, backoff: Backoff | None) -> AsyncIterator[Services]:
    database = Database(database_url(settings.database_url, settings.data_dir))
    try:
        await prepare_database(database, settings.migrate_on_start)
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        if database.ephemeral and not secret:
            box = SecretBox.ephemeral()
        else:
            box = SecretBox.from_settings(secret, settings.data_dir)
        registry = Registry(database, box)
        await registry.check_secrets()
        # The config file wins a name both declare: it is the declarative source of truth.
        declared_upstreams = {spec.name for spec in settings.upstreams}
        declared_servers = {server.name for server in settings.servers}
        stored_upstreams = [record.spec for record in await registry.upstreams()]
        stored_servers = await registry.all_servers()
        for shadowed in [u.name for u in stored_upstreams if u.name in declared_upstreams]:
            logger.warning("upstream %s is in the config file and the registry; the config file's is used", shadowed)
        for shadowed in [s.name for s in stored_servers if s.name in declared_servers]:
            logger.warning("server %s is in the config file and the registry; the config file's is used", shadowed)
        registered = [spec for spec in stored_upstreams if spec.name not in declared_upstreams]
        servers = [server for server in stored_servers if server.name not in declared_servers]
        static_key = settings.api_key.get_secret_value() if settings.api_key else None
        # OAuth on means a client must come with a token or a key, even before any key exists.
        required = settings.auth_required or settings.oauth.mode != "off"
        auth = Authenticator(KeyStore(database), static_key=static_key, required=required)
        await auth.load()
        user_store = UserStore(database, box)
        await user_store.check_secrets()
        async with Hub(settings, backoff=backoff, registered=registered, servers=servers) as hub:
            users = UserDirectory(user_store, hub)
            await users.load()
            hub.credentials = users
            accounts = UpstreamAccounts(UpstreamOAuthStore(database, box), box, hub, settings.public_url)
            await accounts.load()
            hub.authorizations = users.accounts = accounts
            audit = AuditTrail(AuditStore(database), auth)
            if settings.redis_url is None:
                hub.observers.append(audit.tool_call)
            else:  # a replica may be killed at any moment: its rows are written before it answers
                hub.recorders.append(audit.stored)
            auth.on_revoke.append(lambda key_id: _close_sessions_of(hub, key_id))
            if not auth.enforcing and settings.host not in _LOOPBACK:
                logger.warning(
                    "listening on %s with no API key: anyone who can reach it can use and change it "
                    "(set MCPGATE_API_KEY or create a key)",
                    settings.host,
                )
            async with (
                audit,
                _oauth(settings, database, box, auth, hub) as oauth,
                _fleet(settings, hub, registry, auth, users, accounts, oauth) as fleet,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(_keep_keys_fresh, auth)
                tg.start_soon(accounts.keep_fresh)
                yield Services(hub, registry, auth, users, audit, accounts, fleet, oauth)
                tg.cancel_scope.cancel()
    finally:
        await database.aclose()


@contextlib.asynccontextmanager
async def _oauth(
    settings: GatewaySettings, database: Database, box: SecretBox, auth: Authenticator, hub: Hub
) -> AsyncIterator[OAuth | None]:
    """OAuth (oauth/), when `oauth.mode` asks for it: nothing of it is loaded otherwise."""
    if settings.oauth.mode == "off":
        yield None
        return
    from mcpgate.oauth import open_oauth

    async with open_oauth(settings, database, box, auth, hub) as oauth:
        if oauth.issuer is not None:
            oauth.issuer.on_revoke.append(lambda grants: _close_sessions_of_grants(hub, grants))
        logger.info("OAuth: %s mode", settings.oauth.mode)
        yield oauth


@contextlib.asynccontextmanager
async def _fleet(
    settings: GatewaySettings,
    hub: Hub,
    registry: Registry,
    auth: Authenticator,
    users: UserDirectory,
    accounts: UpstreamAccounts,
    oauth: OAuth | None,
) -> AsyncIterator[FleetLink | None]:
    """This replica's part in a fleet (Redis configured): its link, and the changes it shares."""
    if settings.redis_url is None:
        yield None
        return
    from mcpgate.fleet.link import FleetLink
    from mcpgate.fleet.shared_state import SharedState

    link = FleetLink(settings)
    sessions_belong_to(link.replica)
    logger.info("replica %s of fleet %r (Redis at %s)", link.replica, settings.fleet.key_prefix, link.shown_url)
    try:
        shared = SharedState(link, hub, registry, auth, users, settings, accounts, oauth.issuer if oauth else None)
        async with link, shared:
            yield link
    finally:
        sessions_belong_to("")  # the process's next gateway (tests start several) mints plain ids


_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_KEYS_REFRESH_SECONDS = 30.0


async def _keep_keys_fresh(auth: Authenticator) -> None:
    """Keys changed by another process (a replica, the offline CLI) are seen within half a minute;
    last-use times are written back at the same pace."""
    while True:
        await anyio.sleep(_KEYS_REFRESH_SECONDS)  # a periodic refresh, not a wait for an event
        try:
            await auth.flush_uses()
            await auth.load()
        except Exception:  # top of a background task: the database may be briefly away
            logger.exception("refreshing API keys failed")


def _close_sessions_of(hub: Hub, key_id: str) -> None:
    """End the sessions a key opened, itself or through an OAuth token (owner `<key>#<grant>`)."""
    for session in hub.sessions:
        if session.owner.partition("#")[0] == key_id:
            hub.sessions.remove(session.id)


def _close_sessions_of_grants(hub: Hub, grants: frozenset[str]) -> None:
    """End the sessions OAuth tokens of revoked grants opened (owner `<key>#<grant>`)."""
    for session in hub.sessions:
        if session.owner.partition("#")[2] in grants:
            hub.sessions.remove(session.id)


async def prepare_database(database: Database, migrate: bool) -> None:
    """Bring the schema to head, or (with migrations off) refuse to run on an old one."""
    try:
        if migrate:
            await database.upgrade()
            return
        current = await database.revision()
    except (OSError, SQLAlchemyError, *_driver_errors(), TypeError, ValueError) as exc:
        # Unreachable server, refused login, unknown database, a bad URL option: all the operator's to fix.
        reason = str(exc).split("\n", 1)[0] or type(exc).__name__
        raise ConfigError(f"cannot use the database {database.shown_url}: {reason}") from None
    if current != HEAD_REVISION:
        raise ConfigError(
            f"the database {database.shown_url} is at revision {current or 'none'}, this mcpgate needs "
            f"{HEAD_REVISION}: run `mcpgate db upgrade` (or let it migrate on start)"
        )


def _driver_errors() -> tuple[type[Exception], ...]:
    """asyncpg's own errors, when it is in use (it is imported only for a PostgreSQL URL)."""
    asyncpg = sys.modules.get("asyncpg")
    return (asyncpg.PostgresError,) if asyncpg is not None else ()


class App:
    """What `create_app` returns: the counted, guarded gateway — with its parts named, for
    whoever needs to look inside (the tests enumerate `fastapi`'s routes)."""

    def __init__(self, asgi: ASGIApp, management: DeferredManagementAPI, gateway: Gateway) -> None:
        self._asgi = asgi
        self._management = management
        self.gateway = gateway

    @property
    def fastapi(self) -> FastAPI:
        return self._management.fastapi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A coroutine function, unlike the layers inside (HANDS_ON in edge/http.py): a server that
        # embeds this app tells ASGI 3 from ASGI 2 by it.
        await self._asgi(scope, receive, send)


def create_app(settings: GatewaySettings, services: Services) -> App:
    """The ASGI app over running services (see `open_services`), behind the access guard."""
    hub = services.hub
    router = RequestRouter(hub)
    metrics = Metrics(hub)
    sse = SSETransport(router, settings.edge)
    streamable = StreamableHTTPTransport(router, settings.edge)
    auth = services.auth

    def security_of(server_id: str | None) -> Security:
        """What the REST document of an endpoint says about keys (the guard is what enforces it)."""
        if not auth.enforcing:
            return "none"
        server = hub.servers.get(server_id) if server_id is not None else None
        return "optional" if server is not None and server.is_public else "required"

    rest = RESTEndpoints(router, settings.edge, security_of)

    async def management_docs(scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "")
        await send_html(send, docs_page(f"{root}{PREFIX}/openapi.json", root))

    management = DeferredManagementAPI(lambda: _management_api(settings, services))
    messages = sse.handle_message
    fast_paths: dict[str, ASGIApp] = {
        "/mcp": streamable,
        "/mcp/": streamable,
        "/messages": messages,
        "/messages/": messages,
        "/message": messages,
        "/sse": _only(("GET",), sse.handle_stream),
        "/health": _only(("GET",), HealthEndpoint(hub, services.fleet)),
        "/metrics": _only(("GET",), metrics.endpoint),
        MANAGEMENT_DOCS: _only(("GET",), management_docs),
        "/oauth/callback": AuthorizationCallback(services.accounts),
    }
    guarded: ASGIApp | None = None  # what the web UI calls the management API through (set below)

    def admin_ui() -> ASGIApp:
        assert guarded is not None
        return _admin_ui(settings, services, guarded, metrics)

    gateway = Gateway(
        management,
        fast_paths,
        VirtualServerEndpoints(hub, sse, streamable, rest),
        rest,
        services.oauth.endpoints if services.oauth else None,
        DeferredAdminUI(admin_ui) if settings.admin_ui else None,
    )
    limiter = RateLimiter.from_settings(
        settings.rate_limits, redis_url=settings.redis_url, key_prefix=settings.fleet.key_prefix
    )
    hub.observers.append(metrics.tool_call)
    if services.fleet is not None:  # each beat says how many calls this replica served lately
        services.fleet.figures = metrics.recent.beat_figures

    def failed(scope: Scope, reason: str) -> Awaitable[None] | None:
        metrics.auth_failure()
        if services.fleet is not None:
            return services.audit.stored_failure(scope, reason)
        services.audit.auth_failure(scope, reason)
        return None

    oauth = services.oauth
    guard: ASGIApp = Guard(
        gateway, services.auth, hub, limiter, on_failure=failed, oauth=oauth.bearer if oauth else None
    )
    if services.fleet is not None:
        from mcpgate.fleet.relay import SessionRelay

        guard = SessionRelay(guard, services.fleet, settings)  # before the guard: the owner judges
    guarded = metrics.counting(guard)
    # In-process calls of the gateway's own API come from no browser: they skip the Host/Origin check.
    hub.own_api.serve(_as_caller(guarded), management.document)
    policy = OriginPolicy.for_bind(settings.host, settings.edge.allowed_origins, settings.edge.allowed_hosts)
    asgi = HostOriginCheck(guarded, policy)
    if (tracer := hook.tracer) is not None:
        asgi = tracer.edge(asgi)  # outermost: a request refused on the way in is traced too
    return App(asgi, management, gateway)


def _admin_ui(settings: GatewaySettings, services: Services, api: ASGIApp, metrics: Metrics) -> ASGIApp:
    """The web UI (built in a worker thread at its first request): pages that call `api` in-process."""
    from mcpgate.admin_ui.sessions import SignIns
    from mcpgate.admin_ui.site import AdminUI
    from mcpgate.store.admin_sessions import AdminSessionStore

    sign_ins = SignIns(services.auth, AdminSessionStore(services.registry.database))
    fleet = services.fleet.figures_of_replicas if services.fleet is not None else None
    return AdminUI(api, sign_ins, recent=metrics.recent, fleet_figures=fleet, public_url=settings.public_url)


def _management_api(settings: GatewaySettings, services: Services) -> tuple[FastAPI, ASGIApp]:
    """The management API: FastAPI, its routes, its error answers and its body limit."""
    from fastapi import FastAPI

    from mcpgate.admin.api import Admin, BodyLimit, admin_router, describe_security, install_error_handlers

    app = FastAPI(
        title="mcpgate management API",
        version=__version__,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # our own page (MANAGEMENT_DOCS): it sends the key with the document's fetch too
        # operationIds a person or a model can read ("create_key", not "create_key_api_v1_keys_post").
        generate_unique_id_function=lambda route: route.name,
        redoc_url=None,
    )
    install_error_handlers(app)
    describe_security(app)
    admin = Admin(
        services.hub, services.registry, settings, services.auth, services.users, services.audit, services.oauth
    )
    app.include_router(admin_router(admin))
    return app, BodyLimit(app, settings.edge.max_body_bytes)


def _as_caller(app: ASGIApp) -> ASGIApp:
    """The app as a catalog of this gateway's own API calls it: in-process, as the principal
    of the tool call being made (the guard then judges that principal as for any request)."""

    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        principal = caller_principal()
        if principal is not None:
            scope = {**scope, IN_PROCESS_CALLER: principal}
        await app(scope, receive, send)

    return call
