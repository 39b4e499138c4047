"""Footprint side by side: cold start to a healthy health endpoint, idle RSS, installed size (issue #9, workload 5).

    .venv/bin/python bench/footprint.py                        # every target, 5 starts each (~8 min here)
    .venv/bin/python bench/footprint.py --repeat 3 --targets mcpgate-wrap,mcp-proxy,supergateway

What it measures, per target and start (each start is a fresh process in its own process group on
loopback, on a free port):

- cold start: wall time from spawning the process to the first reply of its health endpoint that
  says healthy (polled every 5 ms, bounded by compare.py's START_TIMEOUT). For mcpgate that is
  /health with every upstream `ready`, so it includes spawning and initializing a stdio upstream;
  the time to the first 200 of any kind is shown too.
- idle RSS: after a fixed idle period (--idle, default 3 s) the VmRSS of the gateway's process
  tree, summed, without the bridged upstream (a descendant whose argv names the upstream, and its
  own descendants), whose RSS is shown on its own. PSS (/proc/PID/smaps_rollup) is shown as well:
  it splits shared pages between processes, so it does not count twice what a tree shares.
- installed size: the bytes of every file each distribution of the runtime dependency closure
  lists (`importlib.metadata`, run by the target's own interpreter; requirements followed with
  their markers and extras, test extras not); the Python runtime, shared by all, is not counted.
  supergateway: its node_modules; the Node runtime is extra.

Targets: `mcpgate wrap` and `mcp-proxy` and `supergateway` (`--outputTransport streamableHttp
--stateful`) bridging `fast_upstream.py stdio`; `mcpgate serve --config` in front of `fast_upstream.py
http` (registry: SQLite in memory); `mcpgate serve` with no config, the default gateway (`make run`:
bundled demo upstream + a catalog of its own API with the tool-search index), in a fresh data dir;
ContextForge as compare.py configures it (Redis started first, untimed, and not in its RSS), in a
fresh state dir: its cold start includes migrating its SQLite database. The `-restart` targets start
a second time on the state a first, untimed start left behind (database already there).
Starts are interleaved across targets (the order rotates each repeat) so the machine's background
drift hits all of them alike; the table shows medians (and the fastest cold start).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compare import UPSTREAM_MARK  # bench/, the script's own folder
from compare_targets import (
    HERE,
    PEERS,
    PY,
    START_TIMEOUT,
    STDIO_CMD,
    Processes,
    free_port,
    listening,
    log_tail,
    wait_until,
)
from installed_size import installed_sizes

POLL = 0.005  # seconds between health probes: resolution of the cold start figure
UPSTREAM_MARKS = (UPSTREAM_MARK, "mcpgate.demo_server")  # argv of a gateway's child that is its upstream
TARGET_COLD_START = 1.5  # seconds (issue #9, DESIGN.md "Performance yardsticks")
TARGET_RSS = 80.0  # MB
MB = 1e6
NAN = float("nan")  # a figure that is missing
TARGETS = (
    "mcpgate-wrap",
    "mcpgate-serve",
    "mcpgate-default",
    "mcpgate-default-restart",
    "mcp-proxy",
    "supergateway",
    "contextforge",
    "contextforge-restart",
)
PAIRS = {  # peer -> the mcpgate target doing the same job, for the ratios
    "mcp-proxy": "mcpgate-wrap",
    "supergateway": "mcpgate-wrap",
    "contextforge": "mcpgate-serve",
    "contextforge-restart": "mcpgate-serve",
}
# Loopback only: never through an HTTP proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- memory of a process tree ------------------------------------------------------------------


@dataclass
class Memory:
    rss: float = 0.0  # MB, summed VmRSS
    pss: float = 0.0  # MB, summed PSS
    procs: int = 0


def _kb(path: Path, key: str) -> float:
    for line in path.read_text().splitlines():
        if line.startswith(key):
            return float(line.split()[1])
    return 0.0


def _scan() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) of every process (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # exited meanwhile
        found[int(entry.name)] = (ppid, argv)
    return found


def tree_memory(root: int) -> tuple[Memory, Memory]:
    """(gateway, upstream) memory of root's process tree: a descendant whose argv names the upstream
    (also inside a `sh -c` string) counts as upstream, with everything below it."""
    procs = _scan()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    gateway, upstream = Memory(), Memory()
    todo = [(root, False)]
    while todo:
        pid, below_upstream = todo.pop()
        if pid not in procs:
            continue
        is_upstream = below_upstream or (pid != root and any(m in a for a in procs[pid][1] for m in UPSTREAM_MARKS))
        try:
            rss = _kb(Path(f"/proc/{pid}/status"), "VmRSS:")
            pss = _kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss:")
        except OSError:
            continue  # exited meanwhile
        into = upstream if is_upstream else gateway
        into.rss += rss * 1024 / MB
        into.pss += pss * 1024 / MB
        into.procs += 1
        todo.extend((child, is_upstream) for child in children.get(pid, ()))
    return gateway, upstream


# -- health -----------------------------------------------------------------------------------


def fetch(url: str) -> bytes | None:
    """The body of a 200 reply, or None (not listening yet, an error status, a timeout)."""
    try:
        with OPENER.open(url, timeout=2) as response:
            return response.read() if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def mcpgate_healthy(body: bytes) -> bool:
    """Every upstream `ready`: /health answers 200 while upstreams still connect (then `degraded`)."""
    doc = _json(body)
    upstreams = doc.get("upstreams") if isinstance(doc, dict) else None
    return bool(upstreams) and all(u.get("state") == "ready" for u in upstreams.values())


def contextforge_healthy(body: bytes) -> bool:
    doc = _json(body)
    return isinstance(doc, dict) and doc.get("status") == "healthy"


@dataclass
class Started:
    proc: subprocess.Popen[bytes]
    spawned: float  # perf_counter() just before the spawn
    health: str  # URL
    healthy: Callable[[bytes], bool]
    aux: dict[str, int] = field(default_factory=dict)  # helpers outside the gateway's tree: name -> pid


def wait_healthy(started: Started) -> tuple[float, float]:
    """Seconds from the spawn to the first 200, and to the first healthy reply."""
    first = None
    deadline = started.spawned + START_TIMEOUT
    while time.perf_counter() < deadline:
        body = fetch(started.health)
        now = time.perf_counter()
        if body is not None:
            first = first if first is not None else now - started.spawned
            if started.healthy(body):
                return first, now - started.spawned
        if started.proc.poll() is not None:
            raise RuntimeError(f"exited with {started.proc.returncode}:\n{log_tail(started.proc)}")
        time.sleep(POLL)
    raise TimeoutError(f"not healthy after {START_TIMEOUT:.0f} s:\n{log_tail(started.proc)}")


# -- the targets -------------------------------------------------------------------------------

Launch = Callable[[Processes, Path], Started]


def _spawn(procs: Processes, name: str, args: list[str], health: str, healthy: Callable[[bytes], bool]) -> Started:
    spawned = time.perf_counter()
    return Started(procs.start(name, args), spawned, health, healthy)


def launch_wrap(procs: Processes, state: Path) -> Started:
    port = free_port()
    args = [PY, "-m", "mcpgate", "wrap", "--log-level", "warning", "--port", str(port), "--", *STDIO_CMD]
    return _spawn(procs, "mcpgate-wrap", args, f"http://127.0.0.1:{port}/health", mcpgate_healthy)


def launcher_serve(upstream_url: str) -> Launch:
    def launch(procs: Processes, state: Path) -> Started:
        port = free_port()
        config = state / "gateway.json"
        servers = {"up": {"url": upstream_url, "type": "http"}}
        config.write_text(json.dumps({"mcpServers": servers, "database_url": "sqlite+aiosqlite://"}))
        args = [PY, "-m", "mcpgate", "serve", "--config", str(config), "--port", str(port), "--log-level", "warning"]
        return _spawn(procs, "mcpgate-serve", args, f"http://127.0.0.1:{port}/health", mcpgate_healthy)

    return launch


def launch_default(procs: Processes, state: Path) -> Started:
    # The default keeps its registry and secret key in $XDG_DATA_HOME/mcpgate: point it at the state
    # dir, never at the user's own. `env` execs, so the pid is the gateway's.
    port = free_port()
    args = ["env", f"XDG_DATA_HOME={state / 'data'}", PY, "-m", "mcpgate", "serve", "--port", str(port)]
    args += ["--log-level", "warning"]
    return _spawn(procs, "mcpgate-default", args, f"http://127.0.0.1:{port}/health", mcpgate_healthy)


def launch_mcp_proxy(procs: Processes, state: Path) -> Started:
    port = free_port()
    args = [str(PEERS / "bin/mcp-proxy"), "--log-level", "WARNING", "--port", str(port), "--", *STDIO_CMD]
    return _spawn(procs, "mcp-proxy", args, f"http://127.0.0.1:{port}/status", lambda body: True)


def launch_supergateway(procs: Processes, state: Path) -> Started:
    port = free_port()
    args = [str(PEERS / "bin/supergateway"), "--stdio", shlex.join(STDIO_CMD), "--outputTransport", "streamableHttp"]
    args += ["--stateful", "--port", str(port), "--healthEndpoint", "/healthz", "--logLevel", "none"]
    return _spawn(procs, "supergateway", args, f"http://127.0.0.1:{port}/healthz", lambda body: body.strip() == b"ok")


def launch_contextforge(procs: Processes, state: Path) -> Started:
    """Redis first (untimed), then ContextForge as compare.start_contextforge does, without registering
    anything. A restart reuses the state dir's env.sh: same ports and secrets as the first start."""
    env_file, ports_file = state / "env.sh", state / "ports.json"
    if not ports_file.exists():
        port, redis_port = free_port(), free_port()
        subprocess.run(
            ["bash", str(PEERS / "contextforge_env.sh"), str(state), str(port), str(redis_port)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        ports_file.write_text(json.dumps([port, redis_port]))
    port, redis_port = json.loads(ports_file.read_text())
    redis_args = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
    redis = procs.start("redis", [*redis_args, "--appendonly", "no", "--dir", str(state)])
    wait_until(redis, listening(redis_port), "redis-server")
    cf_args = [str(PEERS / ".venv-contextforge/bin/mcpgateway"), "--host", "127.0.0.1", "--port", str(port)]
    spawned = time.perf_counter()
    gateway = procs.start("contextforge", cf_args, env_file)
    return Started(gateway, spawned, f"http://127.0.0.1:{port}/health", contextforge_healthy, {"redis": redis.pid})


@dataclass(frozen=True)
class Spec:
    name: str
    launch: Launch
    installed: str  # key of its row in the installed sizes
    restart: bool = False  # time a second start on the state an untimed first start left
    note: str = ""


def specs(upstream_url: str) -> dict[str, Spec]:
    fresh_cf = "fresh state dir each start: the time includes Alembic migrations and RBAC bootstrap of its SQLite"
    return {
        s.name: s
        for s in (
            Spec("mcpgate-wrap", launch_wrap, "mcpgate", note="healthy = its stdio upstream spawned and initialized"),
            Spec("mcpgate-serve", launcher_serve(upstream_url), "mcpgate", note="one HTTP upstream, SQLite in memory"),
            Spec(
                "mcpgate-default",
                launch_default,
                "mcpgate",
                note="THE DEFAULT (`make run`, no config): bundled demo upstream (a child, its RSS in the upstream "
                "column) + a catalog of its own API with the tool-search index; fresh data dir (SQLite + key created)",
            ),
            Spec("mcpgate-default-restart", launch_default, "mcpgate", True, "the default, data dir already there"),
            Spec(
                "mcp-proxy",
                launch_mcp_proxy,
                "mcp-proxy",
                note="healthy = GET /status 200; it spawns and initializes its stdio child before serving",
            ),
            Spec(
                "supergateway",
                launch_supergateway,
                "supergateway",
                note="--stateful spawns the stdio child per MCP session, so none runs at idle and none is started "
                "before /healthz answers",
            ),
            Spec("contextforge", launch_contextforge, "contextforge", note=f"{fresh_cf}; RSS without its Redis"),
            Spec(
                "contextforge-restart",
                launch_contextforge,
                "contextforge",
                True,
                "database already migrated by an untimed first start; RSS without its Redis",
            ),
        )
    }


# -- one start ---------------------------------------------------------------------------------


@dataclass
class Sample:
    first_200: float
    cold: float
    gateway: Memory
    upstream: Memory
    aux: dict[str, Memory]


def start_healthy(spec: Spec, state: Path, logs: str) -> tuple[Started, float, float, Processes]:
    """Start, wait until healthy; the caller measures and closes the returned Processes."""
    procs = Processes(state / logs)
    procs.logs.mkdir(parents=True, exist_ok=True)
    try:
        started = spec.launch(procs, state)
        first, cold = wait_healthy(started)
    except BaseException:
        procs.close()
        raise
    return started, first, cold, procs


def measure_once(spec: Spec, state: Path, idle: float) -> Sample:
    if spec.restart:  # the first start leaves the migrated database / data dir behind, untimed
        *_, procs = start_healthy(spec, state, "logs-first")
        procs.close()
    started, first, cold, procs = start_healthy(spec, state, "logs")
    try:
        time.sleep(idle)  # let start-up work finish (caches, background tasks) before reading memory
        if started.proc.poll() is not None:
            raise RuntimeError(f"exited while idle with {started.proc.returncode}:\n{log_tail(started.proc)}")
        gateway, upstream = tree_memory(started.proc.pid)
        aux = {name: tree_memory(pid)[0] for name, pid in started.aux.items()}
    finally:
        procs.close()
    return Sample(first, cold, gateway, upstream, aux)


# -- the report --------------------------------------------------------------------------------


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else NAN


def summarize(samples: list[Sample]) -> dict[str, float]:
    return {
        "cold": _med([s.cold for s in samples]),
        "cold_min": min(s.cold for s in samples),
        "first_200": _med([s.first_200 for s in samples]),
        "rss": _med([s.gateway.rss for s in samples]),
        "pss": _med([s.gateway.pss for s in samples]),
        "procs": _med([s.gateway.procs for s in samples]),
        "up_rss": _med([s.upstream.rss for s in samples if s.upstream.procs]),
        "aux_rss": _med([sum(m.rss for m in s.aux.values()) for s in samples if s.aux]),
        "starts": len(samples),
    }


def _f(value: float, digits: int) -> str:
    return "-" if value != value else f"{value:.{digits}f}"  # NaN: nothing to show


def source_state() -> str:
    """The checkout's commit, and whether src/ differs from it: the mcpgate measured is the working tree."""
    try:
        git = ["git", "-C", str(HERE.parent)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "(not a git checkout)"
    return f"at {head.stdout.strip()}" + (" + uncommitted changes in src/" if dirty.stdout.strip() else "")


def verdict_of(row: dict[str, float]) -> str:
    missed = []
    if not row["cold"] <= TARGET_COLD_START:
        missed.append("cold start")
    if not row["rss"] <= TARGET_RSS:
        missed.append("idle RSS")
    return "NOT met: " + " and ".join(missed) if missed else "both met"


def print_report(
    rows: dict[str, dict[str, float]],
    installed: dict[str, float],
    size_lines: list[str],
    chosen: list[Spec],
    failures: dict[str, str],
    args: Any,
) -> None:
    print(
        f"\ncold start, idle footprint, installed size; {args.repeat} starts per target, interleaved; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores (shared with whatever else runs)"
    )
    print(
        f"cold start: spawn -> first healthy health reply (polled every {POLL * 1000:.0f} ms); "
        f"memory after {args.idle:g} s idle; MB = 10^6 bytes; n = healthy starts; mcpgate {source_state()}\n"
    )
    header = (
        f"{'target':<24} {'n':>2} {'cold med s':>10} {'min s':>6} {'1st 200 s':>9}  {'RSS MB':>7} {'PSS MB':>7} "
        f"{'procs':>5}  {'upstream RSS':>12}  {'installed MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for spec in chosen:
        if spec.name not in rows:
            continue
        r, size = rows[spec.name], installed.get(spec.installed, NAN)
        print(
            f"{spec.name:<24} {r['starts']:>2.0f} {r['cold']:>10.3f} {r['cold_min']:>6.3f} {r['first_200']:>9.3f}  "
            f"{r['rss']:>7.1f} {r['pss']:>7.1f} {r['procs']:>5.0f}  {_f(r['up_rss'], 1):>12}  {_f(size, 1):>12}"
        )
    print()
    for spec in chosen:
        if spec.name in rows:
            redis = rows[spec.name]["aux_rss"]  # ContextForge's Redis, outside its tree
            print(f"{spec.name}: {spec.note}" + (f" (its Redis: {redis:.1f} MB RSS)" if redis == redis else ""))
    print("\ninstalled (runtime dependency closure; Python runtime not counted, shared by all):")
    for line in size_lines:
        print(f"  {line}")
    ratios = [(peer, ours) for peer, ours in PAIRS.items() if peer in rows and ours in rows]
    if ratios:
        print("\nratios, peer ÷ mcpgate doing the same job (> 1: mcpgate is faster / smaller):")
    by_name = {spec.name: spec for spec in chosen}
    for peer, ours in ratios:
        p, o = rows[peer], rows[ours]
        size = installed.get(by_name[peer].installed, NAN) / installed.get("mcpgate", NAN)
        print(
            f"  {peer:<21} vs {ours:<14} cold start {p['cold'] / o['cold']:.2f}x, idle RSS {p['rss'] / o['rss']:.2f}x, "
            f"PSS {p['pss'] / o['pss']:.2f}x, installed {_f(size, 2)}x"
        )
    print(f"\ntargets (issue #9): cold start <= {TARGET_COLD_START} s, idle RSS <= {TARGET_RSS:.0f} MB")
    for name in ("mcpgate-wrap", "mcpgate-serve", "mcpgate-default"):
        if name in rows:
            r = rows[name]
            verdict = "(the default: not what the targets are set for)" if name == "mcpgate-default" else verdict_of(r)
            print(f"  {name:<16} cold start {r['cold']:.2f} s (median), idle RSS {r['rss']:.1f} MB: {verdict}")
    for name, reason in failures.items():
        print(f"\nFAILED: {name}: {reason}")


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="starts per target (default 5)")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before reading memory (default 3)")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma subset of {','.join(TARGETS)}")
    args = parser.parse_args()
    wanted = args.targets.split(",")
    if unknown := set(wanted) - set(TARGETS):
        parser.error(f"unknown targets: {sorted(unknown)}")
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be 1..50")

    samples: dict[str, list[Sample]] = {}
    failures: dict[str, str] = {}
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="mcpgate-footprint-") as tmp_name:
        tmp = Path(tmp_name)
        os.chdir(tmp)  # the targets' working directory: whatever a peer writes there goes away with it
        upstream_procs = Processes(tmp)
        try:
            up_port = free_port()
            upstream = upstream_procs.start("upstream", [PY, str(HERE / "fast_upstream.py"), "http", str(up_port)])
            wait_until(upstream, listening(up_port), "fast upstream")
            all_specs = specs(f"http://127.0.0.1:{up_port}/mcp")
            chosen = [all_specs[name] for name in TARGETS if name in wanted]
            for rep in range(args.repeat):
                live = [s for s in chosen if s.name not in failures]
                shift = rep % len(live) if live else 0
                for spec in live[shift:] + live[:shift]:
                    try:
                        sample = measure_once(spec, tmp / f"{spec.name}-{rep}", args.idle)
                    except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError, ValueError) as exc:
                        failures[spec.name] = f"start {rep + 1}: {exc}"  # loud, and not retried
                        print(f"  FAILED {spec.name}: {exc}", file=sys.stderr)
                        continue
                    samples.setdefault(spec.name, []).append(sample)
                    print(
                        f"  {spec.name} start {rep + 1}/{args.repeat}: healthy in {sample.cold:.3f} s, "
                        f"RSS {sample.gateway.rss:.1f} MB",
                        file=sys.stderr,
                    )
        finally:
            upstream_procs.close()
            os.chdir(home)
    installed, size_lines = installed_sizes({s.installed for s in chosen})
    rows = {name: summarize(found) for name, found in samples.items()}  # a failed target keeps the starts it made
    print_report(rows, installed, size_lines, chosen, failures, args)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
