"""A change made through any replica is served by every replica within a second, and connected
clients of every replica hear of it (#27): upstreams, virtual servers, keys, users and their
credentials; rate limits counted once across the fleet; audit rows from every replica."""

from __future__ import annotations

import sys
import time
from typing import Any

import anyio
import httpx
import mcp
import mcp_types
import pytest

from tests.conftest import ECHO_SERVER
from tests.fleet.clients import INITIALIZE, JSON_AND_SSE, ServedBy, fleet_client
from tests.fleet.cluster import Fleet
from tests.fleet.conftest import FleetFactory

pytestmark = pytest.mark.anyio

ADMIN_KEY = "fleet-admin-key"
WITHIN = 1.0  # seconds: what the issue asks of a change made on another replica


def echo_upstream(name: str = "echo") -> dict[str, Any]:
    return {"name": name, "kind": "stdio", "command": sys.executable, "args": [ECHO_SERVER, "--stdio", "--label", name]}


async def served_within(seconds: float, check: Any) -> float:
    """How long `check()` (async, True once the change is served) took to hold; fails past `seconds`."""
    started = time.monotonic()
    with anyio.fail_after(seconds):
        while not await check():
            await anyio.sleep(0.02)
    return time.monotonic() - started


async def test_a_virtual_server_made_on_one_replica_is_served_by_the_other(fleet: Fleet) -> None:
    r0, r1 = fleet.replicas
    async with httpx.AsyncClient(timeout=10) as http:
        for replica in (r0, r1):  # what the first such requests load and start is not what is measured:
            assert (await http.get(f"{replica.url}/servers/curated/tools")).status_code == 404
            assert (await http.get(f"{replica.url}/tools")).status_code == 200  # the REST clients' link to demo
        created = await http.post(
            f"{r0.url}/api/v1/mcp_manager", json={"name": "curated", "mode": "NORMAL", "selectedTools": ["demo_echo"]}
        )
        assert created.status_code == 201, created.text

        async def served() -> bool:
            answer = await http.get(f"{r1.url}/servers/curated/tools")
            return answer.status_code == 200 and [t["name"] for t in answer.json()["tools"]] == ["demo_echo"]

        await served_within(WITHIN, served)
        server_id = created.json()["id"]
        assert (await http.delete(f"{r1.url}/api/v1/mcp_manager/{server_id}")).status_code == 204

        async def gone() -> bool:
            return (await http.get(f"{r0.url}/servers/curated/tools")).status_code == 404

        await served_within(WITHIN, gone)


async def test_clients_of_every_replica_hear_of_an_upstream_added_on_another(fleet: Fleet) -> None:
    r0, r1 = fleet.replicas
    heard: dict[str, anyio.Event] = {"r0": anyio.Event(), "r1": anyio.Event()}

    def listener(name: str) -> Any:
        async def handle(message: Any) -> None:
            if isinstance(message, mcp_types.ToolListChangedNotification):
                heard[name].set()

        return handle

    async def hears_of_echo(name: str, client: Any) -> None:
        """As a client does: on each notice, list again, until the new tools are there."""
        while True:
            await heard[name].wait()
            heard[name] = anyio.Event()
            if any(t.name == "echo_whoami" for t in (await client.list_tools()).tools):
                return

    # One session begun on each replica (its GET stream lives there), reached through the balancer.
    async with (
        mcp.Client(f"{r0.url}/mcp", mode="legacy", message_handler=listener("r0")) as on_r0,
        fleet_client(r1.url, "sse", ServedBy(), message_handler=listener("r1")) as on_r1,
        httpx.AsyncClient(timeout=10) as http,
    ):
        for client in (on_r0, on_r1):
            assert not any(t.name.startswith("echo_") for t in (await client.list_tools()).tools)
        added = await http.post(f"{r1.url}/api/v1/upstreams", json=echo_upstream())
        assert added.status_code == 201, added.text
        # A child process to start on each replica; a notice may come first (the upstream, still
        # connecting), but one must follow once its tools are there.
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(hears_of_echo, "r0", on_r0)
                tg.start_soon(hears_of_echo, "r1", on_r1)
        for client in (on_r0, on_r1):
            result = await client.call_tool("echo_whoami", {})
            assert result.content[0].text == "echo"


async def test_a_key_made_on_one_replica_works_on_the_other_and_its_revocation_ends_sessions_everywhere(
    fleet_factory: FleetFactory,
) -> None:
    async with fleet_factory(api_key=ADMIN_KEY) as fleet:
        r0, r1 = fleet.replicas
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(timeout=10) as http:
            for replica in (r0, r1):  # the REST clients' link to demo starts a child: not what is measured
                assert (await http.get(f"{replica.url}/tools", headers=admin)).status_code == 200
            made = await http.post(
                f"{r0.url}/api/v1/keys", json={"name": "ci", "scopes": ["tools:call"]}, headers=admin
            )
            assert made.status_code == 201, made.text
            key, key_id = made.json()["key"], made.json()["id"]
            bearer = {"authorization": f"Bearer {key}"}

            async def accepted() -> bool:
                return (await http.get(f"{r1.url}/tools", headers=bearer)).status_code == 200

            await served_within(WITHIN, accepted)

            # Sessions opened with it: an SSE stream on r1, a Streamable HTTP session on r0.
            started = await http.post(f"{r0.url}/mcp", json=INITIALIZE, headers={**JSON_AND_SSE, **bearer})
            session = {**JSON_AND_SSE, **bearer, "mcp-session-id": started.headers["mcp-session-id"]}
            async with http.stream("GET", f"{r1.url}/sse", headers=bearer) as stream:
                assert stream.status_code == 200
                revoked = await http.delete(f"{r0.url}/api/v1/keys/{key_id}", headers=admin)
                assert revoked.status_code in (200, 204), revoked.text

                async def refused() -> bool:
                    return (await http.get(f"{r1.url}/tools", headers=bearer)).status_code == 401

                await served_within(WITHIN, refused)
                with anyio.fail_after(WITHIN):  # the stream on r1 is ended by r1 itself
                    async for _ in stream.aiter_bytes():
                        pass
            listed = await http.post(
                f"{r1.url}/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=session
            )
            assert listed.status_code in (401, 404), listed.text


async def test_a_users_credentials_changed_on_one_replica_are_used_by_the_other(fleet: Fleet) -> None:
    r0, r1 = fleet.replicas
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{r0.url}/api/v1/upstreams", json=echo_upstream())).status_code == 201
        assert (await http.post(f"{r0.url}/api/v1/users", json={"name": "alice"})).status_code == 201
        put = await http.put(f"{r0.url}/api/v1/users/alice/connections/echo", json={"env": {"TOKEN": "first"}})
        assert put.status_code in (200, 201), put.text

        async def token_seen_on(replica: Any, expected: str) -> bool:
            answer = await http.post(
                f"{replica.url}/call-tool",
                json={"name": "echo_env", "arguments": {"name": "TOKEN"}},
                headers={"x-username": "alice"},
            )
            return answer.status_code == 200 and answer.json()["content"][0]["text"] == expected

        with anyio.fail_after(15):  # the user's own child starts on r1 with r0's credential
            while not await token_seen_on(r1, "first"):
                await anyio.sleep(0.05)
        put = await http.put(f"{r1.url}/api/v1/users/alice/connections/echo", json={"env": {"TOKEN": "second"}})
        assert put.status_code in (200, 201), put.text
        with anyio.fail_after(15):  # r0 stops its child of the old credential; a new one starts
            while not await token_seen_on(r0, "second"):
                await anyio.sleep(0.05)
        assert (await http.delete(f"{r1.url}/api/v1/users/alice")).status_code == 204

        async def no_credentials_on_r0() -> bool:
            return not await token_seen_on(r0, "second")

        await served_within(WITHIN, no_credentials_on_r0)


async def test_rate_limits_are_counted_once_across_the_fleet(fleet_factory: FleetFactory) -> None:
    async with fleet_factory(env={"MCPGATE_RATE_LIMITS__PER_IP": "6/minute"}) as fleet:
        async with fleet.http() as http:
            answers = [await http.get("/tools") for _ in range(10)]
        assert {answer.headers["x-served-by"] for answer in answers} == {"r0", "r1"}
        # Counted apart, each replica would let 6 through: 10 in all.
        assert [answer.status_code for answer in answers] == [200] * 6 + [429] * 4


async def test_audit_rows_come_from_every_replica_and_survive_a_kill(fleet: Fleet) -> None:
    r0, r1 = fleet.replicas
    async with httpx.AsyncClient(timeout=10) as http:
        for replica in (r0, r1, r0, r1, r0):
            called = await http.post(f"{replica.url}/call-tool", json={"name": "demo_echo", "arguments": {"text": "a"}})
            assert called.status_code == 200
        await r0.kill()  # the moment after its last answer: what it acknowledged must be stored
        rows = (await http.get(f"{r1.url}/api/v1/audit", params={"kind": "tool_call", "limit": 50})).json()["data"]
    assert len([row for row in rows if row["tool"] == "demo_echo"]) == 5
