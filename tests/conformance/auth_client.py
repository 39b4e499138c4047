"""The client the conformance suite's `auth/*` client scenarios run: mcpgate, as the OAuth client of
an upstream that answers 401.

    conformance client --command "python -m tests.conformance.auth_client" --scenario auth/metadata-default

The suite starts its own MCP server and authorization server and runs this command with the
server's URL appended (`http://localhost:<port>/mcp`). It starts a gateway in-process with that
URL as the remote upstream `up`, waits until the upstream asks for OAuth, asks the gateway's API
for the link that connects the gateway's own account (`POST /api/v1/upstreams/up/authorize`), and
follows it as a browser would: the suite's authorization endpoint approves at once and redirects to
the gateway's /oauth/callback, which exchanges the code. Then the upstream must come up with the
token, and its tool (`test-tool`, which answers "test") must be listed and callable through the
gateway with the SDK client. If the call fails and the upstream asks for authorization again (a
scope step-up), the link is followed once more and the call retried, as an operator would.

Exit 0 on success, 1 with the reason on stderr (`auth_client: FAILED: …`; the suite keeps it in
the scenario's stderr.txt). Every OAuth decision — discovery, registration, scopes, token endpoint
authentication — is mcpgate's own: this drives only what an operator and a browser do. Run it from
the repository root (the suite inherits the working directory), as test_auth_scenarios.py does.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import mcp
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import DECLARES_EVERYTHING, Gateway, running_gateway

if TYPE_CHECKING:
    from mcpgate.upstream.connection import UpstreamConnection

UPSTREAM = "up"
TOOL = "test-tool"  # the one tool of the suite's MCP server
API_KEY = "static-admin-key-of-the-conformance-client-0123456789"
TIMEOUT = 60.0  # seconds for each wait (a busy machine is slow); the test gives the command 150 s
GIVE_UP_AFTER = 3  # failed connection attempts in a row that end a wait early

logger = logging.getLogger("auth_client")


class Failed(Exception):
    """The flow stopped short; the message says where."""


async def main(server_url: str) -> str | None:
    """Connect mcpgate to the upstream at `server_url` and call its tool: None, or why not."""
    config: dict[str, Any] = {"mcpServers": {UPSTREAM: {"url": server_url, "type": "http"}}, "api_key": API_KEY}
    async with running_gateway(config) as gateway:
        try:
            await connect_and_call(gateway)
        except Failed as exc:
            return str(exc)
    return None


async def connect_and_call(gateway: Gateway) -> None:
    headers = {"x-api-key": API_KEY}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=TIMEOUT, headers=headers) as admin:
        # The management API is built on its first request (seconds on a busy machine): meanwhile
        # the upstream gives its first answer.
        await admin.get(f"/api/v1/upstreams/{UPSTREAM}/accounts")
        await settle(gateway, lambda c: c.status.authorization_required is not None, "ask for OAuth")
        await authorize(gateway, admin)
        if not await call_tool(gateway):
            if upstream(gateway).status.authorization_required is None:
                raise Failed(f"calling {TOOL} through the gateway failed (status {upstream(gateway).status.as_dict()})")
            logger.info("the call failed and the upstream asks for authorization again: a step-up")
            await authorize(gateway, admin)
            if not await call_tool(gateway):
                raise Failed(f"calling {TOOL} through the gateway failed after a second authorization")


async def authorize(gateway: Gateway, admin: httpx.AsyncClient) -> None:
    """What an operator does: ask for the gateway's link, open it, and wait for the upstream."""
    logger.info("the upstream wants OAuth (WWW-Authenticate: %s)", upstream(gateway).status.authorization_required)
    answer = await admin.post(f"/api/v1/upstreams/{UPSTREAM}/authorize")
    if answer.status_code != 200:
        raise Failed(f"no authorization link: HTTP {answer.status_code} {answer.text[:500]}")
    link = answer.json()["authorizationUrl"]
    logger.info("authorization link: %s", link)
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=True) as browser:
        back = await browser.get(link)
    hops = " -> ".join(f"{r.status_code} {r.url.copy_with(query=None)}" for r in (*back.history, back))
    logger.info("the browser went: %s", hops)
    if back.status_code != 200 or back.url.path != "/oauth/callback":
        raise Failed(f"the authorization did not end at the gateway's callback ({hops}): {back.text[:500]}")
    # The connection is replaced once the token is there: wait on the new one.
    await settle(gateway, lambda c: c.is_ready, "come up with the token")


async def call_tool(gateway: Gateway) -> bool:
    """List the upstream's tool through the gateway and call it; whether it answered "test"."""
    target = streamable_http_client(
        f"{gateway.url}/mcp", http_client=create_mcp_http_client(headers={"x-api-key": API_KEY})
    )
    # Declaring every capability the gateway relays, it is served by the upstream's shared connection,
    # the one whose status says what the upstream asked for (tests/conftest.py).
    async with mcp.Client(target, mode="legacy", **DECLARES_EVERYTHING) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        name = next((n for n in names if n.endswith(TOOL)), None)
        if name is None:
            raise Failed(f"{TOOL} is not listed through the gateway: {names}")
        try:
            result = await client.call_tool(name, {})
        except MCPError as exc:  # the gateway's JSON-RPC error: what the upstream's refusal became
            logger.info("called %s through the gateway: %s", name, exc)
            return False
    answered = not result.is_error and bool(result.content) and getattr(result.content[0], "text", None) == "test"
    logger.info("called %s through the gateway: %s", name, "ok" if answered else result)
    return answered


async def settle(gateway: Gateway, done: Callable[[UpstreamConnection], bool], what: str) -> None:
    """Until `done(connection)` holds for the upstream's current connection; fails after TIMEOUT, or
    sooner once the connection failed GIVE_UP_AFTER times in a row without it."""
    with anyio.move_on_after(TIMEOUT):
        while not done(connection := upstream(gateway)):
            if connection.status.failures >= GIVE_UP_AFTER:
                raise Failed(f"the upstream did not {what}: {connection.status.as_dict()}")
            await anyio.sleep(0.01)  # polling the in-process status, as tests.conftest.wait_until does
        return
    raise Failed(f"the upstream did not {what} within {TIMEOUT:g} s: {upstream(gateway).status.as_dict()}")


def upstream(gateway: Gateway) -> UpstreamConnection:
    return gateway.hub.upstreams[UPSTREAM]


def run(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m tests.conformance.auth_client SERVER_URL", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    logger.info("scenario %s against %s", os.environ.get("MCP_CONFORMANCE_SCENARIO", "?"), argv[-1])
    with tempfile.TemporaryDirectory(prefix="mcpgate-auth-client-") as data:
        os.environ.setdefault("MCPGATE_DATA_DIR", data)  # never the user's ~/.local/share
        failed = anyio.run(main, argv[-1])
    if failed is not None:
        print(f"auth_client: FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv))
