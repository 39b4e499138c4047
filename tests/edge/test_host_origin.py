"""One Host/Origin policy in front of every route: a page on a rebound name reaches nothing."""

from __future__ import annotations

import re
import sys

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from tests.conftest import running_gateway, stdio_echo

pytestmark = pytest.mark.anyio

CONFIG = {"mcpServers": {"e": stdio_echo()}, "servers": [{"name": "pub", "mode": "NORMAL", "isPublic": True}]}
FOREIGN_HOST = {"host": "attacker.example:8080"}
FOREIGN_ORIGIN = {"origin": "http://attacker.example:8080"}
# Routes that are not the management API's own (those are enumerated from its router).
ROUTES = [
    "/mcp",
    "/sse",
    "/messages?sessionId=x",
    "/message",
    "/health",
    "/metrics",
    "/tools",
    "/call-tool",
    "/openapi.json",
    "/docs",
    "/servers/pub/mcp",
    "/servers/pub/sse",
    "/servers/pub/tools",
    "/servers/pub/docs",
    "/api/v1/mcp/pub",
    "/api/v1/docs",
    "/api/v1/openapi.json",
    "/no/such/route",
]
JSON_RPC_ROUTES = {"/mcp", "/sse", "/messages", "/message", "/servers/pub/mcp", "/servers/pub/sse", "/api/v1/mcp/pub"}


def _management_paths(app) -> list[str]:
    contexts = iter_route_contexts(app.fastapi.routes)  # included routers flattened
    return sorted({re.sub(r"\{[^}]+\}", "x", context.path) for context in contexts if context.path})


def _assert_refused(response: httpx.Response, status: int, path: str) -> None:
    assert response.status_code == status, (path, response.status_code, response.text)
    body = response.json()
    if path.split("?")[0] in JSON_RPC_ROUTES:
        assert body["jsonrpc"] == "2.0" and body["error"]["code"] == -32600, (path, body)
    else:
        assert set(body["error"]) >= {"type", "message"}, (path, body)
    reason = "Host" if status == 421 else "Origin"
    assert reason in body["error"]["message"], (path, body)


async def test_a_rebound_page_cannot_register_an_upstream(tmp_path):
    """The issue's reproduction: without a key (loopback default), a foreign Host or Origin gets
    nowhere near the management API, so no command runs."""
    marker = tmp_path / "PWNED"
    body = {
        "name": "pwn",
        "kind": "stdio",
        "command": sys.executable,
        "args": ["-c", f"open({str(marker)!r}, 'w').close()"],
    }
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        both = await http.post("/api/v1/upstreams", json=body, headers={**FOREIGN_HOST, **FOREIGN_ORIGIN})
        _assert_refused(both, 421, "/api/v1/upstreams")
        origin_only = await http.post("/api/v1/upstreams", json=body, headers=FOREIGN_ORIGIN)
        _assert_refused(origin_only, 403, "/api/v1/upstreams")
        assert "pwn" not in gateway.hub.upstreams
        assert [record.spec.name for record in await gateway.registry.upstreams()] == []
    assert not marker.exists()


async def test_every_route_refuses_a_foreign_host_and_a_foreign_origin():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        management = _management_paths(gateway.app)
        assert "/api/v1/upstreams" in management and "/api/v1/keys" in management
        for path in [*ROUTES, *management]:
            for method in ("GET", "POST"):
                _assert_refused(await http.request(method, path, headers=FOREIGN_HOST), 421, path)
                _assert_refused(await http.request(method, path, headers=FOREIGN_ORIGIN), 403, path)
        # The same routes answer a loopback page and a client that sends no Origin.
        assert (await http.get("/health", headers={"origin": "http://localhost:3000"})).status_code == 200
        assert (await http.get("/api/v1/upstreams")).status_code == 200
        assert (await http.get("/metrics", headers={"host": "localhost"})).status_code == 200


async def test_configured_hosts_and_origins_are_let_through():
    config = {**CONFIG, "edge": {"allowedHosts": ["gw.example.com"], "allowedOrigins": ["https://app.example"]}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        assert (await http.get("/api/v1/upstreams", headers={"host": "gw.example.com"})).status_code == 200
        assert (await http.get("/health", headers={"host": "gw.example.com:443"})).status_code == 200
        allowed = await http.get("/api/v1/upstreams", headers={"origin": "https://app.example"})
        assert allowed.status_code == 200
        _assert_refused(await http.get("/health", headers={"host": "other.example.com"}), 421, "/health")
