"""Header passthrough: each upstream call carries the calling session's own token, never
another's; the gateway's own key is never passed on; a public server's tool that needs a
credential says which one, and the session carries on."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.conftest import TRANSPORTS, running_gateway, serve_asgi, stdio_echo
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio


def config(upstream_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "mcpServers": {
            "crm": {
                "url": f"{upstream_url}/mcp",
                "type": "http",
                "passthroughHeaders": ["Authorization", "x-workspace-id"],
                "credentialsRequired": True,
            },
            "plain": {"url": f"{upstream_url}/mcp", "type": "http"},
            "local": stdio_echo("local"),
        },
        **extra,
    }


async def header(client: Any, tool: str, name: str) -> str:
    return (await client.call_tool(tool, {"name": name})).content[0].text


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_each_call_carries_its_own_sessions_token_under_concurrency(transport: str) -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
    ):
        seen: dict[str, set[str]] = {"alice": set(), "bob": set()}

        async def session(who: str) -> None:
            headers = {"Authorization": f"Bearer token-of-{who}", "x-workspace-id": f"ws-{who}"}
            async with gateway.client(transport, headers=headers) as client:

                async def call() -> None:
                    seen[who].add(await header(client, "crm_header", "authorization"))
                    seen[who].add(await header(client, "crm_header", "x-workspace-id"))

                async with anyio.create_task_group() as tg:
                    for _ in range(15):
                        tg.start_soon(call)
                assert await header(client, "plain_header", "authorization") == ""  # not on its allowlist

        async with anyio.create_task_group() as tg:
            tg.start_soon(session, "alice")
            tg.start_soon(session, "bob")
        assert seen == {"alice": {"Bearer token-of-alice", "ws-alice"}, "bob": {"Bearer token-of-bob", "ws-bob"}}


async def test_the_gateways_own_key_is_never_passed_on() -> None:
    key = "gateway-admin-key-0123456789abcdef"
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream, api_key=key)) as gateway,
    ):
        # The key in Authorization authenticates to the gateway and goes no further.
        async with gateway.client("streamable_http", headers={"Authorization": f"Bearer {key}"}) as client:
            answer = await client.call_tool("crm_header", {"name": "authorization"})
            assert answer.is_error and "Authorization header" in answer.content[0].text
        # The key in x-api-key, the caller's own token in Authorization: that token is passed on.
        headers = {"x-api-key": key, "Authorization": "Bearer users-own-token"}
        async with gateway.client("sse", headers=headers) as client:
            assert await header(client, "crm_header", "authorization") == "Bearer users-own-token"
            assert await header(client, "crm_header", "x-api-key") == ""


async def test_a_public_servers_tool_without_its_credential_names_it_and_the_session_carries_on() -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(
            config(
                upstream,
                api_key="gateway-admin-key-0123456789abcdef",
                virtualServers={
                    "open": {"mode": "NORMAL", "selectedTools": ["crm_header", "local_echo"], "isPublic": True}
                },
            )
        ) as gateway,
    ):
        async with gateway.client("streamable_http", server="open") as client:
            refused = await client.call_tool("crm_header", {"name": "authorization"})
            assert refused.is_error
            assert "Authorization header or the x-workspace-id header" in refused.content[0].text
            assert (await client.call_tool("local_echo", {"text": "still fine"})).content[0].text == "still fine"
        # On a public server an Authorization that is not a gateway key is the caller's upstream token.
        async with gateway.client("sse", server="open", headers={"Authorization": "Bearer mine"}) as client:
            assert await header(client, "crm_header", "authorization") == "Bearer mine"
