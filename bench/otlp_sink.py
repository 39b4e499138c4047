"""A local OTLP/HTTP trace receiver for the benchmarks: takes POST /v1/traces and answers 200.

    python bench/otlp_sink.py 4318      # then: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318

It does not decode what it gets (a collector would, in another process or machine): it counts
requests and bytes, and prints them when stopped (Ctrl-C or SIGTERM), so a run can show the
spans did leave the gateway.
"""

from __future__ import annotations

import sys

import uvicorn

received = {"requests": 0, "bytes": 0}


async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        # Said here: uvicorn re-raises SIGTERM/SIGINT once it has stopped, and the process ends with it.
        print(f"otlp sink: {received['requests']} exports, {received['bytes']} bytes", file=sys.stderr, flush=True)
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    ok = scope["method"] == "POST" and scope["path"] == "/v1/traces"
    if ok:
        received["requests"] += 1
        received["bytes"] += size
    # An empty body is an empty ExportTraceServiceResponse: everything accepted.
    headers = [(b"content-type", b"application/x-protobuf"), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 200 if ok else 404, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")  # until SIGINT or SIGTERM


if __name__ == "__main__":
    main()
