"""10,000 idle legacy SSE sessions on one mcpgate process: memory each, and a broadcast to all (issue #9, workload 4).

    .venv/bin/python bench/sse_sessions.py                       # 10,000 sessions, one client process (~2 min)
    .venv/bin/python bench/sse_sessions.py --sessions 1000 --clients 2 --rounds 5

What it measures (targets from the design brief: <= 20 KB per session, broadcast to all within 1 s):

- Opening: N sessions, each a GET /sse held open, its `endpoint` event read, `initialize` POSTed
  there (the reply read off the stream, checked) and `notifications/initialized` POSTed; at most
  `--concurrency` opening at once. Wall time, failures, and the gateway's CPU per opened session.
- Memory per session: the gateway's VmRSS (and PSS/USS from /proc/PID/smaps_rollup) with all N
  sessions open and idle, minus the same before any was opened (after a warm-up of a few sessions
  opened and closed and one management API request, so one-off imports and caches are not charged
  to sessions), divided by N.
  Kernel socket buffers are not in RSS; /proc/net/sockstat's TCP `mem` (pages, both ends of every
  loopback connection, the whole machine) is shown beside it.
- Idle cost: the gateway's CPU over `--idle` seconds with all sessions open; the default is one
  keep-alive period (edge.keepaliveSeconds, 15 s), so each session gets about one `: keep-alive`
  comment in the window (counted by the clients).
- Broadcast: the gateway's tool catalog is changed at run time through the management API (a
  second fast upstream registered with POST /api/v1/upstreams, then removed with DELETE, then
  registered again; `--rounds`), which makes the gateway push `notifications/tools/list_changed`
  to every session. Timed from just before the API request is sent until each session's stream
  delivers that notification: first, p50, p99 and last session, how long the API request itself
  took, and every session that did not get it exactly once within `--broadcast-timeout`. The
  first arrival is when the catalog changed (an added upstream must connect and list its tools
  first); first to last is the fan-out itself.

How: bench/fast_upstream.py (HTTP) and `mcpgate serve` in front of it, each in its own process
group on loopback, a static admin key (the management API and the SSE endpoints require it). The
sessions are held by `--clients` forked client processes, each one uvloop event loop with one raw
asyncio Protocol per stream (HTTP/1.1 chunked body and SSE framing parsed by hand, no HTTP client
library), the POSTs of opening over a few keep-alive connections per process. The clients report
to this process over pipes; arrival times are CLOCK_MONOTONIC, comparable across processes.

Where the limits are: the gateway is one process with one event loop, so a broadcast is one core
writing N SSE events (one task wake-up, one chunk and one socket write per session). The client
processes share the machine's 2 cores with the gateway and timestamp an event when their own loop
gets to it, so the later arrivals include the clients' own lag (their CPU during the round is
shown). One client process (~25 µs per event) is the right number on 2 cores: it and the gateway
get a core each; with 2 they take CPU from the gateway and broadcasts get slower, not faster.
Each open session is ~160 GC-tracked Python objects in the gateway (1.6 M at 10,000), so one full
(generation 2) cyclic-GC pass costs ~0.9 s there and stalls whatever round it lands in, often the
first; rounds are repeated for that reason. CPU figures come from clock ticks (10 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compare_targets import (  # bench/, the script's own folder
    Processes,
    free_port,
    http_ok,
    listening,
    log_tail,
    wait_until,
)
from sse_clients import ADMIN_KEY, HOST, Clients  # bench/, the script's own folder

HERE = Path(__file__).parent
PY = sys.executable
EXTRA = "extra"  # the upstream registered and removed to change the catalog
EXPECTED = {"add": 201, "remove": 204}  # the management API's status for each trigger
WARMUP_SESSIONS = 50
BASELINE_SECONDS = 5.0  # idle CPU without sessions, subtracted from the keep-alive cost
KEEPALIVE_SECONDS = 15.0  # mcpgate's default edge.keepaliveSeconds
TARGET_KB = 20.0
TARGET_BROADCAST_S = 1.0


# -- the orchestrating side: gateway, figures ----------------------------------------------------


def memory(pid: int) -> dict[str, int]:
    """The process's RSS, PSS and USS in bytes (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        rollup[name] = int(value.split()[0])
    uss = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
    return {"rss": rss * 1024, "pss": rollup.get("Pss", 0) * 1024, "uss": uss * 1024}


def tcp_memory_pages() -> int:
    """The kernel's TCP buffer memory, machine-wide, in pages (/proc/net/sockstat)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            words = line.split()
            return int(words[words.index("mem") + 1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
        return json.loads(response.read())


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, float, str]:
    """One management API request: (status, seconds it took, the body of an error answer)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"}
    request = urllib.request.Request(f"{base}/api/v1{path}", data=data, headers=headers, method=method)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status, time.monotonic() - started, ""
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started, exc.read()[:300].decode(errors="replace")


def wait_for_connections(base: str, wanted: int, limit_s: float = 10.0) -> int:
    """The gateway's open-session count once it reaches `wanted` (or whatever it is after `limit_s`)."""
    deadline = time.monotonic() + limit_s
    while (count := health(base)["connections"]) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


@dataclass
class Round:
    trigger: str
    status: int
    request_s: float
    arrivals: list[float]  # seconds after the trigger, sorted
    missing: int
    duplicates: int
    gateway_cpu: float
    client_cpu: float
    error: str  # the API's answer when it was not the expected status
    dropped: int  # sessions whose stream had ended by the end of the round (since opening)


def broadcast(clients: Clients, base: str, gateway_pid: int, trigger: str, extra_url: str, limit_s: float) -> Round:
    """One catalog change through the API, timed until every session got its list_changed."""
    for conn in clients.conns:
        conn.send(("broadcast", limit_s))
    for conn in clients.conns:
        if clients.answer(conn) != "armed":
            raise RuntimeError("a client process did not arm")
    cpu = cpu_seconds(gateway_pid)
    started = time.monotonic()
    if trigger == "add":
        body = {"name": EXTRA, "kind": "streamable_http", "url": extra_url}
        status, took, error = api(base, "POST", "/upstreams", body)
    else:
        status, took, error = api(base, "DELETE", f"/upstreams/{EXTRA}")
    results = [clients.answer(conn) for conn in clients.conns]
    gateway_cpu = cpu_seconds(gateway_pid) - cpu
    arrivals = sorted(t - started for r in results for t in r["firsts"])
    return Round(
        f"{trigger} upstream",
        status,
        took,
        arrivals,
        sum(r["missing"] for r in results),
        sum(r["duplicates"] for r in results),
        gateway_cpu,
        sum(r["cpu"] for r in results),
        "" if status == EXPECTED[trigger] else error or "(no body)",
        sum(r["dropped"] for r in results),
    )


def percentile(ordered: list[float], q: float) -> str:
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * q))]:.3f}s" if ordered else "-"


def start_gateway(procs: Processes, tmp: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """Two fast upstreams and `mcpgate serve` in front of the first: (gateway pid, gateway URL, second's URL)."""
    upstream_urls = []
    for name in ("upstream", "upstream-extra"):
        port = free_port()
        proc = procs.start(name, [PY, str(HERE / "fast_upstream.py"), "http", str(port)])
        wait_until(proc, listening(port), name)
        upstream_urls.append(f"http://{HOST}:{port}/mcp")
    port = free_port()
    config = tmp / "gateway.json"
    settings = {
        "mcpServers": {"up": {"url": upstream_urls[0], "type": "http"}},
        "database_url": "sqlite+aiosqlite://",
        "data_dir": str(tmp / "data"),
        "api_key": ADMIN_KEY,
    }
    config.write_text(json.dumps(settings))
    args = [PY, "-m", "mcpgate", "serve", "--config", str(config), "--port", str(port), "--log-level", "warning"]
    gateway = procs.start("mcpgate-serve", args)
    base = f"http://{HOST}:{port}"
    wait_until(gateway, http_ok(f"{base}/health", "ready"), "mcpgate serve")
    return gateway, base, upstream_urls[1]


def run(args: argparse.Namespace, tmp: Path) -> int:
    procs = Processes(tmp)
    clients: Clients | None = None
    try:
        gateway, base, extra_url = start_gateway(procs, tmp)
        gateway_pid = gateway.pid
        port = int(base.rsplit(":", 1)[1])
        clients = Clients(args.clients, port)
        print(f"gateway pid {gateway_pid} on {base}; {args.clients} client process(es)", file=sys.stderr)

        warm = clients.ask("warmup", [WARMUP_SESSIONS] + [0] * (args.clients - 1))[0]
        if warm["opened"] != WARMUP_SESSIONS:
            raise RuntimeError(f"warm-up: {warm['opened']}/{WARMUP_SESSIONS} opened: {warm['errors']}")
        status, _, error = api(base, "GET", "/upstreams")  # the management API's first use (imports, caches)
        if status != 200:
            raise RuntimeError(f"GET /api/v1/upstreams: HTTP {status}: {error}")
        wait_for_connections(base, 0)
        time.sleep(1.0)
        mem_before, tcp_before = memory(gateway_pid), tcp_memory_pages()
        cpu = cpu_seconds(gateway_pid)
        time.sleep(BASELINE_SECONDS)  # the gateway's own background work, without sessions
        idle_base = (cpu_seconds(gateway_pid) - cpu) * args.idle / BASELINE_SECONDS

        print(f"opening {args.sessions} sessions ...", file=sys.stderr)
        per_client = max(1, args.concurrency // args.clients)
        cpu, started = cpu_seconds(gateway_pid), time.monotonic()
        opened = clients.ask("open", [(n, per_client, args.open_timeout) for n in shares(args.sessions, args.clients)])
        open_s, open_cpu = time.monotonic() - started, cpu_seconds(gateway_pid) - cpu
        n_open = sum(r["opened"] for r in opened)
        errors: Counter[str] = Counter()
        for result in opened:
            errors.update(result["errors"])
        gateway_count = wait_for_connections(base, n_open)
        time.sleep(2.0)
        mem_open, tcp_open = memory(gateway_pid), tcp_memory_pages()

        print(f"idle for {args.idle:.0f} s ...", file=sys.stderr)
        clients.ask("keepalives", [None] * args.clients)
        cpu = cpu_seconds(gateway_pid)
        time.sleep(args.idle)
        idle_cpu = cpu_seconds(gateway_pid) - cpu
        keepalives = sum(clients.ask("keepalives", [None] * args.clients))

        rounds = []
        for number in range(args.rounds):
            trigger = "add" if number % 2 == 0 else "remove"
            print(f"broadcast {number + 1}/{args.rounds} ({trigger}) ...", file=sys.stderr)
            rounds.append(broadcast(clients, base, gateway_pid, trigger, extra_url, args.broadcast_timeout))
            time.sleep(1.0)
        mem_after = memory(gateway_pid)
        still_open = health(base)["connections"]
        idle = (idle_cpu, idle_base, keepalives)
        report(args, n_open, errors, gateway_count, still_open, open_s, open_cpu, opened, idle, rounds)
        report_memory(args, n_open, mem_before, mem_open, mem_after, tcp_before, tcp_open)
        failed = n_open < args.sessions or any(r.missing or r.duplicates or r.error or r.dropped for r in rounds)
        if failed:
            print(f"\nthe gateway's log, last lines:\n{log_tail(gateway, 15)}")
        return 1 if failed else 0
    finally:
        if clients is not None:
            clients.close()
        procs.close()


# -- the report --------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    n_open: int,
    errors: Counter[str],
    gateway_count: int,
    still_open: int,
    open_s: float,
    open_cpu: float,
    opened: list[dict[str, Any]],
    idle: tuple[float, float, int],
    rounds: list[Round],
) -> None:
    print(
        f"\nworkload 4: {args.sessions:,} idle legacy SSE sessions on one `mcpgate serve` process; "
        f"{args.clients} client process(es); python {sys.version.split()[0]}, {os.cpu_count()} cores shared by all"
    )
    client_cpu = sum(r["cpu"] for r in opened)
    print(
        f"\nopening:   {n_open:,}/{args.sessions:,} opened in {open_s:.1f} s ({n_open / open_s:,.0f}/s, "
        f"{args.concurrency} at a time); gateway CPU {open_cpu:.1f} s ({open_cpu * 1000 / max(n_open, 1):.2f} ms "
        f"per session), clients {client_cpu:.1f} s; gateway counts {gateway_count:,} sessions"
    )
    for reason, count in errors.most_common(5):
        print(f"           FAILED {count:,}: {reason}")
    idle_cpu, idle_base, keepalives = idle
    per_keepalive = f"~{(idle_cpu - idle_base) * 1e6 / keepalives:.0f} µs" if keepalives else "-"
    print(
        f"idle:      gateway CPU {idle_cpu:.2f} s over {args.idle:.0f} s ({idle_cpu * 100 / args.idle:.1f} % of a "
        f"core; {idle_base:.2f} s of it without sessions), {keepalives:,} keep-alive comments received "
        f"({per_keepalive} of gateway CPU each, net)"
    )
    header = (
        f"{'broadcast':<16} {'HTTP':>4} {'request':>8} {'first':>7} {'p50':>7} {'p99':>7} {'last':>7} "
        f"{'received':>9} {'missing':>7} {'dup':>4} {'gw CPU':>7} {'cl CPU':>7}  "
        f"target: last <= {TARGET_BROADCAST_S:.0f} s"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for r in rounds:
        met = r.arrivals and r.arrivals[-1] <= TARGET_BROADCAST_S and not r.missing
        print(
            f"{r.trigger:<16} {r.status:>4} {r.request_s:>7.3f}s {percentile(r.arrivals, 0):>7} "
            f"{percentile(r.arrivals, 0.5):>7} {percentile(r.arrivals, 0.99):>7} {percentile(r.arrivals, 1):>7} "
            f"{len(r.arrivals):>9,} {r.missing:>7,} {r.duplicates:>4} "
            f"{r.gateway_cpu:>6.2f}s {r.client_cpu:>6.2f}s  {'met' if met else 'MISSED'}"
        )
    for r in rounds:
        if r.error:
            print(f"FAILED: {r.trigger}: HTTP {r.status}: {r.error}")
    print(
        "times from just before the API request was sent; request = that request's own duration; "
        "gw/cl CPU = gateway / client processes during the round"
    )
    if rounds and rounds[-1].dropped:
        print(f"FAILED: {rounds[-1].dropped:,} sessions' streams ended (closed by the gateway or the connection lost)")
    if still_open != n_open:
        print(f"sessions the gateway still counts after the broadcasts: {still_open:,} of {n_open:,}")


def report_memory(
    args: argparse.Namespace,
    n_open: int,
    before: dict[str, int],
    opened: dict[str, int],
    after: dict[str, int],
    tcp_before: int,
    tcp_open: int,
) -> None:
    n = max(n_open, 1)
    print(f"\n{'gateway memory':<16} {'before':>9} {'all open':>9} {'per session':>12} {'after broadcasts':>17}")
    for kind in ("rss", "pss", "uss"):
        per = (opened[kind] - before[kind]) / n / 1024
        mark = f"  (target <= {TARGET_KB:.0f} KB: {'met' if per <= TARGET_KB else 'MISSED'})" if kind == "rss" else ""
        print(
            f"{kind.upper():<16} {before[kind] / 2**20:>7.1f}MB {opened[kind] / 2**20:>7.1f}MB "
            f"{per:>9.1f} KB {after[kind] / 2**20:>15.1f}MB{mark}"
        )
    tcp = (tcp_open - tcp_before) * os.sysconf("SC_PAGE_SIZE")
    print(
        f"kernel TCP buffers (not in RSS; machine-wide, both ends of each loopback connection): "
        f"{tcp_before} -> {tcp_open} pages, {tcp / 2**20:+.1f} MB ({tcp / n / 1024:+.1f} KB per session)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000, help="idle SSE sessions to hold (default 10000)")
    parser.add_argument("--clients", type=int, default=1, help="client processes holding them (default 1; <= 4)")
    parser.add_argument("--concurrency", type=int, default=200, help="sessions opening at once, all clients (200)")
    parser.add_argument("--rounds", type=int, default=3, help="broadcasts: add, remove, add, ... (default 3)")
    parser.add_argument("--idle", type=float, default=KEEPALIVE_SECONDS, help="idle window, s (default 15)")
    parser.add_argument("--open-timeout", type=float, default=300.0, help="bound on opening all sessions, s (300)")
    parser.add_argument("--broadcast-timeout", type=float, default=30.0, help="bound on one broadcast, s (30)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 4:
        parser.error("--clients must be 1-4 (the machine has 2 cores)")
    if args.sessions // args.clients > 18_000:
        parser.error("at most ~18,000 sessions per client process (file descriptor limit 20,000)")
    with tempfile.TemporaryDirectory(prefix="mcpgate-sse-sessions-") as tmp:
        return run(args, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
