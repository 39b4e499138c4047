"""Raw Streamable HTTP probe, speaking exactly like bench/latency.py's client.

    /work/main/.venv/bin/python bench/peers/probe_raw.py URL [--tool echo] [--header 'K: V']

POSTs initialize, notifications/initialized and one tools/call with latency.py's headers
(accept: application/json, text/event-stream; mcp-protocol-version 2025-11-25 after init)
and prints each reply's status and content-type, so a harness author can see whether a peer
answers with plain JSON (what latency.py parses) or with an SSE stream (which it must unwrap).
"""

from __future__ import annotations

import argparse
import sys

import anyio
import httpx2 as httpx
import orjson

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def parse(body: bytes, ctype: str) -> dict | None:
    if ctype.startswith("application/json"):
        return orjson.loads(body) if body else None
    if ctype.startswith("text/event-stream"):
        for line in body.decode().splitlines():
            if line.startswith("data:") and line[5:].strip():
                return orjson.loads(line[5:])
    return None


async def main(url: str, tool: str, extra: dict[str, str]) -> int:
    headers = {**HEADERS, **extra}
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
    with anyio.fail_after(30):
        async with httpx.AsyncClient(timeout=20) as client:
            r = await client.post(url, content=orjson.dumps(init), headers=headers)
            ct = r.headers.get("content-type", "")
            msg = parse(r.content, ct)
            print(
                "initialize",
                r.status_code,
                ct,
                "session:",
                r.headers.get("mcp-session-id"),
                "protocol:",
                (msg or {}).get("result", {}).get("protocolVersion"),
            )
            headers = {
                **headers,
                "mcp-protocol-version": (msg or {}).get("result", {}).get("protocolVersion", "2025-11-25"),
            }
            if sid := r.headers.get("mcp-session-id"):
                headers["mcp-session-id"] = sid
            r = await client.post(
                url, content=orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}), headers=headers
            )
            print("initialized", r.status_code)
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": tool, "arguments": {"text": "raw-probe"}},
            }
            r = await client.post(url, content=orjson.dumps(body), headers=headers)
            ct = r.headers.get("content-type", "")
            msg = parse(r.content, ct)
            print("tools/call", r.status_code, ct, "->", msg)
            ok = bool(msg) and msg.get("result", {}).get("content", [{}])[0].get("text") == "raw-probe"
            if sid:
                await client.delete(url, headers=headers)
            return 0 if ok else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--tool", default="echo")
    p.add_argument("--header", action="append", default=[])
    a = p.parse_args()
    hdrs = {k.strip(): v.strip() for k, v in (h.split(":", 1) for h in a.header)}
    sys.exit(anyio.run(main, a.url, a.tool, hdrs))
