"""Secrets never appear in logs, error messages or API responses: a key, a passed-through
token and an end user's stored credentials are planted, traffic including failures is
driven, and everything the gateway logged and answered is scanned for them."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest
from mcp import MCPError

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
