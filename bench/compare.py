"""Side by side: echo tools/call through mcpgate, directly, and through peer gateways (issue #9, workloads 1-3).

    .venv/bin/python bench/compare.py                          # all workloads, concurrency 1,10,32 (~25 min)
    .venv/bin/python bench/compare.py --only 3 --targets mcpgate,mcp-proxy --rounds 3 --round-seconds 2

What it measures (one `echo` tools/call = one sample; the reply's text is checked every time):

1. Streamable HTTP, an HTTP upstream behind a gateway: bench/fast_upstream.py directly (`echo`),
   `mcpgate serve` in front of it (`up_echo`), and ContextForge in front of it (a virtual server
   with the federated `<gateway-slug>-echo`, set up as bench/peers/README.md says: stateful
   sessions, JSON responses, rate limiting off, Redis cache, JWT auth).
2. The same three over the legacy SSE transport: GET the stream, read the `endpoint` event, POST
   each request there and read the reply (matched by id) from the stream.
3. A stdio server (`fast_upstream.py stdio`) bridged to Streamable HTTP: `mcpgate wrap` vs
   `mcp-proxy` vs `supergateway --outputTransport streamableHttp --stateful` (whose replies are
   SSE-framed; the `data:` line is parsed; a child per session), and supergateway's one mode with a
   single shared child, `--outputTransport sse` (this row over legacy SSE). No "direct" for stdio.

How: every target is started in its own process on loopback (peers from bench/peers/, see its
README), all targets of a workload stay up while it runs, and one lean aiohttp client drives them:
one worker task per concurrent client, each with its own keep-alive connection and MCP session,
one request in flight per worker. For every concurrency level each target gets its sessions opened
and `--warmup-seconds` of calls (not timed: Node's JIT and Python's caches warm up), then
`--rounds` rounds of `--round-seconds` each are interleaved across the targets (the order rotates
each round), so the machine's background drift hits all of them alike; the table shows the median
over rounds of each round's p50, p99 and calls/s, and how far calls/s spread over the rounds. CPU
ms per call is read from /proc for the gateway's process tree (its stdio upstream children
excluded; ContextForge's figure includes its Redis) and for the upstream over each round and the
1 s of quiet that follows it (no target is called then), all rounds' CPU divided by all their
calls: work a gateway defers (mcpgate's audit rows are written every 0.5 s) counts against the
round that caused it, and a process shared by two rows (one upstream behind every HTTP target,
one `mcpgate wrap` serving two transports) is counted for each row over its own rounds only.

Every target runs as its users would run it in production, and the report says how: mcpgate with
a managed key on every request (authenticated and audited), ContextForge with its JWT, mcp-proxy
and supergateway without auth (they have none); every Python gateway on uvloop and httptools
(mcp-proxy's uvicorn picks them up when installed: bench/peers/requirements-mcp-proxy.txt), which
the report checks in each process's memory map.

Where the bottleneck likely is: the fast upstream costs a few tens of microseconds per call, so
"direct" is bounded by this client's own CPU (aiohttp, ~0.1-0.2 ms per call) and by the 2 shared
cores. Through a gateway, the gateway's CPU per call (shown) is the figure that decides throughput
at concurrency 10 and 32, because client, gateway and upstream compete for the same two cores; at
concurrency 1 the added p50 is the gateway's per-call path plus one extra loopback round trip.
Each gateway is one process with one event loop, so it can use one core at most: calls/s tops out
near 1000 / (gateway CPU ms per call). ContextForge spends ~16 ms of CPU per Streamable HTTP call
(auth, database, Redis; its upstream does ~3x the work per call of mcpgate's, which looks like a
fresh upstream session per call) and ~85-110 ms per SSE call (each SSE message is re-POSTed to its
own /rpc over loopback), so it is CPU-bound from concurrency 1 on.
CPU figures come from clock ticks (10 ms): over 5 rounds of 5 s and thousands of calls they are
good to a few microseconds per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import compare_targets  # bench/, the script's own folder
from compare_targets import (
    Processes,
    Target,
    start_http_targets,
    start_stdio_targets,
)
from mcp_clients import CALL_TIMEOUT, Client

UPSTREAM_MARK = "fast_upstream.py"  # a gateway's child running this script is the upstream, not the gateway
ROUND_TIMEOUT = 300.0  # seconds for one timed round of one target
WORKLOADS = {1: "Streamable HTTP", 2: "legacy SSE", 3: "stdio bridged to Streamable HTTP"}
LABELS = {1: "http", 2: "sse", 3: "stdio"}
TARGETS = ("direct", "mcpgate", "contextforge", "mcp-proxy", "supergateway", "supergateway-sse")


# -- CPU accounting ---------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, float, bool]]:
    """pid -> (parent pid, CPU seconds, runs the upstream) of every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited meanwhile
        is_upstream = any(arg.endswith(UPSTREAM_MARK.encode()) for arg in argv[:2])
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, is_upstream)
    return found


def cpu_split(gateway_roots: list[int], upstream_pids: list[int]) -> dict[int, tuple[str, float]]:
    """pid -> ("gateway" | "upstream", CPU seconds) over the gateways' process trees and the upstreams."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    split = {pid: ("upstream", procs[pid][1]) for pid in upstream_pids if pid in procs}
    todo = [(pid, True) for pid in gateway_roots if pid in procs]
    while todo:
        pid, root = todo.pop()
        split[pid] = ("upstream" if procs[pid][2] and not root else "gateway", procs[pid][1])
        todo.extend((child, False) for child in children.get(pid, ()))
    return split


def cpu_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    spent = {"gateway": 0.0, "upstream": 0.0}
    for pid, (kind, seconds) in after.items():
        spent[kind] += seconds - before.get(pid, (kind, 0.0))[1]
    return spent


# -- targets and the measurement ---------------------------------------------------------------


Stats = dict[str, float]


def _first_error(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def _close_all(clients: list[Client]) -> None:
    with anyio.move_on_after(30):
        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(client.close)


async def _run(clients: list[Client], seconds: float, latencies: list[float]) -> None:
    """Every client calls, one request in flight each, until `seconds` have passed."""
    deadline = time.perf_counter() + seconds

    async def worker(client: Client) -> None:
        while time.perf_counter() < deadline:
            latencies.append(await client.call())

    with anyio.fail_after(seconds + ROUND_TIMEOUT):
        async with anyio.create_task_group() as tg:
            for client in clients:
                tg.start_soon(worker, client)


async def timed_round(target: Target, clients: list[Client], timing: Timing) -> Stats:
    """One round of `timing.round` seconds, then `timing.settle` seconds with no call: the gateway's
    and the upstream's CPU is counted over both, so what a round leaves to do (mcpgate writes audit
    rows every 0.5 s) counts against it, and no other target's calls are in the window."""
    latencies: list[float] = []
    cpu_before = cpu_split(target.gateway_pids, target.upstream_pids)
    client_before = time.process_time()
    started = time.perf_counter()
    await _run(clients, timing.round, latencies)
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    await anyio.sleep(timing.settle)
    spent = cpu_delta(cpu_before, cpu_split(target.gateway_pids, target.upstream_pids))
    ordered = sorted(latencies)
    n = len(ordered)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(n - 1, int(n * 0.99))],
        "rps": n / wall,
        "calls": n,
        "cpu_client": client_cpu * 1000 / n,
        "cpu_gateway_s": spent["gateway"],
        "cpu_upstream_s": spent["upstream"],
    }


async def measure_level(
    targets: list[Target], concurrency: int, rounds: int, timing: Timing, failures: dict[str, str]
) -> dict[str, Stats]:
    """Interleaved rounds over `targets` at one concurrency; returns each target's medians of rounds,
    the spread of its calls/s over them, and its CPU per call over all its rounds (`timed_round`)."""
    pools: dict[str, list[Client]] = {}
    samples: dict[str, list[Stats]] = {}

    limiter = anyio.CapacityLimiter(4)  # sessions open a few at a time: 32 SSE opens at once time out on ContextForge

    async def open_one(client: Client) -> None:
        async with limiter:
            await client.open()

    def fail(target: Target, phase: str, exc: BaseException) -> None:
        exc = _first_error(exc)
        failures[target.name] = f"c={concurrency}, {phase}: {type(exc).__name__}: {str(exc) or '(no message)'}"
        print(f"  FAILED {target.name}: {failures[target.name]}", file=sys.stderr)

    try:
        for target in targets:
            clients = [target.make_client(target, f"c{i}") for i in range(concurrency)]
            pools[target.name] = clients
            phase = "opening sessions"
            try:
                with anyio.fail_after(CALL_TIMEOUT * 4):
                    async with anyio.create_task_group() as tg:
                        for client in clients:
                            tg.start_soon(open_one, client)
                phase = "warm-up"
                await _run(clients, timing.warmup, [])
            except Exception as exc:  # any failure disqualifies this target, loudly
                fail(target, phase, exc)
                await _close_all(pools.pop(target.name))
        await anyio.sleep(timing.settle)  # the warm-ups' deferred work done before any CPU is counted
        for round_no in range(rounds):
            live = [t for t in targets if t.name in pools]
            shift = round_no % len(live) if live else 0
            for target in live[shift:] + live[:shift]:
                try:
                    samples.setdefault(target.name, []).append(await timed_round(target, pools[target.name], timing))
                except Exception as exc:  # as above
                    fail(target, f"round {round_no + 1}", exc)
                    samples.pop(target.name, None)
                    await _close_all(pools.pop(target.name))
            print(f"  c={concurrency} round {round_no + 1}/{rounds} done", file=sys.stderr)
    finally:
        for clients in pools.values():
            await _close_all(clients)
    found = {}
    for target in targets:
        if target.name not in samples:
            continue
        rs = samples[target.name]
        calls = sum(r["calls"] for r in rs)
        rates = [r["rps"] for r in rs]
        found[target.name] = {
            **{key: statistics.median(r[key] for r in rs) for key in ("p50", "p99", "rps", "cpu_client")},
            "rps_spread": (max(rates) - min(rates)) / 2 / statistics.median(rates),
            "calls": calls,
            "cpu_gateway": sum(r["cpu_gateway_s"] for r in rs) * 1000 / calls if target.gateway_pids else float("nan"),
            "cpu_upstream": sum(r["cpu_upstream_s"] for r in rs) * 1000 / calls,
        }
    return found


@dataclass(frozen=True)
class Timing:
    """Seconds: each timed round, each target's warm-up per concurrency level, and the quiet after
    the warm-ups and after each round (twice mcpgate's audit flush interval, 0.5 s)."""

    round: float = 5.0
    warmup: float = 3.0
    settle: float = 1.0


# -- the report --------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.3f}"  # NaN: not a gateway


def print_table(
    rows: list[tuple[int, int, str, Stats]],
    failures: dict[tuple[int, str], str],
    notes: set[str],
    setups: dict[tuple[int, str], str],
    args: Any,
) -> None:
    print(
        f"\necho tools/call: per target and level a {args.warmup_seconds:g} s warm-up, then {args.rounds} "
        f"interleaved rounds of {args.round_seconds:g} s (medians of rounds; ± = half the range of calls/s over "
        f"rounds, relative); python {sys.version.split()[0]}, {os.cpu_count()} cores shared with client and upstream"
    )
    print("mcpgate ÷: mcpgate's calls/s divided by this row's; mcpgate Δp50: mcpgate's p50 minus this row's")
    print(
        "CPU ms/call from /proc over each round and the 1 s of quiet after it (deferred work such as audit "
        "flushes counts), all rounds' CPU over all their calls; contextforge's gateway CPU includes its redis\n"
    )
    header = (
        f"{'workload':<10} {'conc':>4}  {'target':<16} {'p50 ms':>7} {'p99 ms':>7} {'calls/s':>8} {'±':>5}  "
        f"{'CPU/call: gateway':>17} {'upstream':>8} {'client':>7}  {'mcpgate ÷':>9} {'mcpgate Δp50':>12}"
    )
    print(header)
    print("-" * len(header))
    previous = None
    for workload, concurrency, name, s in rows:
        if previous is not None and previous != (workload, concurrency):
            print()
        previous = (workload, concurrency)
        ours = next((r[3] for r in rows if r[:2] == (workload, concurrency) and r[2] == "mcpgate"), None)
        ratio = delta = ""
        if ours is not None and name != "mcpgate":
            ratio, delta = f"{ours['rps'] / s['rps']:.2f}x", f"{ours['p50'] - s['p50']:+.2f} ms"
        print(
            f"{f'{workload} {LABELS[workload]}':<10} {concurrency:>4}  {name:<16} {s['p50']:>7.2f} {s['p99']:>7.2f} "
            f"{s['rps']:>8.0f} {s['rps_spread'] * 100:>4.0f}%  {_ms(s['cpu_gateway']):>17} "
            f"{_ms(s['cpu_upstream']):>8} {_ms(s['cpu_client']):>7}  {ratio:>9} {delta:>12}"
        )
    print("\nhow each target ran:")
    for (workload, name), setup in sorted(setups.items()):
        print(f"  {workload} {LABELS[workload]:<6} {name:<16} {setup}")
    for note in sorted(notes):
        print(f"\nnote: {note}")
    for (workload, name), reason in failures.items():
        print(f"\nFAILED: workload {workload} {name}: {reason}")
    for workload in sorted({r[0] for r in rows}):
        at_1 = {r[2]: r[3] for r in rows if r[0] == workload and r[1] == 1}
        if "mcpgate" in at_1 and "direct" in at_1:
            added = at_1["mcpgate"]["p50"] - at_1["direct"]["p50"]
            print(f"\nworkload {workload}: mcpgate adds {added:.2f} ms p50 over direct at concurrency 1")


def event_loop(pids: list[int]) -> str:
    """Which event loop and HTTP parser a gateway's process runs, from the libraries it has mapped."""
    if not pids:
        return "upstream itself"
    try:
        maps = Path(f"/proc/{pids[0]}/maps").read_text()
        program = Path(f"/proc/{pids[0]}/exe").resolve().name
    except OSError:
        return "event loop unknown"
    if program.startswith("node"):
        return "Node.js"
    found = [name for name in ("uvloop", "httptools") if f"/{name}/" in maps]
    return " + ".join(found) if found else "no uvloop, no httptools in the process"


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per level (default 5)")
    parser.add_argument("--round-seconds", type=float, default=5.0, help="each timed round (default 5)")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="each target's warm-up per level (default 3)")
    parser.add_argument("--concurrency", default="1,10,32", help="comma list (default 1,10,32; at most ~40)")
    parser.add_argument("--only", default="1,2,3", help="comma list of workloads: 1 http, 2 sse, 3 stdio")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma subset of {','.join(TARGETS)}")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another mcpgate checkout (e.g. a `git worktree` of an older commit) measured beside this one "
        "as the row mcpgate@base, with its own key and registry",
    )
    args = parser.parse_args()
    if args.baseline is not None:
        if not (args.baseline / "src" / "mcpgate").is_dir():
            parser.error(f"--baseline {args.baseline}: no src/mcpgate there")
        compare_targets.BASELINE = args.baseline.resolve()
    levels = [int(c) for c in args.concurrency.split(",")]
    only = sorted({int(w) for w in args.only.split(",")})
    wanted = set(args.targets.split(","))
    if unknown := (wanted - set(TARGETS)) | (set(only) - set(WORKLOADS)):
        parser.error(f"unknown targets or workloads: {sorted(map(str, unknown))}")
    if max(levels) > 40:
        parser.error("concurrency above 40 is not supported on this machine")

    rows: list[tuple[int, int, str, Stats]] = []
    failures: dict[tuple[int, str], str] = {}
    notes: set[str] = set()
    setups: dict[tuple[int, str], str] = {}

    def measure(workload: int, targets: dict[str, Target], start_failures: dict[str, str]) -> None:
        for name, reason in start_failures.items():
            failures[(workload, name)] = reason
        live = list(targets.values())
        notes.update(t.note for t in live if t.note)
        for target in live:
            setups[(workload, target.name)] = f"{target.setup} [{event_loop(target.gateway_pids)}]".strip()
        for concurrency in levels:
            print(f"workload {workload} ({WORKLOADS[workload]}), concurrency {concurrency}", file=sys.stderr)
            lost: dict[str, str] = {}
            timing = Timing(args.round_seconds, args.warmup_seconds)
            medians = anyio.run(
                measure_level, live, concurrency, args.rounds, timing, lost, backend_options={"use_uvloop": True}
            )
            rows.extend((workload, concurrency, t.name, medians[t.name]) for t in live if t.name in medians)
            for name, reason in lost.items():
                failures[(workload, name)] = reason
            live = [t for t in live if t.name not in lost]

    with tempfile.TemporaryDirectory(prefix="mcpgate-compare-") as tmp_name:
        tmp = Path(tmp_name)
        if {1, 2} & set(only):
            procs = Processes(tmp)
            try:
                by_transport, start_failures = start_http_targets(procs, tmp, wanted)
                for workload, transport in ((1, "http"), (2, "sse")):
                    if workload in only:
                        measure(workload, by_transport[transport], start_failures)
            finally:
                procs.close()
        if 3 in only:
            procs = Processes(tmp)
            try:
                measure(3, *start_stdio_targets(procs, tmp, wanted))
            finally:
                procs.close()
    print_table(rows, failures, notes, setups, args)
    # A peer that fails is a finding, reported in the table; the run fails only for our own targets.
    return 1 if any(name in ("direct", "mcpgate") for _, name in failures) else 0


if __name__ == "__main__":
    sys.exit(main())
