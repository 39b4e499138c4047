"""Shared test machinery: real servers on loopback sockets, real SDK clients.

Everything runs in the test's own event loop: uvicorn serves the gateway (and the
SDK's SSE / Streamable HTTP upstreams) on 127.0.0.1 with port 0, so SSE is exercised
over a real socket. Waits are bounded (`anyio.fail_after`), never bare sleeps.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp
import mcp_types
import pytest
import uvicorn
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcpgate.access.authentication import Authenticator
from mcpgate.app import create_app, open_services
from mcpgate.config import settings_from_mapping
from mcpgate.edge.http_server import server_config
from mcpgate.hub.gateway import Hub
from mcpgate.settings import EdgeSettings, GatewaySettings
from mcpgate.store.registry import Registry
from mcpgate.upstream.connection import Backoff
from tests.node_tools import require_node_tools

TESTS = Path(__file__).parent
ECHO_SERVER = str(TESTS / "upstreams" / "echo_server.py")
# Legacy SSE, Streamable HTTP with the handshake (2025-11-25), and the stateless 2026-07-28 revision.
TRANSPORTS = ["sse", "streamable_http", "stateless"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Every test marked `node` needs the Node tools: skipped without them, failed under CI=true."""
    if item.get_closest_marker("node") is not None:
        require_node_tools()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Gateways started by the tests (in-process or as `mcpgate` children) never touch ~/.local/share."""
    os.environ["MCPGATE_DATA_DIR"] = str(tmp_path_factory.mktemp("mcpgate-data"))


async def _declined(context: Any, params: Any = None) -> mcp_types.ErrorData:
    return mcp_types.ErrorData(code=mcp_types.INVALID_REQUEST, message="this test client answers no requests")


# SDK client arguments that make it declare every capability the gateway relays (sampling,
# elicitation in both modes, roots): a client that does is served by each upstream's shared
# connection, the one `hub.upstreams` holds (one that declares less, by a connection for its
# capability profile: hub/profiles.py). Asked anything, it declines.
DECLARES_EVERYTHING: dict[str, Any] = {
    "sampling_callback": _declined,
    "elicitation_callback": _declined,
    "list_roots_callback": _declined,
}


def stdio_echo(label: str = "echo", **extra: Any) -> dict[str, Any]:
    """An `mcpServers` entry for the test echo server as a stdio child."""
    return {"command": sys.executable, "args": [ECHO_SERVER, "--stdio", "--label", label], **extra}


@asynccontextmanager
async def serve_asgi(app: Any, edge: EdgeSettings | None = None, **options: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1:<free port> within `edge`'s limits (connections, timeouts;
    default `EdgeSettings()`), with uvicorn's `options` (TLS: ssl_certfile, ssl_keyfile); yields its base URL."""
    config = server_config(app, edge, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **options)
    server = uvicorn.Server(config)
    server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        scheme = "https" if "ssl_certfile" in options else "http"
        try:
            yield f"{scheme}://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            server.force_exit = True
            # A connection left open (a stream that never ends) may hold the server's closing up:
            # a bounded wait, then it is cancelled.
            tg.cancel_scope.deadline = anyio.current_time() + 5


@dataclass
class Gateway:
    url: str
    hub: Hub
    registry: Registry
    auth: Authenticator
    app: Any = None
    oauth: Any = None  # mcpgate.oauth.OAuth when `oauth.mode` is on

    def client(
        self,
        transport: str,
        server: str | None = None,
        by_id: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> mcp.Client:
        """An official SDK client connected over one of `TRANSPORTS`, to the default endpoint or to
        virtual server `server` (at /servers/<name>/…, or with `by_id` at /api/v1/mcp/<id>),
        sending `headers` (an API key, x-username…) with every request."""
        if server is None:
            sse_url, http_url = f"{self.url}/sse", f"{self.url}/mcp"
        elif by_id:
            sse_url = http_url = f"{self.url}/api/v1/mcp/{server}"
        else:
            sse_url, http_url = f"{self.url}/servers/{server}/sse", f"{self.url}/servers/{server}/mcp"
        if transport == "sse":
            return mcp.Client(sse_client(sse_url, headers=headers), **kwargs)
        target: Any = http_url
        if headers:
            target = streamable_http_client(http_url, http_client=create_mcp_http_client(headers=headers))
        # "auto" probes server/discover and must settle on 2026-07-28 with us.
        return mcp.Client(target, mode="auto" if transport == "stateless" else "legacy", **kwargs)

    def http(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, headers=headers)


@asynccontextmanager
async def running_gateway(
    config: dict[str, Any] | GatewaySettings, backoff: Backoff | None = None
) -> AsyncIterator[Gateway]:
    settings = config if isinstance(config, GatewaySettings) else settings_from_mapping(config, "test")
    if settings.database_url is None:  # each gateway of the suite has a registry of its own, in memory
        settings = settings.model_copy(update={"database_url": "sqlite+aiosqlite://"})
    async with open_services(settings, backoff=backoff or Backoff(first=0.05, maximum=0.5)) as services:
        app = create_app(settings, services)
        async with serve_asgi(app, settings.edge) as url:
            yield Gateway(url, services.hub, services.registry, services.auth, app, services.oauth)
            for session in services.hub.sessions:  # end open streams so the server can stop promptly
                services.hub.sessions.remove(session.id)


@contextmanager
def threaded_gateway(settings: GatewaySettings) -> Iterator[str]:
    """A gateway in a thread (and event loop) of its own, for synchronous drivers such as
    schemathesis; yields its base URL."""
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with open_services(settings) as services:
            app = create_app(settings, services)
            server = uvicorn.Server(server_config(app, host="127.0.0.1", port=0, log_level="warning"))
            box["server"] = server
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve)
                with anyio.fail_after(30):
                    while not server.started:
                        await anyio.sleep(0.01)
                box["url"] = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
                started.set()

    thread = threading.Thread(target=anyio.run, args=(main,), daemon=True)
    thread.start()
    assert started.wait(60), "the gateway did not start"
    try:
        yield box["url"]
    finally:
        box["server"].should_exit = True
        thread.join(30)


GatewayFactory = Callable[[dict[str, Any]], AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def gateway_factory() -> GatewayFactory:
    return running_gateway


def in_flight(hub: Hub, upstream: str) -> int:
    """Requests in flight to `upstream` over any of its connections: the shared one, and those for
    clients that declare other capabilities (as clients of the SDK without callbacks, which declare none)."""
    return sum(c.in_flight for c in (hub.upstreams[upstream], *(link.connection for link in hub.links.of(upstream))))


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a cheap in-process condition until true; fails the test after `timeout` seconds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)
