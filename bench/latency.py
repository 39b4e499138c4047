"""Echo tool latency and throughput: directly against the upstream vs through mcpgate.

    make bench-latency               # or: .venv/bin/python bench/latency.py [--calls 500]

Starts the upstream (bench/fast_upstream.py; the SDK's server with --upstream sdk) and an
mcpgate in front of it, each in its own process on loopback, then drives both with the same
lean HTTP client (aiohttp, one keep-alive connection per worker, one MCP session per worker,
JSON responses) at concurrency 1, 10 and 50. Prints p50/p99 latency, calls/s, the gateway/direct ratios and
the CPU time each server process spent per call (read from /proc, so it does not drift
with the machine's background load the way wall-clock latency does).
The client runs on the same 2 cores as both servers; all three compete for CPU, so the
concurrent figures are bounded by the machine, and the ratio is what to read.

Several gateways, each with its own environment, can be measured side by side in the same
interleaved rounds — e.g. tracing off and on (docs/benchmarks.md, "Traces"), or another
checkout's code through PYTHONPATH:

    python bench/latency.py --gateway off \
        --gateway on:OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 --gateway base:PYTHONPATH=/tmp/base/src
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import anyio
import orjson

HERE = Path(__file__).parent
PY = sys.executable
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@contextmanager
def process(args: list[str], port: int, env: dict[str, str] | None = None):
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_listening(port, time.monotonic() + 30)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_session(client: aiohttp.ClientSession, url: str) -> dict[str, str]:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
    async with client.post(url, data=orjson.dumps(init), headers=HEADERS) as response:
        response.raise_for_status()
        await response.read()
        headers = {**HEADERS, "mcp-protocol-version": "2025-11-25"}
        if sid := response.headers.get("mcp-session-id"):
            headers["mcp-session-id"] = sid
    initialized = orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    async with client.post(url, data=initialized, headers=headers) as response:
        await response.read()
    return headers


async def drive(
    url: str, tool: str, concurrency: int, calls: int, pids: dict[str, int]
) -> tuple[list[float], float, dict[str, float]]:
    """`calls` tools/call spread over `concurrency` workers.

    Returns the latencies in ms, the wall seconds, and the CPU ms per call of each process in `pids`.
    """
    latencies: list[float] = []
    per_worker = max(1, calls // concurrency)

    async def worker(n: int) -> None:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
            headers = await open_session(client, url)
            for i in range(per_worker):
                body = {
                    "jsonrpc": "2.0",
                    "id": i + 1,
                    "method": "tools/call",
                    "params": {"name": tool, "arguments": {"text": f"w{n}-{i}"}},
                }
                start = time.perf_counter()
                async with client.post(url, data=orjson.dumps(body), headers=headers) as response:
                    reply = orjson.loads(await response.read())
                latencies.append((time.perf_counter() - start) * 1000)
                text = reply["result"]["content"][0]["text"]
                if text != f"w{n}-{i}":
                    raise AssertionError(f"wrong reply {text!r}")

    # Warm up connections and code paths first.
    async with anyio.create_task_group() as tg:
        for n in range(concurrency):
            tg.start_soon(worker, n)
    latencies.clear()
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for n in range(concurrency):
            tg.start_soon(worker, n)
    wall = time.perf_counter() - started
    cpu = {name: (cpu_seconds(pid) - cpu_before[name]) * 1000 / len(latencies) for name, pid in pids.items()}
    return latencies, wall, cpu


def summarize(latencies: list[float], wall: float, cpu: dict[str, float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "rps": len(ordered) / wall,
        **{f"cpu_{name}": ms for name, ms in cpu.items()},
    }


def upstream_command(kind: str, port: int) -> list[str]:
    if kind == "sdk":
        return [PY, str(HERE / "upstream.py"), str(port)]
    return [PY, str(HERE / "fast_upstream.py"), "http", str(port)]


def gateway_spec(text: str) -> tuple[str, dict[str, str]]:
    """`LABEL[:VAR=VALUE,VAR=VALUE…]` → (label, the variables it adds to this environment)."""
    label, _, assignments = text.partition(":")
    env = {}
    for assignment in re.split(r",(?=[A-Za-z_][A-Za-z0-9_]*=)", assignments) if assignments else []:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--gateway {text!r}: expected VAR=VALUE, got {assignment!r}")
        env[name] = value
    return label, env


def median_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per concurrency level (default 1000)")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved direct/gateway rounds per level")
    parser.add_argument(
        "--upstream",
        choices=["fast", "sdk"],
        default="fast",
        help="fast: bench/fast_upstream.py (not the bottleneck); sdk: bench/upstream.py (official SDK server)",
    )
    parser.add_argument(
        "--gateway",
        action="append",
        type=gateway_spec,
        metavar="LABEL[:VAR=VALUE,...]",
        help="a gateway to measure, started with these variables added to the environment (repeatable; "
        "default: one gateway, as is)",
    )
    args = parser.parse_args()
    per_round = max(1, args.calls // args.rounds)
    levels = [int(c) for c in args.concurrency.split(",")]
    gateways: list[tuple[str, dict[str, str]]] = args.gateway or [("mcpgate", {})]

    upstream_port = free_port()
    gateway_ports = [free_port() for _ in gateways]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.json"
        config.write_text(
            json.dumps(
                {
                    "mcpServers": {"up": {"url": f"http://127.0.0.1:{upstream_port}/mcp", "type": "http"}},
                    "database_url": "sqlite+aiosqlite://",  # the bench's own, never the user's registry
                }
            )
        )
        env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} cores"
        with contextlib.ExitStack() as running:
            upstream = running.enter_context(process(upstream_command(args.upstream, upstream_port), upstream_port))
            pids = []
            for (_, extra), port in zip(gateways, gateway_ports, strict=True):
                command = [PY, "-m", "mcpgate", "serve", "--config", str(config), "--port", str(port)]
                command += ["--log-level", "warning"]
                gateway = running.enter_context(process(command, port, {**os.environ, **extra}))
                pids.append({"upstream": upstream.pid, "gateway": gateway.pid})
            direct_pids = {"upstream": upstream.pid}
            direct_url = f"http://127.0.0.1:{upstream_port}/mcp"
            rows = []
            for concurrency in levels:
                # Interleaved rounds: this 2-core VM's background load drifts, and alternating
                # direct / gateway rounds exposes both to the same drift; medians of rounds are reported.
                direct_rounds: list[dict[str, float]] = []
                gateway_rounds: list[list[dict[str, float]]] = [[] for _ in gateways]
                for _ in range(args.rounds):
                    direct = anyio.run(drive, direct_url, "echo", concurrency, per_round, direct_pids)
                    direct_rounds.append(summarize(*direct))
                    for n, port in enumerate(gateway_ports):
                        url = f"http://127.0.0.1:{port}/mcp"
                        through = anyio.run(drive, url, "up_echo", concurrency, per_round, pids[n])
                        gateway_rounds[n].append(summarize(*through))
                direct_median = median_of(direct_rounds)
                for (label, _), measured in zip(gateways, gateway_rounds, strict=True):
                    rows.append((label, concurrency, direct_median, median_of(measured)))

    print(
        f"\necho tools/call over Streamable HTTP (JSON responses), {args.calls} calls per level "
        f"in {args.rounds} interleaved rounds (medians of rounds); {env_note}\n"
    )
    several = len(gateways) > 1
    label_width = max(len("gateway"), *(len(label) for label, _ in gateways))
    first = f"{'gateway':<{label_width}} | " if several else ""
    header = (
        f"{first}{'conc':>4} | {'direct p50':>10} {'p99':>7} {'calls/s':>8} | {'mcpgate p50':>11} {'p99':>7} "
        f"{'calls/s':>8} | {'added p50':>9} {'thru ratio':>10} | {'gateway CPU/call':>16}"
    )
    print(header)
    print("-" * len(header))
    for label, concurrency, d, g in rows:
        first = f"{label:<{label_width}} | " if several else ""
        print(
            f"{first}{concurrency:>4} | {d['p50']:>8.2f}ms {d['p99']:>5.2f}ms {d['rps']:>8.0f} | {g['p50']:>9.2f}ms "
            f"{g['p99']:>5.2f}ms {g['rps']:>8.0f} | {g['p50'] - d['p50']:>7.2f}ms {g['rps'] / d['rps']:>10.2f} | "
            f"{g['cpu_gateway']:>14.3f}ms"
        )
    for label, concurrency, d, g in rows:
        if concurrency == 1:
            added = g["p50"] - d["p50"]
            verdict = "meets" if added <= 1.5 else "MISSES"
            named = f" ({label})" if several else ""
            target = f"{verdict} the 1.5 ms target of issue #2"
            print(f"\nadded latency at concurrency 1{named}: {added:.2f} ms p50 ({target})")


if __name__ == "__main__":
    main()
