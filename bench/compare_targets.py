"""Starting the targets of bench/compare.py: the fast upstream, mcpgate (with a managed key), and the
peer gateways from bench/peers/, each in its own process group, with how each was started and
configured (`Target.setup`) for the report."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_clients import Client, HttpClient, SseClient  # bench/, the script's own folder

HERE = Path(__file__).parent
PEERS = HERE / "peers"
PY = sys.executable
STDIO_CMD = [PY, str(HERE / "fast_upstream.py"), "stdio"]
START_TIMEOUT = 120.0  # seconds for a target to come up (ContextForge migrates its database on start)
CF_SSE_CALLS = 6
CF_SSE_NOTE = (
    f"contextforge over SSE re-opens its session every {CF_SSE_CALLS} calls: ContextForge closes an SSE "
    "session after 10 consecutive events <100 ms apart (a hardcoded 'spin loop' guard, sse_transport.py "
    "check_rapid_yield), so back-to-back calls in one session fail; the re-opens count in calls/s, not in p50/p99"
)


@dataclass
class Target:
    name: str
    url: str
    tool: str
    make_client: type[Client]
    gateway_pids: list[int] = field(default_factory=list)  # process-tree roots counted as the gateway
    upstream_pids: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    session_calls: int | None = None  # re-open the session after this many calls (see CF_SSE_NOTE)
    note: str = ""
    setup: str = ""  # how it was started and configured, printed under the table


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Starts processes in their own process groups and ends every one of them on exit."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, args: list[str], env_file: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        if env_file is not None:  # source ContextForge's env.sh, then exec the command (same pid)
            args = ["bash", "-c", '. "$0" && exec "$@"', str(env_file), *args]
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env)
        proc.log_path = log.name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            self._signal(proc, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=10)
            self._signal(proc, signal.SIGKILL)  # leftovers in its group (stdio children)
        self.procs.clear()

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def log_tail(proc: subprocess.Popen[bytes], lines: int = 8) -> str:
    text = Path(proc.log_path).read_text(errors="replace").splitlines()  # type: ignore[attr-defined]
    return "\n".join("      " + line for line in text[-lines:])


def wait_until(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_tail(proc)}")
        if ready():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {START_TIMEOUT:.0f} s:\n{log_tail(proc)}")


def listening(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return check


def http_ok(url: str, needle: str = "") -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200 and needle in response.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return False

    return check


def start_http_targets(
    procs: Processes, tmp: Path, wanted: set[str]
) -> tuple[dict[str, dict[str, Target]], dict[str, str]]:
    """Upstream, mcpgate serve and ContextForge for workloads 1 and 2: {"http"|"sse": {name: Target}}, failures."""
    up_port = free_port()
    upstream = procs.start("upstream", [PY, str(HERE / "fast_upstream.py"), "http", str(up_port)])
    wait_until(upstream, listening(up_port), "fast upstream")
    base = f"http://127.0.0.1:{up_port}"
    up = [upstream.pid]
    direct = f"`{shlex.join(['fast_upstream.py', 'http', str(up_port)])}` (the SDK's low-level server, no auth)"
    http = {"direct": Target("direct", f"{base}/mcp", "echo", HttpClient, [], up, setup=direct)}
    sse = {"direct": Target("direct", f"{base}/sse", "echo", SseClient, [], up, setup=direct)}
    failures: dict[str, str] = {}
    for name, src in mcpgate_builds(wanted):
        port = free_port()
        settings = {"mcpServers": {"up": {"url": f"{base}/mcp", "type": "http"}}}
        config, auth = mcpgate_with_key(tmp, f"serve-{len(http)}", settings, src)
        args = [PY, "-m", "mcpgate", "serve", "--config", str(config), "--port", str(port), "--log-level", "warning"]
        gateway = procs.start(name, args, env=source_env(src))
        setup = f"`{shlex.join(args).replace(PY, 'python')}`, {MCPGATE_SETUP}{built_from(src)}"
        try:
            wait_until(gateway, http_ok(f"http://127.0.0.1:{port}/health", "ready"), name)
            gw = f"http://127.0.0.1:{port}"
            http[name] = Target(name, f"{gw}/mcp", "up_echo", HttpClient, [gateway.pid], up, auth)
            sse[name] = Target(name, f"{gw}/sse", "up_echo", SseClient, [gateway.pid], up, auth)
            http[name].setup = sse[name].setup = setup
        except (RuntimeError, TimeoutError) as exc:
            failures[name] = f"start: {exc}"
    if "contextforge" in wanted:
        try:
            http["contextforge"], sse["contextforge"] = start_contextforge(procs, tmp, f"{base}/mcp", up)
        except (RuntimeError, TimeoutError, subprocess.SubprocessError, KeyError, ValueError) as exc:
            failures["contextforge"] = f"start: {exc}"
    # The upstream runs anyway (the gateways need it); "direct" is measured only if wanted.
    measured = wanted | {name for name, _ in mcpgate_builds(wanted)}
    return {
        "http": {k: v for k, v in http.items() if k in measured},
        "sse": {k: v for k, v in sse.items() if k in measured},
    }, failures


MCPGATE_SETUP = (
    "its own SQLite registry file holding one managed key (scope tools:call) that every request carries: "
    "each call authenticated and audited (a row per call, written in batches every 0.5 s)"
)


# `--baseline DIR`: another checkout of mcpgate measured beside this one, as the row "mcpgate@base"
# (its `src` first on the path), so a change's effect is read against the same background.
BASELINE: Path | None = None


def mcpgate_builds(wanted: set[str]) -> list[tuple[str, Path | None]]:
    """(target name, source folder or None for this checkout) of each mcpgate build to measure."""
    if "mcpgate" not in wanted:
        return []
    return [("mcpgate", None)] + ([("mcpgate@base", BASELINE / "src")] if BASELINE is not None else [])


def source_env(src: Path | None) -> dict[str, str] | None:
    return None if src is None else {**os.environ, "PYTHONPATH": str(src)}


def built_from(src: Path | None) -> str:
    return "" if src is None else f"; built from {src.parent} (--baseline)"


def mcpgate_with_key(
    tmp: Path, name: str, settings: dict[str, Any], src: Path | None = None
) -> tuple[Path, dict[str, str]]:
    """A config file for one mcpgate target with a registry of its own, and the header of a managed
    key created in it (`mcpgate keys create`, by the same build): with a key there, every call is
    authenticated."""
    state = tmp / f"mcpgate-{name}"
    state.mkdir()
    config = state / "config.json"
    registry = {"database_url": f"sqlite+aiosqlite:///{state / 'registry.db'}", "data_dir": str(state)}
    config.write_text(json.dumps({**settings, **registry}))
    create = [PY, "-m", "mcpgate", "keys", "create", "bench", "--scopes", "tools:call", "--config", str(config)]
    done = subprocess.run(
        [*create, "--offline", "--json"], check=True, capture_output=True, text=True, timeout=120, env=source_env(src)
    )
    return config, {"authorization": f"Bearer {json.loads(done.stdout)['key']}"}


def start_contextforge(procs: Processes, tmp: Path, upstream_url: str, up: list[int]) -> tuple[Target, Target]:
    port, redis_port = free_port(), free_port()
    state = tmp / "contextforge"
    subprocess.run(
        ["bash", str(PEERS / "contextforge_env.sh"), str(state), str(port), str(redis_port)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    env_file = state / "env.sh"
    redis_args = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
    redis = procs.start("redis", [*redis_args, "--appendonly", "no", "--dir", str(state)])
    wait_until(redis, listening(redis_port), "redis-server")
    cf_args = [str(PEERS / ".venv-contextforge/bin/mcpgateway"), "--host", "127.0.0.1", "--port", str(port)]
    gateway = procs.start("contextforge", cf_args, env_file)
    base = f"http://127.0.0.1:{port}"
    wait_until(gateway, http_ok(f"{base}/health", "healthy"), "ContextForge")
    register = [str(PEERS / ".venv-contextforge/bin/python"), str(PEERS / "contextforge_register.py")]
    done = subprocess.run(
        ["bash", "-c", '. "$0" && exec "$@"', str(env_file), *register, "--base", base, "--upstream", upstream_url],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    reg = json.loads(done.stdout.strip().splitlines()[-1])
    auth = {"authorization": f"Bearer {reg['token']}"}
    pids = [gateway.pid, redis.pid]
    setup = (
        f"`mcpgateway --host 127.0.0.1 --port {port}` with bench/peers/contextforge_env.sh (stateful sessions, "
        "JSON responses, rate limiting off, Redis cache, a JWT on every request), a virtual server of the "
        "federated echo (bench/peers/contextforge_register.py)"
    )
    return (
        Target("contextforge", reg["mcp_url"], reg["tool"], HttpClient, pids, up, auth, setup=setup),
        Target(
            "contextforge", reg["sse_url"], reg["tool"], SseClient, pids, up, auth, CF_SSE_CALLS, CF_SSE_NOTE, setup
        ),
    )


def start_stdio_targets(procs: Processes, tmp: Path, wanted: set[str]) -> tuple[dict[str, Target], dict[str, str]]:
    """mcpgate wrap, mcp-proxy and supergateway, each bridging its own `fast_upstream.py stdio`."""
    recipes: dict[str, tuple[list[str], str, str, Path | None, dict[str, str]]] = {}
    for name, src in mcpgate_builds(wanted):
        config, auth = mcpgate_with_key(tmp, f"wrap-{len(recipes)}", {}, src)
        wrap = [PY, "-m", "mcpgate", "wrap", "--config", str(config), "--log-level", "warning", "--port", "{port}"]
        recipes[name] = ([*wrap, "--", *STDIO_CMD], "/health", "ready", src, auth)
    recipes["mcp-proxy"] = (
        [str(PEERS / ".venv-mcp-proxy/bin/python"), "-c", MCP_PROXY_ON_UVLOOP]
        + ["--log-level", "WARNING", "--port", "{port}", "--", *STDIO_CMD],
        "/status",
        "",
        None,
        {},
    )
    recipes["supergateway"] = (
        [str(PEERS / "bin/supergateway"), "--stdio", shlex.join(STDIO_CMD), "--outputTransport", "streamableHttp"]
        + ["--stateful", "--port", "{port}", "--healthEndpoint", "/healthz", "--logLevel", "none"],
        "/healthz",
        "ok",
        None,
        {},
    )
    recipes["supergateway-sse"] = (
        [str(PEERS / "bin/supergateway"), "--stdio", shlex.join(STDIO_CMD), "--outputTransport", "sse"]
        + ["--port", "{port}", "--healthEndpoint", "/healthz", "--logLevel", "none"],
        "/healthz",
        "ok",
        None,
        {},
    )
    targets, failures = {}, {}
    for name, (template, health, needle, src, headers) in recipes.items():
        if name not in wanted and not name.startswith("mcpgate"):
            continue
        port = free_port()
        proc = procs.start(f"{name}-stdio", [arg.replace("{port}", str(port)) for arg in template], env=source_env(src))
        try:
            wait_until(proc, http_ok(f"http://127.0.0.1:{port}{health}", needle), name)
        except (RuntimeError, TimeoutError) as exc:
            failures[name] = f"start: {exc}"
            continue
        command = shlex.join(arg.replace("{port}", str(port)) for arg in template).replace(PY, "python")
        command = command.replace(shlex.quote(MCP_PROXY_ON_UVLOOP), "MCP_PROXY_ON_UVLOOP")
        ours = name.startswith("mcpgate")
        setup = f"`{command}`" + (f", {MCPGATE_SETUP}{built_from(src)}" if ours else STDIO_SETUPS.get(name, ""))
        url, client = (f"http://127.0.0.1:{port}/sse", SseClient) if name.endswith("-sse") else (None, HttpClient)
        url = url or f"http://127.0.0.1:{port}/mcp"
        targets[name] = Target(name, url, "echo", client, [proc.pid], [], headers)
        targets[name].setup = setup
        if ours and "supergateway-sse" in wanted:  # the same process over SSE: like for like
            sse_name = name.replace("mcpgate", "mcpgate-sse")
            sse = Target(sse_name, f"http://127.0.0.1:{port}/sse", "echo", SseClient, [proc.pid], [], headers)
            sse.setup = f"{setup}; this row over legacy SSE, as supergateway-sse"
            targets[sse_name] = sse
    return targets, failures


# mcp-proxy runs uvicorn inside its own asyncio.run(), so uvicorn's "auto" loop cannot pick uvloop:
# the policy is set first. httptools uvicorn picks up by itself once installed.
MCP_PROXY_ON_UVLOOP = (
    "import asyncio, sys, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
    "sys.argv[0] = 'mcp-proxy'; from mcp_proxy.__main__ import main; main()"
)
STDIO_SETUPS = {
    "mcp-proxy": " (on uvloop and httptools, as mcpgate is: see MCP_PROXY_ON_UVLOOP; no auth: it has none)",
    "supergateway": (
        " (stateful: a child per session, so at concurrency 32 it runs 32 upstreams where the others share "
        "one; its stateless mode starts a child per request; no auth: it has none)"
    ),
    "supergateway-sse": (
        " (its one mode with a single child shared by every session: legacy SSE out, so this row's client "
        "speaks SSE where the others speak Streamable HTTP; no auth)"
    ),
}
