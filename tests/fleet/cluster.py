"""A fleet of real `mcpgate serve` processes behind HAProxy, sharing PostgreSQL and Redis: what the
scale-out tests (#27) run against.

    async with Fleet(tmp_path, replicas=2) as fleet:
        async with fleet.http() as client:                 # through the balancer
            response = await client.get("/health")
            response.headers["x-served-by"]                # "r0" or "r1": which replica answered
        await fleet.replicas[0].kill()                     # SIGKILL, as a crash would be
        await fleet.balancer.wait_for(up={"r1"})           # the health checks have seen it
        await fleet.replicas[0].start()                    # same port, same data directory

Each replica is `mcpgate serve --host 127.0.0.1 --port <its own>` with the environment of a fleet
(`MCPGATE_DATABASE_URL` on a PostgreSQL schema of the test's own, `MCPGATE_REDIS_URL`,
`MCPGATE_FLEET__KEY_PREFIX` of the test's own, one `MCPGATE_SECRET_KEY` for all), its output in
`<tmp_path>/<name>.log`. `PrivateRedis` is a `redis-server` of the test's own, for a test that
restarts Redis without disturbing the others that use the machine's. Closing the fleet stops
every process, drops the schema and deletes every key under the prefix, failed test or not.

It does not start containers (there is no engine on the test machines): the same topology as
compose.yaml, as processes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import httpx
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

from tests.fleet.balancer import Balancer
from tests.fleet.processes import Child, Running, free_port
from tests.store.conftest import POSTGRES, _create_schema, _drop_schema

REDIS = os.environ.get("MCPGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
START_TIMEOUT = 30.0


def mcpgate_command() -> list[str]:
    """The console script next to this interpreter (as a user runs it), else `python -m mcpgate`."""
    script = Path(sys.executable).with_name("mcpgate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mcpgate"]


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """An empty schema of the machine's PostgreSQL, dropped at the end; yields the database URL
    that puts a gateway in it."""
    schema = f"mcpgate_fleet_{secrets.token_hex(6)}"
    await _create_schema(schema)
    try:
        yield f"{POSTGRES}?search_path={schema}"
    finally:
        with anyio.CancelScope(shield=True):
            await _drop_schema(schema)


@asynccontextmanager
async def redis_prefix(url: str = REDIS) -> AsyncIterator[str]:
    """A key prefix of the test's own; every key under it is deleted at the end (SCAN, not KEYS:
    the machine's Redis is shared)."""
    prefix = f"mcpgate_test_{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        with anyio.CancelScope(shield=True):
            await delete_keys(url, prefix)


async def delete_keys(url: str, prefix: str) -> int:
    client = aioredis.Redis.from_url(url)
    deleted = 0
    try:
        with anyio.fail_after(10):
            batch: list[bytes] = []
            async for key in client.scan_iter(match=f"{prefix}*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += await client.delete(*batch)
                    batch.clear()
            if batch:
                deleted += await client.delete(*batch)
    finally:
        await client.aclose()
    return deleted


async def count_keys(url: str, prefix: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return len([key async for key in client.scan_iter(match=f"{prefix}*", count=500)])
    finally:
        await client.aclose()


class Replica:
    """One `mcpgate serve` process on a port chosen up front, so that it can be killed and started
    again where the balancer expects it."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        directory: Path,
        *,
        port: int | None = None,
        config: Path | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.env = dict(env)
        self.config = config
        self.args = list(args)
        self.directory = directory
        self._child = Child(name, directory / f"{name}.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._child.running

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def processes(self) -> list[Running]:
        """The gateway process and those it started (its stdio upstreams), as they are now."""
        return self._child.family()

    def command(self) -> list[str]:
        config = ["--config", str(self.config)] if self.config is not None else []
        return [*mcpgate_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port), *config, *self.args]

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start it (again) and wait until its /health answers 200."""
        await self._child.spawn(self.command(), self.env)
        await self.wait_healthy(timeout)

    async def wait_healthy(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Its /health report, once it answers 200; fails with its log if it exits or takes longer."""
        status = "no answer"
        try:
            with anyio.fail_after(timeout):
                async with httpx.AsyncClient(timeout=2) as client:
                    while True:
                        if not self._child.running:
                            raise AssertionError("exited")
                        try:
                            response = await client.get(f"{self.url}/health")
                            if response.status_code == 200:
                                return response.json()
                            status = f"{response.status_code} {response.text[:200]}"
                        except httpx.TransportError as exc:
                            status = repr(exc)
                        await anyio.sleep(0.05)
        except (TimeoutError, AssertionError) as exc:
            how = "exited" if str(exc) == "exited" else f"was not healthy within {timeout} s (last: {status})"
            raise AssertionError(f"replica {self.name} {how}; its log:\n{self._child.log_tail()}") from None

    async def health(self) -> httpx.Response:
        """GET /health of this replica itself, not through the balancer."""
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.get(f"{self.url}/health")

    async def kill(self) -> None:
        """SIGKILL to it and the upstreams it started: a crash."""
        await self._child.kill()

    async def stop(self) -> None:
        """SIGTERM: it stops serving, closes its upstreams and exits (SIGKILL after 15 s)."""
        await self._child.terminate()

    def kill_now(self) -> None:
        self._child.kill_now()

    def log(self) -> str:
        """Everything it wrote (stderr, and uvicorn's access log on stdout), across restarts."""
        return self._child.log()


class PrivateRedis:
    """A `redis-server` of the test's own on a free loopback port, keeping nothing on disk.

    async with PrivateRedis(tmp_path / "redis") as server:
        server.url                  # redis://127.0.0.1:<port>/0
        await server.restart()      # stop, start again on the same port: every key is gone
    """

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._child = Child("redis", directory / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._child.running

    async def start(self, timeout: float = 10) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory.mkdir(parents=True, exist_ok=True)
        # `--dir` too: nothing is saved, but a SAVE asked for by a client would write there.
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        await self._child.spawn([*command, "--dir", str(self.directory), "--daemonize", "no"])
        client = aioredis.Redis.from_url(self.url)
        try:
            with anyio.fail_after(timeout):
                while True:
                    if not self._child.running:
                        raise AssertionError(f"redis-server exited:\n{self._child.log_tail()}")
                    try:
                        if await client.ping():
                            return
                    except aioredis.ConnectionError:
                        await anyio.sleep(0.02)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        await self._child.terminate()

    async def kill(self) -> None:
        await self._child.kill()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def kill_now(self) -> None:
        self._child.kill_now()

    def log(self) -> str:
        return self._child.log()

    async def __aenter__(self) -> PrivateRedis:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with anyio.CancelScope(shield=True):
            await self.stop()


class Fleet:
    """N replicas behind one balancer, sharing a PostgreSQL schema, a Redis key prefix and a secret key.

    `redis` is the machine's Redis unless a `PrivateRedis` is given; `config` a config file every
    replica is started with, `args` extra `mcpgate serve` arguments (`--workers 2`), `env` extra
    environment, `api_key` a static key the replicas require (and `http()` sends). The schema is
    migrated once (`mcpgate db upgrade`) before the replicas start together, as compose.yaml's
    `migrate` service does, unless `migrate_first=False`.
    """

    def __init__(
        self,
        directory: Path,
        replicas: int = 2,
        *,
        redis: PrivateRedis | None = None,
        config: Path | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        api_key: str | None = None,
        migrate_first: bool = True,
    ) -> None:
        self.directory = directory
        self.private_redis = redis
        self.redis_url = redis.url if redis is not None else REDIS
        self.secret_key = Fernet.generate_key().decode()
        self.api_key = api_key
        self.migrate_first = migrate_first
        self._count = replicas
        self._config = config
        self._args = list(args)
        self._extra_env = dict(env or {})
        self.database_url = ""
        self.prefix = ""
        self.replicas: list[Replica] = []
        self.balancer: Balancer | None = None
        self._stack = AsyncExitStack()

    @property
    def url(self) -> str:
        """The balancer's URL: where a client of the fleet connects."""
        assert self.balancer is not None, "the fleet has not started"
        return self.balancer.url

    def replica(self, name: str) -> Replica:
        return next(replica for replica in self.replicas if replica.name == name)

    def http(self, **options: Any) -> httpx.AsyncClient:
        """A client of the balancer (sending the fleet's API key, if any)."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        options.setdefault("timeout", 10)
        return httpx.AsyncClient(base_url=self.url, headers={**headers, **options.pop("headers", {})}, **options)

    def environment(self, data_dir: Path) -> dict[str, str]:
        """What a replica of this fleet runs with: the test's own environment less any MCPGATE_*
        setting, plus the fleet's."""
        env = {name: value for name, value in os.environ.items() if not name.startswith(("MCPGATE_", "MCP_API_KEY"))}
        env.update(
            MCPGATE_DATABASE_URL=self.database_url,
            MCPGATE_REDIS_URL=self.redis_url,
            MCPGATE_FLEET__KEY_PREFIX=self.prefix,
            MCPGATE_SECRET_KEY=self.secret_key,
            MCPGATE_DATA_DIR=str(data_dir),
        )
        if self.api_key:
            env["MCPGATE_API_KEY"] = self.api_key
        env.update(self._extra_env)
        return env

    async def __aenter__(self) -> Fleet:
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _start(self) -> None:
        self.database_url = await self._stack.enter_async_context(postgres_schema())
        self.prefix = await self._stack.enter_async_context(redis_prefix(self.redis_url))
        if self.migrate_first:
            await self._migrate()
        for index in range(self._count):
            name = f"r{index}"
            env = self.environment(self.directory / name / "data")
            replica = Replica(name, env, self.directory, config=self._config, args=self._args)
            self.replicas.append(replica)
            self._stack.push_async_callback(replica.stop)
        async with anyio.create_task_group() as tg:
            for replica in self.replicas:
                tg.start_soon(replica.start)
        self.balancer = Balancer({r.name: r.port for r in self.replicas}, self.directory / "balancer")
        self._stack.push_async_callback(self.balancer.stop)
        await self.balancer.start()
        await self.balancer.wait_for(up=[replica.name for replica in self.replicas])

    async def _migrate(self) -> None:
        env = self.environment(self.directory / "migrate")
        with anyio.fail_after(60):
            result = await anyio.run_process([*mcpgate_command(), "db", "upgrade"], env=env, check=False)
        if result.returncode != 0:
            raise AssertionError(f"mcpgate db upgrade failed ({result.returncode}):\n{result.stderr.decode()}")

    async def _close(self) -> None:
        # Processes first (LIFO: balancer, replicas), then the key prefix and the schema they used.
        with anyio.CancelScope(shield=True):
            await self._stack.aclose()

    def logs(self, lines: int = 40) -> str:
        """The end of each process's log (the whole files are under the fleet's directory)."""
        parts = [(replica.name, replica.log()) for replica in self.replicas]
        if self.balancer is not None:
            parts.append(("haproxy", self.balancer.log()))
        return "\n".join(
            f"----- {name} (last {lines} lines) -----\n" + "\n".join(text.splitlines()[-lines:]) for name, text in parts
        )

    def kill_now(self) -> None:
        """SIGKILL to every process still running: a fixture's last resort if closing was cut short."""
        for process in [*self.replicas, *([self.balancer] if self.balancer else [])]:
            process.kill_now()
