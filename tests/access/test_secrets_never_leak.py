"""Secrets never appear in logs, error messages or API responses: a key, a passed-through
token and an end user's stored credentials are planted, traffic including failures is
driven, and everything the gateway logged and answered is scanned for them."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import MCPError

from tests.conformance.harness import mcpgate_process
from tests.conftest import running_gateway, serve_asgi, stdio_echo
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio


class Recorder(httpx.AsyncClient):
    """An httpx client that keeps every response's headers and body for the scan."""

    seen: list[str]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = []

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = await super().send(request, **kwargs)
        if not kwargs.get("stream"):
            await response.aread()
            self.seen.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response


async def test_planted_secrets_appear_in_no_log_and_no_answer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin_key = f"admin-{secrets.token_hex(16)}"
    passthrough = f"Bearer pass-{secrets.token_hex(16)}"
    user_header = f"Bearer user-{secrets.token_hex(16)}"
    user_env = f"env-{secrets.token_hex(16)}"
    static_header = f"static-{secrets.token_hex(16)}"
    async with serve_asgi(build_server("crm").streamable_http_app()) as upstream:
        config = {
            "mcpServers": {
                "crm": {
                    "url": f"{upstream}/mcp?token={static_header}",
                    "type": "http",
                    "headers": {"X-Static": static_header},
                    "passthroughHeaders": ["Authorization"],
                },
                "local": stdio_echo("local"),
                "gone": {"url": "http://127.0.0.1:9/mcp", "type": "http", "headers": {"X-Static": static_header}},
            },
            "api_key": admin_key,
        }
        async with running_gateway(config) as gateway:
            http = Recorder(base_url=gateway.url, timeout=10, headers={"x-api-key": admin_key})
            async with http:
                made = (await http.post("/api/v1/keys", json={"name": "agent", "scopes": ["*"]})).json()
                agent_key = made["key"]
                http.seen.clear()  # the one answer that shows a key, by design: the one creating it
                await http.put("/api/v1/users/alice/connections/crm", json={"headers": {"Authorization": user_header}})
                await http.put("/api/v1/users/alice/connections/local", json={"env": {"TOKEN": user_env}})
                headers = {"x-api-key": agent_key, "Authorization": passthrough}
                async with gateway.client("sse", headers=headers) as client:
                    await client.call_tool("crm_whoami", {})
                    with pytest.raises(MCPError):
                        await client.call_tool("nope", {})
                async with gateway.client(
                    "streamable_http", headers={"x-api-key": agent_key, "x-username": "alice"}
                ) as client:
                    await client.call_tool("crm_whoami", {})
                    await client.call_tool("local_pid", {})
                    await client.call_tool("local_wait", {"seconds": "bad"})
                for path in (
                    "/api/v1/keys",
                    "/api/v1/upstreams",
                    "/api/v1/users/alice/connections",
                    "/api/v1/audit",
                    "/metrics",
                    "/health",
                ):
                    await http.get(path)
                await http.get(f"/api/v1/keys/{made['id']}")
                await http.patch("/api/v1/upstreams/crm", json={"headers": {"X-Static": "********"}, "bogus": 1})
                await http.post("/api/v1/upstreams", json={"name": "x", "kind": "sse", "url": f"ftp://{static_header}"})
                await http.post(
                    "/api/v1/mcp_manager/load-tools-from-url",
                    json={"url": f"http://127.0.0.1:9/?k={static_header}", "headers": {"Authorization": passthrough}},
                )
                await http.delete(f"/api/v1/keys/{made['id']}")
                async with Recorder(base_url=gateway.url, timeout=10) as stranger:
                    await stranger.post("/mcp", json={}, headers={"x-api-key": agent_key})  # revoked now
                    await stranger.post("/mcp", json={}, headers={"Authorization": passthrough})
                    await stranger.get("/api/v1/keys", headers={"x-api-key": admin_key + "x"})
                    answers = http.seen + stranger.seen

    planted = {
        "agent key": agent_key,
        "admin key": admin_key,
        "passthrough token": passthrough.split()[1],
        "user header": user_header.split()[1],
        "user env": user_env,
        "static header": static_header,
    }
    # The gateway's own logs (the SDK's, from the test's client and upstream, are not the gateway's).
    logged = [
        f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith(("mcp.", "httpx", "httpcore"))
    ]
    assert len(answers) > 15 and len(logged) > 5
    for label, secret in planted.items():
        for answer in answers:
            assert secret not in answer, f"the {label} appears in an answer: {answer[:300]}"
        for line in logged:
            assert secret not in line, f"the {label} appears in a log line: {line[:300]}"


# -- a served gateway, as `mcpgate serve` configures its logging ------------------------------

ACCEPT = {"accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
ECHO = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "local_echo", "arguments": {"text": "x"}}}
ACCESS_LINE = re.compile(r'"(GET|POST|DELETE) (?P<target>\S+) HTTP/1\.1" \d{3}')


def serve_args(tmp_path: Path, **settings: Any) -> tuple[list[str], dict[str, str]]:
    """`mcpgate serve` of one stdio upstream, at the production log level (the default: no
    --log-level, no MCPGATE_LOG_LEVEL), with a data directory of its own."""
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"mcpServers": {"local": stdio_echo("local")}, **settings}))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MCPGATE_", "MCP_"))}
    env["MCPGATE_DATA_DIR"] = str(tmp_path / "data")
    return ["serve", "--config", str(config), "--port", "0"], env


async def sse_session(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """Open an SSE session, initialize it, call a tool; its id (only ever in query strings)."""
    async with http.stream("GET", "/sse", headers=headers) as stream:
        lines = stream.aiter_lines()
        with anyio.fail_after(10):
            endpoint = next_data = ""
            async for line in lines:
                if line.startswith("data: /"):
                    endpoint = line.removeprefix("data: ")
                    break
            for message in (INIT, INITIALIZED, ECHO):
                assert (await http.post(endpoint, json=message, headers=headers)).status_code == 202
            async for line in lines:  # the tool's answer arrives on the stream
                if line.startswith("data: {") and '"id":2' in line.replace(" ", ""):
                    next_data = line
                    break
        assert '"x"' in next_data
        assert (await http.post(endpoint, json=ECHO)).status_code == 401  # no key: refused, logged
    return endpoint.partition("sessionId=")[2]


async def streamable_session(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A Streamable HTTP session (its id travels in a header); ended with DELETE."""
    init = await http.post("/mcp", json=INIT, headers={**headers, **ACCEPT})
    assert init.status_code == 200
    session = {**headers, **ACCEPT, "mcp-session-id": init.headers["mcp-session-id"]}
    assert (await http.post("/mcp", json=INITIALIZED, headers=session)).status_code == 202
    assert (await http.post("/mcp", json=ECHO, headers=session)).status_code == 200
    assert (await http.delete("/mcp", headers=session)).status_code in (200, 204)
    return session["mcp-session-id"]


def access_lines(log: list[str]) -> list[str]:
    return [line for line in log if ACCESS_LINE.search(line)]


async def test_a_served_gateways_log_shows_no_session_id_and_no_key(tmp_path: Path) -> None:
    admin_key = f"admin-{secrets.token_hex(16)}"
    wrong_key = f"mcpg_wrong-{secrets.token_hex(16)}"
    args, env = serve_args(tmp_path)
    env["MCPGATE_API_KEY"] = admin_key
    with mcpgate_process(args, env=env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
            admin = {"x-api-key": admin_key}
            made = (await http.post("/api/v1/keys", json={"name": "agent", "scopes": ["*"]}, headers=admin)).json()
            agent = {"x-api-key": made["key"]}
            sse_id = await sse_session(http, agent)
            http_id = await streamable_session(http, agent)
            # Keys where they do not belong — in a URL — and wrong or revoked ones.
            assert (await http.get("/health", params={"key": made["key"]})).status_code == 200
            assert (await http.get("/api/v1/upstreams", params={"api_key": admin_key})).status_code == 401
            assert (await http.get(f"/api/v1/upstreams?{admin_key}")).status_code == 401
            assert (await http.post("/mcp", json=INIT, headers={"x-api-key": wrong_key, **ACCEPT})).status_code == 401
            assert (await http.delete(f"/api/v1/keys/{made['id']}", headers=admin)).status_code == 200
            assert (await http.post("/mcp", json=INIT, headers={**agent, **ACCEPT})).status_code == 401
    log = served.log
    targets = [ACCESS_LINE.search(line)["target"] for line in access_lines(log)]  # type: ignore[index]
    # The production level: the gateway's INFO lines and uvicorn's access log, request lines and all.
    assert any(" INFO mcpgate" in line for line in log)
    assert "/messages?sessionId=***" in targets and "/health?key=***" in targets, targets
    planted = {
        "admin key": admin_key,
        "agent key": made["key"],
        "wrong key": wrong_key,
        "SSE session id": sse_id,
        "Streamable HTTP session id": http_id,
    }
    for label, secret in planted.items():
        for line in log:
            assert secret not in line, f"the {label} appears in a log line: {line}"


async def test_a_reaped_sessions_id_is_not_logged(tmp_path: Path) -> None:
    args, env = serve_args(tmp_path, edge={"sessionIdleSeconds": 0.5})
    with mcpgate_process(args, env=env) as served:
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
            init = await http.post("/mcp", json=INIT, headers=ACCEPT)
            session = {**ACCEPT, "mcp-session-id": init.headers["mcp-session-id"]}
            assert (await http.get("/health")).json()["connections"] == 1
            with anyio.fail_after(10):  # until the reaper has ended it (asking /health does not touch it)
                while (await http.get("/health")).json()["connections"]:
                    await anyio.sleep(0.1)
            assert (await http.post("/mcp", json=INITIALIZED, headers=session)).status_code == 404
    reaped = [line for line in served.log if "idle for" in line]
    assert reaped, served.log
    assert all(session["mcp-session-id"] not in line for line in served.log), reaped
