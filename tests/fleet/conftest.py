"""Fixtures of the fleet tests: real replicas, a real balancer, the machine's PostgreSQL and Redis.

async def test_something(fleet: Fleet) -> None:             # two replicas, started and in rotation
    async with fleet.http() as client: ...

async def test_other(fleet_factory, private_redis) -> None:
    async with fleet_factory(3, redis=private_redis, api_key="k") as fleet: ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.balancer import require_haproxy
from tests.fleet.cluster import Fleet, PrivateRedis

FleetFactory = Callable[..., Fleet]
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture
def fleet_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FleetFactory]:
    """`fleet_factory(replicas=2, **options)` → a `Fleet` to enter with `async with` (see `Fleet`
    for the options); whatever is still running at the end of the test is killed. When the test
    fails, the end of each process's log is printed (pytest shows it under the failure)."""
    require_haproxy()
    made: list[Fleet] = []

    def make(replicas: int = 2, **options: Any) -> Fleet:
        fleet = Fleet(tmp_path / f"fleet{len(made)}", replicas, **options)
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.kill_now()
        if request.node.stash.get(_FAILED, False):
            print(fleet.logs())


@pytest.fixture
async def fleet(fleet_factory: FleetFactory) -> AsyncIterator[Fleet]:
    """Two replicas of the bundled demo configuration behind the balancer, both in rotation."""
    async with fleet_factory() as running:
        yield running


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    """A redis-server of the test's own (`.url`, `.restart()`), for tests that stop or restart Redis."""
    server = PrivateRedis(tmp_path / "redis")
    try:
        async with server:
            yield server
    finally:
        server.kill_now()
