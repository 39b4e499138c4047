"""Start/stop the conformance fixture server, and real `mcpgate` processes, from tests (no sleeps:
bounded waits with deadlines only).

Usage::

    with fixture_http_server() as url:                  # http://127.0.0.1:<free port>/mcp
        ...
    with fixture_http_server(transport="sse") as url:   # http://127.0.0.1:<free port>/sse
        ...
    fixture_stdio_command()                             # [python, .../fixture_server.py, "--stdio"]
    with gateway_over_fixture() as url:                 # mcpgate wrap around the fixture; …/mcp
        ...
    with mcpgate_process(["serve", "--config", path, "--port", "0"]) as served:
        served.url                                      # http://127.0.0.1:<port>
    served.log                                          # everything it wrote to stderr
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

FIXTURE_SERVER = Path(__file__).resolve().with_name("fixture_server.py")


def fixture_stdio_command(python: str | None = None) -> list[str]:
    """Command line that serves the fixture over stdio."""
    return [python or sys.executable, str(FIXTURE_SERVER), "--stdio"]


def _pump(stream, lines: queue.Queue[str | None]) -> None:
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(None)


def wait_http_ready(url: str, deadline: float, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until the server answers any HTTP response, or raise at ``deadline``.

    Between attempts this blocks on the server process (``proc.wait`` with a short
    timeout), so a crashed server is noticed at once instead of being slept past.
    """
    last_error: Exception | None = None
    while True:
        try:
            httpx.get(url, timeout=1.0, headers={"Accept": "text/event-stream"})
            return
        except httpx.HTTPError as exc:
            last_error = exc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"fixture at {url} not ready: {last_error!r}")
        if proc is not None:
            try:
                rc = proc.wait(timeout=min(0.05, remaining))
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"fixture server exited early with code {rc}")


@contextlib.contextmanager
def fixture_http_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    transport: str = "http",
    startup_timeout: float = 30.0,
    python: str | None = None,
) -> Iterator[str]:
    """Run the fixture on loopback; yields its URL.

    ``transport="http"``: Streamable HTTP, yields ``http://HOST:PORT/mcp``.
    ``transport="sse"``: legacy HTTP+SSE, yields ``http://HOST:PORT/sse`` (messages go to /messages/).
    """
    if transport not in ("http", "sse"):
        raise ValueError(f"transport must be 'http' or 'sse', not {transport!r}")
    proc = subprocess.Popen(
        [python or sys.executable, str(FIXTURE_SERVER), f"--{transport}", "--host", host, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out_lines: queue.Queue[str | None] = queue.Queue()
    err_lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, out_lines), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, err_lines), daemon=True).start()
    try:
        deadline = time.monotonic() + startup_timeout
        url = None
        while url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("fixture server did not report READY in time")
            try:
                line = out_lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
                stderr = "".join(_drain(err_lines))
                raise RuntimeError(f"fixture server exited before READY (rc={proc.poll()}):\n{stderr}")
            if line.startswith("READY "):
                url = line.split(" ", 1)[1].strip()
        # GET /sse would open a never-ending stream, so probe the messages endpoint instead.
        probe = url if transport == "http" else url.rsplit("/sse", 1)[0] + "/messages/"
        wait_http_ready(probe, deadline, proc)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate, and kill if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _drain(lines: queue.Queue[str | None]) -> list[str]:
    out = []
    with contextlib.suppress(queue.Empty):
        while True:
            item = lines.get_nowait()
            if item is not None:
                out.append(item)
    return out


_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@contextlib.contextmanager
def gateway_over_fixture(
    *, upstream_url: str | None = None, startup_timeout: float = 30.0, python: str | None = None
) -> Iterator[str]:
    """The gateway in front of the fixture; yields the gateway's `/mcp` URL.

    By default `mcpgate wrap` runs the fixture as a stdio child; with `upstream_url`,
    `mcpgate serve` reaches a running fixture over Streamable HTTP (unprefixed, so the
    scenarios' tool names hold). The gateway is the real CLI in its own process, exactly
    as a user would start it.
    """
    python = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="mcpgate-gw-") as tmp:
        if upstream_url is None:
            args = ["wrap", "--port", "0", "--name", "fixture", "--", *fixture_stdio_command(python)]
        else:
            config = Path(tmp) / "gateway.json"
            upstream = {"url": upstream_url, "type": "http", "prefix": False}
            config.write_text(json.dumps({"mcpServers": {"fixture": upstream}}))
            args = ["serve", "--config", str(config), "--port", "0"]
        with mcpgate_process(args, startup_timeout=startup_timeout, python=python) as served:
            yield f"{served.url}/mcp"


@dataclass
class ServedGateway:
    """An `mcpgate` process listening on loopback, started by `mcpgate_process`."""

    url: str  # http://127.0.0.1:<port>
    process: subprocess.Popen
    # Every line it wrote — stderr (its own log, uvicorn's) then stdout (uvicorn's access log goes
    # there) — complete once it has stopped.
    log: list[str] = field(default_factory=list)


@contextlib.contextmanager
def mcpgate_process(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
    python: str | None = None,
) -> Iterator[ServedGateway]:
    """`python -m mcpgate <args>` (serve or wrap, `--port 0`), exactly as a user starts it; yields once
    it listens, and on exit stops it (SIGTERM) and collects everything it wrote."""
    proc = subprocess.Popen(
        [python or sys.executable, "-m", "mcpgate", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    err_lines: queue.Queue[str | None] = queue.Queue()
    out_lines: queue.Queue[str | None] = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(proc.stderr, err_lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stdout, out_lines), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    served = ServedGateway("", proc)
    try:
        deadline = time.monotonic() + startup_timeout
        port = None
        while port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("mcpgate did not start listening in time:\n" + "".join(served.log))
            try:
                line = err_lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
                raise RuntimeError(f"mcpgate exited before listening (rc={proc.poll()}):\n" + "".join(served.log))
            served.log.append(line)
            if match := _LISTENING.search(line):
                port = match.group(1)
        served.url = f"http://127.0.0.1:{port}"
        yield served
    finally:
        _stop(proc)
        for pump in pumps:
            pump.join(10)  # the pipes are closed: the pumps have read everything
        served.log += _drain(err_lines) + _drain(out_lines)
