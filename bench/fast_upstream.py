"""A benchmark upstream fast enough not to be the bottleneck: one `echo` tool, no framework.

    python bench/fast_upstream.py http PORT     # Streamable HTTP (POST /mcp, JSON responses) and legacy SSE (/sse)
    python bench/fast_upstream.py stdio         # newline-delimited JSON-RPC on stdin/stdout

The official SDK server (bench/upstream.py) spends ~1.5 ms of CPU per call, more than the
gateway in front of it, so gateway-vs-direct ratios measured against it mostly measure the
SDK. This one answers the few methods a benchmark client sends (initialize, ping,
tools/list, tools/call of echo) straight from raw ASGI / a stdin loop, so what differs between
"direct" and "through a gateway" is the gateway. It is a measuring instrument, not a server
to build on: anything else gets -32601.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import orjson

TOOL = {
    "name": "echo",
    "description": "Echo the text back.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
}


def answer(message: dict[str, Any]) -> dict[str, Any] | None:
    """The reply to one JSON-RPC message, or None for a notification."""
    if "id" not in message:
        return None
    method, params = message.get("method"), message.get("params") or {}
    if method == "initialize":
        result: dict[str, Any] = {
            "protocolVersion": params.get("protocolVersion", "2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fast-echo", "version": "1"},
        }
    elif method == "ping":
        result = {}
    elif method == "tools/list":
        result = {"tools": [TOOL]}
    elif method == "tools/call" and params.get("name") == "echo":
        result = {"content": [{"type": "text", "text": str((params.get("arguments") or {}).get("text", ""))}]}
    else:
        return {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": f"no {method}"}}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


# -- HTTP: Streamable HTTP at /mcp, legacy SSE at /sse + /messages --------------------------

_SSE_STREAMS: dict[str, asyncio.Queue[bytes | None]] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            kind = (await receive())["type"]
            await send({"type": f"{kind}.complete"})
            if kind == "lifespan.shutdown":
                return
    path, method = scope["path"], scope["method"]
    if path == "/sse" and method == "GET":
        await _sse_stream(send, receive)
        return
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    message = orjson.loads(body) if body else {}
    reply = answer(message) if isinstance(message, dict) else None
    if path == "/messages":
        queue = _SSE_STREAMS.get(_query(scope).get("session_id", ""))
        if queue is None:
            await _respond(send, 404, b"no such session")
            return
        if reply is not None:
            await queue.put(b"event: message\r\ndata: " + orjson.dumps(reply) + b"\r\n\r\n")
        await _respond(send, 202, b"Accepted")
        return
    if reply is None:
        await _respond(send, 202, b"")
        return
    await _respond(send, 200, orjson.dumps(reply), b"application/json")


async def _sse_stream(send: Any, receive: Any) -> None:
    session = uuid.uuid4().hex
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    _SSE_STREAMS[session] = queue
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    endpoint = f"event: endpoint\r\ndata: /messages?session_id={session}\r\n\r\n".encode()
    await send({"type": "http.response.body", "body": endpoint, "more_body": True})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        await queue.put(None)

    watcher = asyncio.create_task(disconnected())
    try:
        while (chunk := await queue.get()) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        watcher.cancel()
        del _SSE_STREAMS[session]


async def _respond(send: Any, status: int, body: bytes, kind: bytes = b"text/plain") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
    await send({"type": "http.response.body", "body": body})


def _query(scope: dict[str, Any]) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in scope.get("query_string", b"").decode().split("&") if "=" in part)
    return dict(pairs)


# -- stdio ------------------------------------------------------------------------------


def serve_stdio() -> None:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        reply = answer(orjson.loads(line))
        if reply is not None:
            out.write(orjson.dumps(reply) + b"\n")
            out.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["stdio"]:
        serve_stdio()
    else:
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", http="httptools", loop="uvloop")
