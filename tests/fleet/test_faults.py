"""Faults under load (#27): a replica killed (SIGKILL) while clients call tools through the
balancer, and the fleet's Redis restarted. Official SDK clients throughout."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest

from tests.fleet.clients import ServedBy, fleet_client
from tests.fleet.cluster import PrivateRedis
from tests.fleet.conftest import FleetFactory

pytestmark = pytest.mark.anyio


@dataclass
class Caller:
    """One client calling `demo_echo` in a loop through the balancer, opening a new session when
    its own is gone (as a client told "session not found" does)."""

    name: str
    transport: str
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    failed_at: list[float] = field(default_factory=list)  # when the call (or connection) that failed began
    failed_in: list[float] = field(default_factory=list)  # when the session it failed in began to connect
    sessions: int = 0
    owners: list[str] = field(default_factory=list)  # the replica holding each of its sessions

    async def run(self, url: str, stop: anyio.Event, warmed: anyio.Event | None = None) -> None:
        while not stop.is_set():
            seen = ServedBy()
            began = connecting = time.monotonic()
            try:
                # A call unanswered this long is an error (a client of a killed replica must see one).
                async with fleet_client(url, self.transport, seen, read_timeout_seconds=10) as client:
                    self.sessions += 1
                    self.owners.append(seen.first or "?")
                    while not stop.is_set():
                        text = f"{self.name} {self.calls}"
                        began = time.monotonic()
                        result = await client.call_tool("demo_echo", {"text": text})
                        if result.is_error or result.content[0].text != text:
                            self.errors.append(f"wrong answer to {text!r}: {result.content}")
                            self.failed_at.append(began)
                            self.failed_in.append(connecting)
                        self.calls += 1
                        # Paced: clients flat out would take this test process's one core, and with it
                        # the balancer checks and the test's own timing.
                        await anyio.sleep(0.02)
                        if warmed is not None and self.calls == 5:
                            warmed.set()
            # What a client saw is the finding; then it connects again. (The SDK's SSE client ends
            # with a group holding a cancellation of its own tasks: not this task's.)
            except (Exception, BaseExceptionGroup) as exc:
                self.errors.append(_described(exc))
                self.failed_at.append(began)
                self.failed_in.append(connecting)
                await anyio.sleep(0.2)  # a client's pause before it connects again

    def failed_since(self, moment: float) -> list[str]:
        return [error for error, began in zip(self.errors, self.failed_at, strict=True) if began >= moment]

    def failed_in_sessions_since(self, moment: float) -> list[str]:
        return [error for error, began in zip(self.errors, self.failed_in, strict=True) if began >= moment]


def _described(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_described(inner) for inner in exc.exceptions)
    request = getattr(exc, "_request", None)
    where = f" ({request.method} {request.url} {dict(request.headers)})" if request is not None else ""
    return f"{type(exc).__name__}: {exc}{where}"


async def test_killing_a_replica_under_load_touches_only_its_own_clients(fleet_factory: FleetFactory) -> None:
    async with fleet_factory(3) as fleet:
        transports = itertools.cycle(["streamable_http", "sse", "stateless"])
        callers = [Caller(f"c{index}", next(transports)) for index in range(9)]
        written: list[str] = []
        stop = anyio.Event()
        warmed = [anyio.Event() for _ in callers]

        async def write_registry() -> None:
            async with fleet.http() as http:
                for index in itertools.count():
                    if stop.is_set():
                        return
                    body = {"name": f"written-{index}", "mode": "NORMAL", "selectedTools": ["demo_echo"]}
                    try:
                        answer = await http.post("/api/v1/mcp_manager", json=body)
                    except httpx.TransportError:  # not acknowledged: may or may not have been written
                        await anyio.sleep(0.1)
                        continue
                    if answer.status_code == 201:
                        written.append(body["name"])

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for caller, ready in zip(callers, warmed, strict=True):
                    tg.start_soon(caller.run, fleet.url, stop, ready)
                tg.start_soon(write_registry)
                for ready in warmed:
                    await ready.wait()
                victim = fleet.replica("r0")
                calls_before = sum(caller.calls for caller in callers)
                await victim.kill()
                assert fleet.balancer is not None
                await fleet.balancer.wait_for(up={"r1", "r2"})
                # Load goes on: every caller makes calls again after the kill.
                marks = [caller.calls for caller in callers]
                while any(caller.calls < mark + 10 for caller, mark in zip(callers, marks, strict=True)):
                    await anyio.sleep(0.05)
                stop.set()
        assert sum(caller.calls for caller in callers) > calls_before
        for caller in callers:
            held_by_victim = "r0" in caller.owners[:1] and caller.transport != "stateless"
            if held_by_victim:  # it saw its session end, started another elsewhere, and went on
                assert caller.sessions >= 2 and caller.owners[-1] != "r0", (caller.name, caller.owners, caller.errors)
            else:  # a client of another replica, or stateless: not one error
                assert caller.errors == [], (caller.name, caller.owners, caller.errors)
                assert caller.sessions == 1, (caller.name, caller.owners)
        assert any("r0" in caller.owners[:1] for caller in callers if caller.transport != "stateless")
        async with httpx.AsyncClient(timeout=10) as http:
            for survivor in ("r1", "r2"):
                stored = await server_names(http, fleet.replica(survivor).url)
                assert set(written) <= stored, sorted(set(written) - stored)
        assert written


async def test_the_fleet_recovers_from_a_redis_restart_under_load(
    fleet_factory: FleetFactory, private_redis: PrivateRedis
) -> None:
    async with fleet_factory(2, redis=private_redis) as fleet:
        r0, r1 = fleet.replicas
        callers = [Caller(f"c{index}", transport) for index, transport in enumerate(["streamable_http", "sse"] * 2)]
        stop = anyio.Event()
        warmed = [anyio.Event() for _ in callers]
        async with httpx.AsyncClient(timeout=10) as http:
            with anyio.fail_after(90):
                async with anyio.create_task_group() as tg:
                    for caller, ready in zip(callers, warmed, strict=True):
                        tg.start_soon(caller.run, fleet.url, stop, ready)
                    for ready in warmed:
                        await ready.wait()

                    await private_redis.stop()
                    for replica in (r0, r1):  # each says so while it cannot reach Redis
                        await wait_for_health(http, replica.url, redis="unreachable")
                    # A change committed meanwhile is served everywhere once Redis is back.
                    made = await http.post(
                        f"{r0.url}/api/v1/mcp_manager", json={"name": "during", "selectedTools": ["demo_echo"]}
                    )
                    assert made.status_code == 201, made.text

                    await private_redis.start()
                    with anyio.fail_after(10):  # "within seconds"
                        for replica in (r0, r1):
                            await wait_for_health(http, replica.url, redis="ok")
                        while (await http.get(f"{r1.url}/servers/during/tools")).status_code != 200:
                            await anyio.sleep(0.05)
                    recovered_at = time.monotonic()
                    marks = [caller.calls for caller in callers]
                    while any(caller.calls < mark + 10 for caller, mark in zip(callers, marks, strict=True)):
                        await anyio.sleep(0.05)
                    stop.set()
        # Once recovered every client calls on (10 more answers each, above). A session opened after
        # that never fails. One the outage broke may fail after it: an SDK SSE client whose POST was
        # in flight when Redis went (answered 502: the relay cannot know whether the owner ran it)
        # cannot send again, and finds out at its next call. It connects anew and goes on.
        for caller in callers:
            assert not caller.failed_in_sessions_since(recovered_at), (caller.name, caller.errors)
            if caller.failed_since(recovered_at):
                assert caller.sessions >= 2, (caller.name, caller.errors)


async def server_names(http: httpx.AsyncClient, url: str) -> set[str]:
    """Every virtual server's name, page after page."""
    names: set[str] = set()
    params: dict[str, str | int] = {"limit": 100}
    while True:
        page = (await http.get(f"{url}/api/v1/mcp_manager", params=params)).json()
        names.update(server["name"] for server in page["data"])
        if not page["pagination"]["hasMore"]:
            return names
        params = {"limit": 100, "cursor": page["pagination"]["nextCursor"]}


async def fresh_health(url: str) -> dict[str, Any]:
    """/health over a new connection (so the kernel may hand it to another worker)."""
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"{url}/health")).json()


async def wait_for_health(http: httpx.AsyncClient, url: str, *, redis: str, timeout: float = 10) -> None:
    report = {}
    try:
        with anyio.fail_after(timeout):
            while True:
                report = (await http.get(f"{url}/health")).json()
                if report["fleet"]["redis"] == redis:
                    assert report["status"] == ("ok" if redis == "ok" else "degraded"), report
                    return
                await anyio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{url}/health never said redis {redis!r}: {report}") from None


async def test_a_stateless_request_needs_no_redis(fleet_factory: FleetFactory, private_redis: PrivateRedis) -> None:
    """The 2026-07-28 revision carries no session: any replica answers it alone, Redis or not."""
    async with fleet_factory(2, redis=private_redis) as fleet:
        await private_redis.stop()
        seen = ServedBy()
        async with fleet_client(fleet.url, "stateless", seen) as client:
            for index in range(6):
                assert (await client.call_tool("demo_echo", {"text": str(index)})).content[0].text == str(index)
        assert set(seen.counts) == {"r0", "r1"}
        await private_redis.start()  # for the fleet's own cleanup of its keys


async def test_with_workers_one_port_serves_sessions_shared_between_processes(fleet_factory: FleetFactory) -> None:
    """`serve --workers 2`: two processes on one port (each a replica), here one behind the balancer."""
    async with fleet_factory(1, args=["--workers", "2"]) as fleet:
        replicas: set[str] = set()
        with anyio.fail_after(20):
            while len(replicas) < 2:  # new connections are spread over both workers
                replicas.add((await fresh_health(fleet.replicas[0].url))["fleet"]["replica"])
        with anyio.fail_after(5):  # each worker sees the other within a beat or two
            while True:
                views = [(await fresh_health(fleet.replicas[0].url))["fleet"] for _ in range(6)]
                if all({replica["id"] for replica in view["replicas"]} >= replicas for view in views):
                    break
                await anyio.sleep(0.1)
        callers = [Caller(f"w{index}", transport) for index, transport in enumerate(["streamable_http", "sse"] * 3)]
        stop = anyio.Event()
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for caller in callers:
                    tg.start_soon(caller.run, fleet.url, stop)
                while any(caller.calls < 15 for caller in callers):
                    await anyio.sleep(0.05)
                stop.set()
        assert [caller.errors for caller in callers] == [[]] * len(callers)
