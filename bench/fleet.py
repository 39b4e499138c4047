"""Scaling out (#27): one process, `serve --workers 2`, two replicas behind HAProxy; and the relay's cost.

    make bench-fleet                 # or: .venv/bin/python bench/fleet.py [--calls 1500] [--concurrency 1,20]

Starts bench/fast_upstream.py and, in front of it, three deployments of `mcpgate serve`, each a
fleet of its own (tests/fleet/cluster.py: its own PostgreSQL schema migrated once with
`mcpgate db upgrade`, its own Redis key prefix, one secret key; all with MCPGATE_REDIS_URL set,
so (a) runs with the same environment as the others):

    single    one `mcpgate serve` process
    workers   one `mcpgate serve --workers 2` (two replicas on one port, SO_REUSEPORT)
    haproxy   two `mcpgate serve` processes behind HAProxy (tests/fleet/balancer.py: round robin,
              every request balanced on its own, so about half of a session's requests are
              relayed over Redis to the replica that holds the session)

and drives each with bench/latency.py's client (aiohttp, one keep-alive connection and one MCP
session per worker, echo tools/call, JSON responses) at each concurrency level, in interleaved
rounds (medians of rounds). Then, on the two replicas of `haproxy` directly:

    A direct  sessions begun on replica A, their calls sent to A
    B → A     the same sessions' calls sent to replica B, which relays each to A over Redis

Every answer's echo text is checked. Gateway CPU per call sums every gateway process of the
deployment (from /proc; HAProxy's own is not counted). Everything — client, replicas, HAProxy,
Redis, PostgreSQL, the upstream — runs on the same machine; on 2 cores they compete for the CPU,
which is what the figures show.
Every process, schema and Redis key is removed at the end, on error too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import anyio
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.fleet: the harness the fleet tests start replicas with

from latency import PY, cpu_seconds, free_port, open_session, process  # noqa: E402
from tests.fleet.cluster import Fleet  # noqa: E402

ENV = {"MCPGATE_LOG_LEVEL": "warning"}


def gateway_pids(fleet: Fleet) -> list[int]:
    """Every process of every replica of a fleet (a `--workers` parent and its workers)."""
    return [running.pid for replica in fleet.replicas for running in replica.processes()]


def cpu_total(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += cpu_seconds(pid)
    return total


async def drive(
    init_url: str, call_url: str, concurrency: int, calls: int, pids: list[int]
) -> tuple[list[float], float, float]:
    """`calls` echo tools/call over `concurrency` workers, each session begun at `init_url` and its
    calls sent to `call_url` (the same URL, or another replica's to measure relaying).

    A warm-up pass of the same size first. Returns the latencies in ms, the wall seconds and the
    CPU ms per call of the processes in `pids` together.
    """
    latencies: list[float] = []
    per_worker = max(1, calls // concurrency)

    async def worker(n: int) -> None:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30)
            ) as init_client,
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30)
            ) as client,
        ):
            headers = await open_session(init_client, init_url)
            if call_url == init_url:
                client = init_client  # one keep-alive connection, as bench/latency.py
            for i in range(per_worker):
                body = {
                    "jsonrpc": "2.0",
                    "id": i + 1,
                    "method": "tools/call",
                    "params": {"name": "up_echo", "arguments": {"text": f"w{n}-{i}"}},
                }
                start = time.perf_counter()
                async with client.post(call_url, data=orjson.dumps(body), headers=headers) as response:
                    raw = await response.read()
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status != 200:
                    raise AssertionError(f"{call_url}: {response.status} {raw[:300]!r}")
                text = orjson.loads(raw)["result"]["content"][0]["text"]
                if text != f"w{n}-{i}":
                    raise AssertionError(f"wrong reply {text!r}")

    async with anyio.create_task_group() as tg:  # warm-up
        for n in range(concurrency):
            tg.start_soon(worker, n)
    latencies.clear()
    cpu_before = cpu_total(pids)
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for n in range(concurrency):
            tg.start_soon(worker, n)
    wall = time.perf_counter() - started
    return latencies, wall, (cpu_total(pids) - cpu_before) * 1000 / len(latencies)


def summarize(latencies: list[float], wall: float, cpu: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "rps": len(ordered) / wall,
        "cpu": cpu,
    }


def median_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


async def measure(args: argparse.Namespace, tmp: Path, upstream_port: int) -> list[tuple[str, int, dict[str, float]]]:
    config = tmp / "gateway.json"
    # No database_url: each replica takes MCPGATE_DATABASE_URL (its fleet's PostgreSQL schema).
    upstream = {"url": f"http://127.0.0.1:{upstream_port}/mcp", "type": "http"}
    config.write_text(json.dumps({"mcpServers": {"up": upstream}}))
    levels = [int(c) for c in args.concurrency.split(",")]
    per_round = max(1, args.calls // args.rounds)
    async with contextlib.AsyncExitStack() as stack:
        single = await stack.enter_async_context(Fleet(tmp / "single", replicas=1, config=config, env=ENV))
        workers = await stack.enter_async_context(
            Fleet(tmp / "workers", replicas=1, config=config, env=ENV, args=["--workers", "2"])
        )
        pair = await stack.enter_async_context(Fleet(tmp / "haproxy", replicas=2, config=config, env=ENV))
        a, b = pair.replicas
        targets = [
            # label, session begun at, calls sent to, the processes whose CPU is counted
            ("single", f"{single.replicas[0].url}/mcp", f"{single.replicas[0].url}/mcp", gateway_pids(single)),
            ("workers 2", f"{workers.replicas[0].url}/mcp", f"{workers.replicas[0].url}/mcp", gateway_pids(workers)),
            ("2 replicas+haproxy", f"{pair.url}/mcp", f"{pair.url}/mcp", gateway_pids(pair)),
            ("A direct", f"{a.url}/mcp", f"{a.url}/mcp", gateway_pids(pair)),
            ("B -> A relayed", f"{a.url}/mcp", f"{b.url}/mcp", gateway_pids(pair)),
        ]
        rows = []
        for concurrency in levels:
            # Interleaved rounds: every target sees the same drift of this machine's load.
            rounds: list[list[dict[str, float]]] = [[] for _ in targets]
            for _ in range(args.rounds):
                for n, (_, init_url, call_url, pids) in enumerate(targets):
                    rounds[n].append(summarize(*await drive(init_url, call_url, concurrency, per_round, pids)))
            for (label, *_), measured in zip(targets, rounds, strict=True):
                rows.append((label, concurrency, median_of(measured)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1500, help="calls per target and level (default 1500)")
    parser.add_argument("--concurrency", default="1,20")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per level (default 3)")
    args = parser.parse_args()

    upstream_port = free_port()
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="mcpgate-bench-fleet-") as tmp,
        process([PY, str(HERE / "fast_upstream.py"), "http", str(upstream_port)], upstream_port),
    ):
        rows = anyio.run(measure, args, Path(tmp), upstream_port)

    print(
        f"\necho tools/call over Streamable HTTP (JSON responses, sessions of 2025-11-25), {args.calls} calls "
        f"per target and level in {args.rounds} interleaved rounds (medians of rounds); "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {time.monotonic() - started:.0f} s\n"
    )
    header = f"{'target':<20} | {'conc':>4} | {'p50':>8} {'p99':>8} | {'calls/s':>8} | {'gateway CPU/call':>16}"
    print(header)
    print("-" * len(header))
    for label, concurrency, m in rows:
        print(
            f"{label:<20} | {concurrency:>4} | {m['p50']:>6.2f}ms {m['p99']:>6.2f}ms | {m['rps']:>8.0f} | "
            f"{m['cpu']:>14.3f}ms"
        )
    by = {(label, concurrency): m for label, concurrency, m in rows}
    for concurrency in sorted({concurrency for _, concurrency, _ in rows}):
        direct, relayed = by[("A direct", concurrency)], by[("B -> A relayed", concurrency)]
        print(
            f"\nrelay at concurrency {concurrency}: +{relayed['p50'] - direct['p50']:.2f} ms p50 "
            f"({direct['p50']:.2f} -> {relayed['p50']:.2f} ms), "
            f"+{relayed['cpu'] - direct['cpu']:.3f} ms gateway CPU per call"
        )


if __name__ == "__main__":
    main()
