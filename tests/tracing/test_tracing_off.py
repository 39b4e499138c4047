"""Tracing is off unless OpenTelemetry's own variables turn it on — and off, it is not loaded at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mcpgate.tracing.switch import wanted
from tests.conftest import ECHO_SERVER

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "always_on"}, False),  # no endpoint: nowhere to send
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "TRUE "}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none,console"}, True),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": ""}, True),  # unset or empty: the default, otlp
    ],
)
def test_tracing_is_on_only_when_the_standard_variables_ask(environ: dict[str, str], on: bool) -> None:
    assert wanted(environ) is on


# A gateway's whole life in one process, driven over raw ASGI (the SDK's client would load
# OpenTelemetry's API itself): start-up, a session, a tool call to a stdio upstream, shutdown.
PROBE = r"""
import json, sys
import anyio
from mcpgate.app import create_app, open_services
from mcpgate.config import settings_from_mapping


async def post(app, body, headers=()):
    pending = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]
    sent = []

    async def receive():
        if pending:
            return pending.pop()
        await anyio.sleep_forever()

    async def send(message):
        sent.append(message)

    base = [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream")]
    scope = {"type": "http", "method": "POST", "path": "/mcp", "raw_path": b"/mcp", "query_string": b"",
             "root_path": "", "scheme": "http", "http_version": "1.1", "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8080), "headers": base + list(headers)}
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return dict(sent[0]["headers"]), json.loads(body) if body else None


async def main():
    mapping = {"mcpServers": {"echo": {"command": sys.executable, "args": [sys.argv[1], "--stdio"]}},
               "database_url": "sqlite+aiosqlite://"}
    settings = settings_from_mapping(mapping, "probe")
    async with open_services(settings) as services:
        app = create_app(settings, services)
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}
        headers, _ = await post(app, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        session = [(b"mcp-session-id", headers[b"mcp-session-id"]), (b"mcp-protocol-version", b"2025-11-25")]
        await post(app, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        call = {"name": "echo_echo", "arguments": {"text": "hi"}, "_meta": {"traceparent": sys.argv[2]}}
        _, reply = await post(app, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}, session)
    print(json.dumps({"reply": reply["result"]["content"][0]["text"],
                      "loaded": sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry")}))


anyio.run(main)
"""


def test_a_gateway_without_otel_variables_never_loads_opentelemetry() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ECHO_SERVER, traceparent],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"reply": "hi", "loaded": []}
