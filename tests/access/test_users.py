"""End users: a request with x-username runs in that user's context — the user's stored
headers for remote upstreams, the user's own child (with the user's env) for stdio ones —
and one user's credentials never reach another's calls, also under concurrency."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from sqlalchemy import select

from mcpgate.hub.profiles import NONE
from mcpgate.store.users import connections_table
from tests.conftest import running_gateway, serve_asgi, stdio_echo, wait_until
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio


def config(upstream_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "mcpServers": {
            "crm": {"url": f"{upstream_url}/mcp", "type": "http", "credentialsRequired": True},
            "local": stdio_echo("local"),
            "other": stdio_echo("other"),
        },
        **extra,
    }


async def text(client: Any, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    return result.content[0].text


async def test_each_users_headers_and_env_reach_only_that_users_calls() -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
        gateway.http() as http,
    ):
        for who in ("alice", "bob"):
            stored = await http.put(
                f"/api/v1/users/{who}/connections/crm", json={"headers": {"Authorization": f"Bearer {who}-secret"}}
            )
            assert stored.status_code == 200, stored.text
            assert stored.json()["headers"] == {"Authorization": "********"}
            assert (
                await http.put(f"/api/v1/users/{who}/connections/local", json={"env": {"TOKEN": f"{who}-env"}})
            ).status_code == 200
        async with gateway.registry.database.transaction() as tx:
            raw = " ".join(str(v) for row in (await tx.execute(select(connections_table))).all() for v in row)
        assert "alice-secret" not in raw and "bob-env" not in raw

        seen: dict[str, set[str]] = {"alice": set(), "bob": set()}
        pids: dict[str, set[str]] = {"alice": set(), "bob": set()}

        async def as_user(who: str, transport: str) -> None:
            async with gateway.client(transport, headers={"x-username": who}) as client:

                async def call() -> None:
                    seen[who].add(await text(client, "crm_header", name="authorization"))
                    seen[who].add(await text(client, "local_env", name="TOKEN"))
                    pids[who].add(await text(client, "local_pid"))

                async with anyio.create_task_group() as tg:
                    for _ in range(10):
                        tg.start_soon(call)

        async with anyio.create_task_group() as tg:
            for transport in ("sse", "streamable_http"):
                tg.start_soon(as_user, "alice", transport)
                tg.start_soon(as_user, "bob", transport)
        assert seen == {"alice": {"Bearer alice-secret", "alice-env"}, "bob": {"Bearer bob-secret", "bob-env"}}
        assert len(pids["alice"]) == 1 and len(pids["bob"]) == 1 and pids["alice"] != pids["bob"]

        async with gateway.client("streamable_http") as anonymous:  # the default context
            assert await text(anonymous, "local_env", name="TOKEN") == ""
            shared_pid = await text(anonymous, "local_pid")
            assert shared_pid not in pids["alice"] | pids["bob"]
            refused = await anonymous.call_tool("crm_header", {"name": "authorization"})
            assert refused.is_error and "x-username" in refused.content[0].text
        async with gateway.client("sse", headers={"x-username": "carol"}) as carol:  # no stored connection
            assert (await carol.call_tool("crm_header", {"name": "authorization"})).is_error
            assert await text(carol, "local_env", name="TOKEN") == ""

        listed = (await http.get("/api/v1/users")).json()["data"]
        assert {u["name"]: u["connections"] for u in listed} == {"alice": ["crm", "local"], "bob": ["crm", "local"]}


async def test_changing_or_removing_credentials_takes_effect_on_the_next_call() -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
        gateway.http() as http,
    ):
        await http.put("/api/v1/users/alice/connections/local", json={"env": {"TOKEN": "one"}})
        async with gateway.client("streamable_http", headers={"x-username": "alice"}) as client:
            assert await text(client, "local_env", name="TOKEN") == "one"
            kept = await http.put(
                "/api/v1/users/alice/connections/local", json={"env": {"TOKEN": "********", "X": "2"}}
            )
            assert kept.status_code == 200
            assert await text(client, "local_env", name="TOKEN") == "one"  # the mask kept the stored value
            assert await text(client, "local_env", name="X") == "2"
            await http.put("/api/v1/users/alice/connections/local", json={"env": {"TOKEN": "two"}})
            assert await text(client, "local_env", name="TOKEN") == "two"
            assert (await http.delete("/api/v1/users/alice/connections/local")).status_code == 204
            assert await text(client, "local_env", name="TOKEN") == ""


async def test_idle_user_children_are_stopped_and_capped_per_user() -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream, userChildIdleSeconds=0.4, maxChildrenPerUser=1)) as gateway,
        gateway.http() as http,
    ):
        await http.put("/api/v1/users/alice/connections/local", json={"env": {"TOKEN": "a"}})
        await http.put("/api/v1/users/alice/connections/other", json={"env": {"TOKEN": "a2"}})
        children = gateway.hub.children.of_users

        def busy() -> bool:
            local = children.get(("alice", "local", NONE))  # alice's child for clients that declare nothing
            return local is not None and local.connection.in_flight == 1

        async with gateway.client("streamable_http", headers={"x-username": "alice"}) as client:
            assert await text(client, "local_env", name="TOKEN") == "a"
            async with anyio.create_task_group() as calls:
                # A call in flight keeps alice's child from idling, however slow the machine: no window.
                calls.start_soon(client.call_tool, "local_wait", {"seconds": 60})
                await wait_until(busy)
                capped = await client.call_tool("other_env", {"name": "TOKEN"})
                refusal = capped.content[0].text
                assert capped.is_error and refusal.startswith("upstream 'other' is unavailable: this user already")
                assert refusal.endswith("(maxChildrenPerUser)")
                calls.cancel_scope.cancel()  # the client gives up on the wait: the SDK cancels it upstream
            await wait_until(lambda: not children, timeout=10)  # then idle, and stopped
            assert await text(client, "other_env", name="TOKEN") == "a2"  # room again


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/users/alice/connections/crm", {"env": {"A": "b"}}, 422),  # a remote upstream takes headers
        ("/api/v1/users/alice/connections/local", {"headers": {"A": "b"}}, 422),  # a stdio one takes env
        ("/api/v1/users/alice/connections/local", {}, 422),
        ("/api/v1/users/alice/connections/ghost", {"env": {"A": "b"}}, 404),
        ("/api/v1/users/bad%20name/connections/local", {"env": {"A": "b"}}, 422),
    ],
)
async def test_bad_connections_are_refused_and_nothing_is_stored(path: str, body: dict, status: int) -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
        gateway.http() as http,
    ):
        response = await http.put(path, json=body)
        assert response.status_code == status, response.text
        assert (await http.get("/api/v1/users")).json()["data"] == []
