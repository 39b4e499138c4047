"""HAProxy in front of a fleet's replicas, as a plain load balancer would be deployed.

    balancer = Balancer({"r0": 8101, "r1": 8102}, tmp_path / "balancer")
    await balancer.start()
    balancer.url                        # http://127.0.0.1:<port>
    await balancer.servers()            # {"r0": "UP", "r1": "DOWN 1/2"}: what its health checks say
    await balancer.wait_for(up={"r1"})  # until exactly these are in rotation

Every request is balanced on its own (`balance roundrobin`, no `prefer-last-server`, no cookie or
stick table): consecutive requests on one kept-alive client connection go to different replicas,
so nothing in the tests leans on stickiness the product cannot count on. Each response says which
replica answered (`X-Served-By`). Health checks (`GET /health`, every 250 ms, two failures) take a
dead replica out within about half a second and put it back once it answers twice; a request whose
connection is refused is retried on another replica (`option redispatch 1`). Only connection
failures are retried: a request a replica may have started on is never replayed.

It does not terminate TLS, and is not the deployment's configuration (deploy/haproxy.cfg), though
it balances with the same lines (`BALANCING`, checked by tests/test_deployment_files.py).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path

import anyio
import pytest

from tests.fleet.processes import Child, Running, free_port
from tests.node_tools import in_ci

BACKEND = "replicas"

# How the replicas are chosen and watched: the same lines in deploy/haproxy.cfg's backend.
BALANCING = [
    "balance roundrobin",
    "no option prefer-last-server",
    "option httpchk",
    "http-check send meth GET uri /health ver HTTP/1.1 hdr Host localhost",
    "http-check expect status 200",
    "retries 2",
    "option redispatch 1",
    # A request whose replica died before answering it is sent to another: safe for MCP, where a
    # session answers a request id once (hub/session.py RecentAnswers) whoever resends it.
    "retry-on conn-failure empty-response",
    # The whole request is read before a replica is chosen: what makes a request a dead replica
    # was answering retryable (without it a client saw its connection closed, no answer, no retry).
    "option http-buffer-request",
]

# Long timeouts for streams (SSE, a Streamable HTTP GET): the replicas' keep-alive comments keep
# them busy, and a stream is never cut by the balancer while its client is there.
_CONFIG = """\
global
    log stderr format raw local0 info
    maxconn 4096
    stats socket {socket} mode 600 level admin
    stats timeout 10s

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    option forwardfor
    timeout connect 1s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout check 1s

frontend mcpgate
    bind 127.0.0.1:{port}
    default_backend {backend}

backend {backend}
{balancing}
    http-response set-header X-Served-By %s
    default-server check inter 250ms fastinter 250ms downinter 250ms fall 2 rise 2
{servers}
"""


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (path for path in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(path, os.X_OK)), None
    )


def require_haproxy() -> str:
    """The haproxy binary; without it the test is skipped (failed under CI=true)."""
    binary = haproxy_binary()
    if binary is not None:
        return binary
    problem = "haproxy is not installed (scripts/install-haproxy.sh installs it)"
    if in_ci():
        pytest.fail(f"CI=true and this test needs haproxy: {problem}", pytrace=False)
    pytest.skip(problem)


_SOCKET_PATH_MAX = 97  # haproxy refuses a longer unix socket path


class Balancer:
    def __init__(self, servers: Mapping[str, int], directory: Path, port: int | None = None) -> None:
        self.backends = dict(servers)  # name → loopback port
        self.directory = directory
        self.port = port or free_port()
        self.config_path = directory / "haproxy.cfg"
        self.socket_path = directory / "admin.sock"
        self._socket_dir: Path | None = None
        if len(str(self.socket_path)) > _SOCKET_PATH_MAX:  # pytest's paths grow with its run counter
            self._socket_dir = Path(tempfile.mkdtemp(prefix="mcpgate-hap-"))
            self.socket_path = self._socket_dir / "admin.sock"
        self._child = Child("haproxy", directory / "haproxy.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        return _CONFIG.format(
            socket=self.socket_path,
            port=self.port,
            backend=BACKEND,
            balancing="\n".join(f"    {line}" for line in BALANCING),
            servers="\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in self.backends.items()),
        )

    async def start(self, timeout: float = 10) -> None:
        binary = require_haproxy()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        self.socket_path.unlink(missing_ok=True)
        await self._child.spawn([binary, "-db", "-f", str(self.config_path)])
        try:
            with anyio.fail_after(timeout):
                while True:  # its admin socket answers once the frontend is bound
                    if not self._child.running:
                        raise AssertionError("haproxy exited")
                    try:
                        await self.servers()
                        return
                    except OSError:
                        await anyio.sleep(0.02)
        except (TimeoutError, AssertionError):
            raise AssertionError(f"haproxy did not start:\n{self._child.log_tail()}") from None

    async def stop(self) -> None:
        await self._child.terminate()
        self._forget_socket_dir()

    def kill_now(self) -> None:
        self._child.kill_now()
        self._forget_socket_dir()

    def _forget_socket_dir(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def processes(self) -> list[Running]:
        return self._child.family()

    def log(self) -> str:
        return self._child.log()

    async def command(self, line: str) -> str:
        """One command on the admin socket (`show stat`, `set server replicas/r0 state maint`…)."""
        async with await anyio.connect_unix(self.socket_path) as stream:
            await stream.send(line.encode() + b"\n")
            chunks = []
            with anyio.fail_after(5):
                async for chunk in stream:  # it closes the connection after one command
                    chunks.append(chunk)
        return b"".join(chunks).decode()

    async def stats(self) -> list[dict[str, str]]:
        """`show stat` as rows (pxname, svname, status, stot…): the frontend, each server, the backend."""
        text = (await self.command("show stat")).lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))

    async def servers(self) -> dict[str, str]:
        """Each replica's state as the health checks see it: "UP", "DOWN", "UP 1/2" (going down)…"""
        return {
            row["svname"]: row["status"]
            for row in await self.stats()
            if row["pxname"] == BACKEND and row["svname"] not in ("BACKEND", "FRONTEND")
        }

    async def sessions(self) -> int:
        """Client connections the frontend has accepted so far (HAProxy's `stot`)."""
        rows = await self.stats()
        return next(int(row["stot"]) for row in rows if row["svname"] == "FRONTEND")

    async def wait_for(self, up: Collection[str], timeout: float = 10) -> None:
        """Until exactly the replicas named in `up` are in rotation."""
        wanted = set(up)
        seen: dict[str, str] = {}
        try:
            with anyio.fail_after(timeout):
                while True:
                    seen = await self.servers()
                    if {name for name, status in seen.items() if status == "UP"} == wanted:
                        return
                    await anyio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"after {timeout} s the balancer sees {seen}, not {sorted(wanted)} UP") from None
