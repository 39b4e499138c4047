"""The fleet harness itself: real replicas behind a real HAProxy, as the scale-out tests use them."""

from __future__ import annotations

import secrets
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import wait_until
from tests.fleet.cluster import Fleet, PrivateRedis, count_keys
from tests.fleet.conftest import FleetFactory
from tests.store.conftest import POSTGRES

pytestmark = pytest.mark.anyio


def one_connection() -> httpx.Limits:
    return httpx.Limits(max_connections=1, max_keepalive_connections=1)


def answered_by(fleet: Fleet, marker: str) -> list[str]:
    """The replicas whose access log shows a request carrying `marker` (a query name: the access
    log masks query values, never names)."""
    return [replica.name for replica in fleet.replicas if f"{marker}=***" in replica.log()]


def saved_files(directory: Path) -> list[Path]:
    return list(directory.glob("*.rdb")) + list(directory.glob("*.aof"))


async def schema_exists(database_url: str) -> bool:
    schema = database_url.rpartition("search_path=")[2]
    connection = await asyncpg.connect(POSTGRES)
    try:
        return bool(await connection.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema))
    finally:
        await connection.close()


async def test_both_replicas_answer_health_through_the_balancer(fleet: Fleet) -> None:
    for replica in fleet.replicas:
        assert (await replica.health()).status_code == 200
    async with fleet.http() as client:
        responses = [await client.get("/health") for _ in range(4)]
    assert [response.status_code for response in responses] == [200] * 4
    assert all(response.json()["status"] == "ok" for response in responses)
    assert {response.headers["x-served-by"] for response in responses} == {"r0", "r1"}


async def test_requests_on_one_kept_alive_connection_alternate_between_replicas(fleet: Fleet) -> None:
    assert fleet.balancer is not None
    token = secrets.token_hex(4)
    accepted = await fleet.balancer.sessions()
    async with fleet.http(limits=one_connection()) as client:
        served = []
        for index in range(10):
            response = await client.get(f"/health?probe_{token}_{index}=1")
            assert response.status_code == 200
            served.append(response.headers["x-served-by"])
    # One client connection reached the balancer, and each of its requests went elsewhere than the last.
    assert await fleet.balancer.sessions() - accepted == 1
    assert all(first != second for first, second in zip(served, served[1:], strict=False)), served
    assert served.count("r0") == served.count("r1") == 5
    # What the header says is what the replicas saw: each request is in the access log of exactly
    # the replica named, and of no other.
    for index, name in enumerate(served):
        await wait_until(lambda index=index: bool(answered_by(fleet, f"probe_{token}_{index}")), timeout=5)
        assert answered_by(fleet, f"probe_{token}_{index}") == [name]


async def test_an_sse_stream_through_the_balancer_is_not_buffered(fleet: Fleet) -> None:
    async with fleet.http() as client, client.stream("GET", "/sse") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-served-by"] in ("r0", "r1")
        with anyio.fail_after(5):  # the first event arrives while the stream stays open
            lines = response.aiter_lines()
            assert await anext(lines) == "event: endpoint"
            assert (await anext(lines)).startswith("data: /messages?sessionId=")


async def test_requests_keep_succeeding_when_a_replica_is_killed(fleet: Fleet) -> None:
    assert fleet.balancer is not None
    victim, survivor = fleet.replicas
    family = victim.processes()
    assert len(family) >= 2  # the gateway and its stdio demo upstream
    async with fleet.http(limits=one_connection()) as client:
        for _ in range(4):  # the connection has been to both
            assert (await client.get("/health")).status_code == 200
        killed_at = anyio.current_time()
        await victim.kill()
        assert not [process for process in family if process.alive()]  # its upstreams died with it
        # Before the health checks notice, a request sent to it is refused and retried on the other.
        served = []
        for _ in range(20):
            response = await client.get("/health")
            assert response.status_code == 200, response.text
            served.append(response.headers["x-served-by"])
        assert set(served) == {survivor.name}
    await fleet.balancer.wait_for(up={survivor.name}, timeout=5)
    assert anyio.current_time() - killed_at < 2.0


async def test_a_restarted_replica_is_taken_back_into_rotation(fleet: Fleet) -> None:
    assert fleet.balancer is not None
    victim = fleet.replicas[0]
    port = victim.port
    await victim.kill()
    await fleet.balancer.wait_for(up={"r1"}, timeout=5)
    await victim.start()
    assert victim.port == port
    await fleet.balancer.wait_for(up={"r0", "r1"}, timeout=5)
    async with fleet.http(limits=one_connection()) as client:
        served = {(await client.get("/health")).headers["x-served-by"] for _ in range(4)}
    assert served == {"r0", "r1"}
    assert "--- r0 killed (SIGKILL)" in victim.log() and victim.log().count("--- r0 started") == 2


async def test_a_replica_stopped_with_sigterm_leaves_rotation_and_nothing_running(fleet: Fleet) -> None:
    assert fleet.balancer is not None
    replica = fleet.replicas[1]
    family = replica.processes()
    await replica.stop()
    assert not replica.running and not [process for process in family if process.alive()]
    await fleet.balancer.wait_for(up={"r0"}, timeout=5)
    async with fleet.http() as client:
        assert {(await client.get("/health")).headers["x-served-by"] for _ in range(4)} == {"r0"}


async def test_the_private_redis_restarts_on_the_same_port_and_empty(private_redis: PrivateRedis) -> None:
    port = private_redis.port
    client = aioredis.Redis.from_url(private_redis.url)
    try:
        await client.set("kept", "not across a restart")
        await private_redis.restart()
        assert private_redis.port == port and private_redis.running
        assert await client.get("kept") is None  # the client reconnects; nothing was saved
        await private_redis.kill()
        with pytest.raises(aioredis.ConnectionError):
            await client.ping()
        await private_redis.start()
        assert await client.ping()
    finally:
        await client.aclose()
    assert saved_files(private_redis.directory) == []


async def test_closing_a_fleet_leaves_no_process_schema_or_key_even_when_the_test_fails(
    fleet_factory: FleetFactory,
) -> None:
    fleet = fleet_factory(1)
    with pytest.raises(RuntimeError, match="the test failed"):
        async with fleet:
            assert fleet.balancer is not None and fleet.balancer.log() is not None
            processes = [*fleet.replicas[0].processes(), *fleet.balancer.processes()]
            redis = aioredis.Redis.from_url(fleet.redis_url)
            try:  # keys of both kinds, besides whatever the replicas keep there
                await redis.set(f"{fleet.prefix}:harness:string", "r0")
                await redis.hset(f"{fleet.prefix}:harness:hash", "r0", "alive")
            finally:
                await redis.aclose()
            assert await count_keys(fleet.redis_url, fleet.prefix) >= 2
            assert await schema_exists(fleet.database_url)
            raise RuntimeError("the test failed")
    assert len(processes) >= 3  # a replica, its demo upstream, haproxy
    assert not [process for process in processes if process.alive()]
    assert await count_keys(fleet.redis_url, fleet.prefix) == 0
    assert not await schema_exists(fleet.database_url)
