"""Upstreams that want OAuth, reached per end user: a second mcpgate in built-in mode is the
protected upstream. The gateway discovers its authorization server from its 401, registers
there, sends each person through its sign-in page, takes the callback, and each user's calls
reach the upstream with that user's own token (the upstream's audit names whose key allowed it)."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import mcp
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import Gateway, running_gateway, stdio_echo, wait_until
from tests.test_manage import run

pytestmark = pytest.mark.anyio

UPSTREAM_ADMIN = "static-admin-key-of-the-upstream-0123456789"
ADMIN = "static-admin-key-of-the-gateway-0123456789"


async def upstream_key(upstream: Gateway, name: str) -> str:
    async with upstream.http({"x-api-key": UPSTREAM_ADMIN}) as admin:
        answer = await admin.post("/api/v1/keys", json={"name": name, "scopes": ["tools:call"]})
    assert answer.status_code == 201, answer.text
    return answer.json()["key"]


async def sign_in_at_upstream(authorization_url: str, api_key: str) -> httpx.Response:
    """What the person's browser does: the upstream's sign-in page, Allow, and back to our callback."""
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(authorization_url, follow_redirects=True)
        assert page.status_code == 200 and 'name="api_key"' in page.text, page.text[:500]
        sealed = page.text.split('name="request" value="', 1)[1].split('"', 1)[0]
        decided = await browser.post(
            urljoin(str(page.url), "sign-in"), data={"request": sealed, "api_key": api_key, "decision": "allow"}
        )
        assert decided.status_code == 303, decided.text
        return await browser.get(decided.headers["location"])


async def who_called(upstream: Gateway) -> list[str | None]:
    """The key names the upstream's audit log has for tool calls, oldest first."""
    async with upstream.http({"x-api-key": UPSTREAM_ADMIN}) as admin:
        rows = (await admin.get("/api/v1/audit", params={"kind": "tool_call", "limit": 500})).json()["data"]
    return [row.get("keyName") for row in sorted(rows, key=lambda row: row["at"])]


def as_user(gateway: Gateway, user: str | None) -> mcp.Client:
    headers = {"x-api-key": ADMIN, **({"x-username": user} if user else {})}
    return mcp.Client(
        streamable_http_client(f"{gateway.url}/mcp", http_client=create_mcp_http_client(headers=headers)),
        mode="legacy",
    )


async def text_of(client: mcp.Client, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
    result = await client.call_tool(tool, arguments)
    return bool(result.is_error), result.content[0].text


async def test_each_user_reaches_the_upstream_with_their_own_token() -> None:
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(
            running_gateway(
                {"mcpServers": {"demo": stdio_echo("demo")}, "api_key": UPSTREAM_ADMIN, "oauth": {"mode": "builtin"}}
            )
        )
        alice_key, bob_key = await upstream_key(upstream, "alice"), await upstream_key(upstream, "bob")
        gateway = await stack.enter_async_context(
            running_gateway(
                {
                    "mcpServers": {"crm": {"url": f"{upstream.url}/mcp", "type": "http", "credentialsRequired": True}},
                    "api_key": ADMIN,
                }
            )
        )
        crm = gateway.hub.upstreams["crm"]
        await wait_until(lambda: crm.status.authorization_required is not None)
        assert 'resource_metadata="' in crm.status.authorization_required
        async with gateway.http({"x-api-key": ADMIN}) as admin:
            assert (await admin.post("/api/v1/users", json={"name": "alice"})).status_code == 201
            answer = await admin.post("/api/v1/users/alice/connections/crm/authorize")
            assert answer.status_code == 200, answer.text
            link = answer.json()["authorizationUrl"]
        assert link.startswith(f"{upstream.url}/oauth/authorize?")
        back = await sign_in_at_upstream(link, alice_key)
        assert back.status_code == 200 and "crm is connected for the end user alice" in back.text

        # The shared connection lists with the first connected token: the tools appear.
        def listed() -> bool:  # the connection was replaced: it carries the token now
            crm = gateway.hub.upstreams["crm"]
            return crm.is_ready and any(tool["name"] == "demo_echo" for tool in crm.tools)

        await wait_until(listed)

        async with as_user(gateway, "alice") as alice:
            assert await text_of(alice, "crm_demo_echo", {"text": "from alice"}) == (False, "from alice")
        assert (await who_called(upstream))[-1] == "alice"

        # bob has not connected: a tool error with his link, and nothing reached the upstream.
        calls_before = len(await who_called(upstream))
        async with as_user(gateway, "bob") as bob:
            failed, said = await text_of(bob, "crm_demo_echo", {"text": "from bob"})
            assert failed and "open this link" in said
            bobs_link = said.rsplit(" ", 1)[-1]
            assert bobs_link.startswith(f"{upstream.url}/oauth/authorize?")
            assert len(await who_called(upstream)) == calls_before
            back = await sign_in_at_upstream(bobs_link, bob_key)
            assert "crm is connected for the end user bob" in back.text
            assert await text_of(bob, "crm_demo_echo", {"text": "from bob"}) == (False, "from bob")
        assert (await who_called(upstream))[-1] == "bob"

        # bob's access is revoked at the upstream (his key there): his next call says so, with his link.
        async with upstream.http({"x-api-key": UPSTREAM_ADMIN}) as upstream_admin:
            keys = (await upstream_admin.get("/api/v1/keys")).json()["data"]
            bobs = next(key["id"] for key in keys if key["name"] == "bob")
            assert (await upstream_admin.delete(f"/api/v1/keys/{bobs}")).status_code == 200
        async with as_user(gateway, "bob") as bob:
            failed, said = await text_of(bob, "crm_demo_echo", {"text": "still me?"})
        assert failed and "open this link" in said, said

        # No end user: the gateway has no account of its own there, and says who may connect one.
        async with as_user(gateway, None) as nobody:
            failed, said = await text_of(nobody, "crm_demo_echo", {"text": "x"})
            assert failed and "operator" in said and "http" not in said

        # Tokens are refreshed before they expire, and the next call carries the new one.
        accounts = gateway.hub.authorizations
        old = accounts.bearer("crm", "alice")
        later = accounts.clock() + timedelta(minutes=59)
        accounts.clock = lambda: later
        await accounts.refresh_due()
        assert accounts.bearer("crm", "alice") not in (None, old)
        async with as_user(gateway, "alice") as alice:
            assert await text_of(alice, "crm_demo_echo", {"text": "again"}) == (False, "again")
        assert (await who_called(upstream))[-1] == "alice"


async def test_the_gateways_own_account_serves_callers_without_theirs_and_smart_gives_links(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(
            running_gateway(
                {"mcpServers": {"demo": stdio_echo("demo")}, "api_key": UPSTREAM_ADMIN, "oauth": {"mode": "builtin"}}
            )
        )
        operator_key, carol_key = await upstream_key(upstream, "operator"), await upstream_key(upstream, "carol")
        gateway = await stack.enter_async_context(
            running_gateway(
                {
                    "mcpServers": {"crm": {"url": f"{upstream.url}/mcp", "type": "http"}},
                    "virtualServers": {"assistant": {"mode": "SMART"}},
                    "api_key": ADMIN,
                }
            )
        )
        await wait_until(lambda: gateway.hub.upstreams["crm"].status.authorization_required is not None)
        async with gateway.http({"x-api-key": ADMIN}) as admin:
            link = (await admin.post("/api/v1/upstreams/crm/authorize")).json()["authorizationUrl"]
            back = await sign_in_at_upstream(link, operator_key)
            assert "crm is connected for this gateway" in back.text
            await wait_until(lambda: gateway.hub.upstreams["crm"].is_ready)
            accounts = (await admin.get("/api/v1/upstreams/crm/accounts")).json()
            assert accounts == {"upstream": "crm", "wantsOAuth": True, "gateway": True, "users": []}
        # Not `credentialsRequired`: a caller without an account of their own uses the gateway's.
        for user in (None, "carol"):
            async with as_user(gateway, user) as client:
                assert await text_of(client, "crm_demo_echo", {"text": "shared"}) == (False, "shared")
            assert (await who_called(upstream))[-1] == "operator"
        # carol connects her own through SMART's manage_connections; then her calls carry hers.
        headers = {"x-api-key": ADMIN, "x-username": "carol"}
        async with gateway.client("streamable_http", server="assistant", headers=headers) as smart:
            status = (await smart.call_tool("manage_connections", {"action": "status"})).structured_content
            assert status["connections"][0]["credentials"] == "oauth: the gateway's"
            answer = await smart.call_tool("manage_connections", {"action": "connect", "upstream": "crm"})
            link = answer.structured_content["connections"][0]["authorizationUrl"]
            await sign_in_at_upstream(link, carol_key)
            status = (await smart.call_tool("manage_connections", {"action": "status"})).structured_content
            assert status["connections"][0]["credentials"] == "oauth: yours"
            result = await smart.call_tool("execute_tool", {"name": "crm_demo_echo", "arguments": {"text": "mine"}})
            assert not result.is_error, result
        assert (await who_called(upstream))[-1] == "carol"
        # The CLI: who is connected, a link for another user, disconnecting; none of it offline.
        env = {**os.environ, "MCPGATE_API_KEY": ADMIN, "MCPGATE_DATA_DIR": str(tmp_path)}
        listed = await run(env, "accounts", "list", "crm", gateway=gateway.url)
        assert listed.stdout.decode().split()[1:] == ["(the", "gateway)", "carol"]
        linked = await run(env, "accounts", "connect", "crm", "--user", "dave", gateway=gateway.url)
        assert f"{upstream.url}/oauth/authorize?" in linked.stdout.decode()
        await run(env, "accounts", "disconnect", "crm", "--user", "carol", gateway=gateway.url)
        async with gateway.http({"x-api-key": ADMIN}) as admin:
            assert (await admin.get("/api/v1/upstreams/crm/accounts")).json()["users"] == []
            answer = await admin.delete("/api/v1/users/carol/connections/crm/authorization")
            assert answer.status_code == 404
        offline = await run(env, "accounts", "list", "crm", "--offline", check=False)
        assert offline.returncode == 1 and "needs the running gateway" in offline.stderr.decode()


async def test_an_authorization_server_out_of_reach_is_a_502_the_api_document_declares() -> None:
    # Found by schemathesis: an upstream at a closed port has no authorization server to register
    # at, and the link it was asked for cannot be made while the request waits.
    closed = "http://127.0.0.1:9/mcp"
    async with running_gateway({"mcpServers": {"crm": {"url": closed, "type": "http"}}, "api_key": ADMIN}) as gateway:
        async with gateway.http({"x-api-key": ADMIN}) as admin:
            paths = ["/api/v1/upstreams/crm/authorize", "/api/v1/users/alice/connections/crm/authorize"]
            for path in paths:
                answer = await admin.post(path)
                assert answer.status_code == 502, answer.text
                assert "http://127.0.0.1:9/" in answer.json()["error"]["message"], answer.text
            document = (await admin.get("/api/v1/openapi.json")).json()
    for path in ["/api/v1/upstreams/{name}/authorize", "/api/v1/users/{name}/connections/{upstream}/authorize"]:
        assert {"502", "504"} <= set(document["paths"][path]["post"]["responses"]), path


async def test_an_authorization_server_too_slow_to_register_at_is_a_504(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from mcpgate.accounts import discovery
    from mcpgate.errors import UpstreamTimeout

    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # the request is read by nobody and answered never

    listener = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    monkeypatch.setattr(discovery, "_TIMEOUT", 0.3)
    origin = f"http://127.0.0.1:{port}"
    server = discovery.AuthorizationServer.at_default_paths(f"{origin}/mcp")
    try:
        with pytest.raises(UpstreamTimeout, match=f"registering at {origin}/register took longer than"):
            await discovery.register(server, "http://127.0.0.1:1/oauth/callback", "mcpgate (crm)")
    finally:
        for writer in held:
            writer.close()
        listener.close()
        await listener.wait_closed()
