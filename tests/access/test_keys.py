"""API keys: static and managed; every route but /health closed without one; scopes,
server limits, expiry and revocation enforced on the next request; SSE checked at the
stream and on every POST."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi.routing import iter_route_contexts
from mcp import MCPError
from sqlalchemy import select

from mcpgate.app import open_services
from mcpgate.config import settings_from_mapping
from mcpgate.edge.rest import ROUTES as REST_ROUTES
from mcpgate.edge.servers import BY_ID_PREFIX, NAMED_PREFIX
from mcpgate.store.keys import keys_table
from tests.conftest import TRANSPORTS, Gateway, running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

ADMIN = "static-admin-key-for-tests-0123456789"
ACCEPT = {"accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
BEARER = {"Authorization": f"Bearer {ADMIN}"}
CONFIG = {
    "mcpServers": {"demo": stdio_echo("demo")},
    "virtualServers": {
        "open-house": {"mode": "NORMAL", "selectedTools": ["demo_echo"], "isPublic": True},
        "members": {"mode": "NORMAL", "selectedTools": ["demo_whoami"]},
    },
    "api_key": ADMIN,
}


def served_routes(gateway: Gateway) -> list[tuple[str, str]]:
    """(method, concrete path) for every route the app serves, path parameters filled in."""
    fastapi_app = gateway.app.fastapi
    found: list[tuple[str, str]] = []
    for context in iter_route_contexts(fastapi_app.routes):  # FastAPI's routes, included routers flattened
        if context.path is None:
            continue
        path = re.sub(r"\{[^}]+\}", "x", context.path)
        methods = getattr(context.original_route, "methods", None) or {"GET"}
        found += [(method, path) for method in sorted(methods) if method != "HEAD"]
    for path in gateway.app.gateway._fast_paths:
        found += [("POST", path), ("GET", path)]
    found += [
        (method, f"{NAMED_PREFIX}members/{endpoint}")
        for endpoint in ("sse", "messages", "mcp")
        for method in ("GET", "POST")
    ]
    found += [("GET", f"{BY_ID_PREFIX}members"), ("POST", f"{BY_ID_PREFIX}members"), ("GET", "/no/such/route")]
    for base in ("", f"{NAMED_PREFIX}members", f"{BY_ID_PREFIX}members"):  # the REST face of each endpoint
        for (head, named), methods in REST_ROUTES.items():
            if head != "docs":  # a static page, open to all (tested below)
                found += [(method, f"{base}/{head}{'/demo_whoami' if named else ''}") for method in methods]
    return found


async def test_with_a_static_key_no_route_but_health_answers_without_a_valid_key() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        # Open to all (any method: the path decides; what isn't GET then gets a 405 from the route). The
        # OAuth callback is a browser back from an upstream's sign-in: its sealed state is what it trusts.
        open_to_all = ("/health", "/api/v1/docs", "/oauth/callback")
        routes = [route for route in served_routes(gateway) if route[1] not in open_to_all]
        assert len(routes) > 50 and ("GET", "/api/v1/keys") in routes and ("POST", "/mcp") in routes
        assert ("POST", "/servers/members/call-tool") in routes and ("GET", "/openapi.json") in routes
        for method, path in routes:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"x-api-key": "mcpg_not-a-key"}):
                response = await http.request(method, path, headers=headers, json={})
                assert response.status_code == 401, (method, path, headers, response.status_code)
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert response.json()  # a JSON body, whatever the path
        assert (await http.get("/health")).status_code == 200
        callback = await http.get("/oauth/callback", params={"code": "c", "state": "forged"})
        assert callback.status_code == 400 and "not valid" in callback.text  # open, and it trusts nothing given
        for page in (
            "/api/v1/docs",
            "/docs",
            "/servers/members/docs",
            "/servers/no-such-server/docs",
            f"{BY_ID_PREFIX}x/docs",
        ):
            answer = await http.get(page)  # the same static page for any name: it reveals nothing
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), page
        for method, path in routes:  # and the key opens every one (what answers then is the route's business,
            async with http.stream(method, path, headers=BEARER, json={}) as response:  # never a refusal or a 500)
                assert response.status_code not in (401, 403) and response.status_code < 500, (method, path)
        assert (await http.get("/api/v1/upstreams", headers={"x-api-key": ADMIN})).status_code == 200


async def test_managed_keys_are_shown_once_stored_as_digests_and_scoped() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http(BEARER) as admin:
        created = await admin.post("/api/v1/keys", json={"name": "reader", "scopes": ["servers:read"]})
        assert created.status_code == 201, created.text
        secret = created.json()["key"]
        assert secret.startswith("mcpg_") and len(secret) >= 40
        assert created.json()["prefix"] == secret[:12]
        listing = (await admin.get("/api/v1/keys")).text
        assert secret not in listing and secret[:12] in listing
        async with gateway.registry.database.transaction() as tx:
            rows = " ".join(str(v) for row in (await tx.execute(select(keys_table))).all() for v in row)
        assert secret not in rows

        async with gateway.http({"x-api-key": secret}) as reader:
            assert (await reader.get("/api/v1/upstreams")).status_code == 200
            denied = await reader.post("/api/v1/mcp_manager", json={"name": "x"})
            assert denied.status_code == 403 and "servers:write" in denied.json()["error"]["message"]
            assert (await reader.get("/api/v1/keys")).status_code == 403
            assert (await reader.post("/mcp", json={})).status_code == 403  # no tools:call

        await wait_until(lambda: gateway.auth._used.get(created.json()["id"]) is not None)
        await gateway.auth.flush_uses()
        shown = (await admin.get(f"/api/v1/keys/{created.json()['id']}")).json()
        assert shown["lastUsedAt"] is not None and shown["state"] == "active"

        bad = await admin.post("/api/v1/keys", json={"name": "x", "scopes": ["root"]})
        assert bad.status_code == 422 and "root" in bad.json()["error"]["message"]
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        assert (await admin.post("/api/v1/keys", json={"name": "x", "expiresAt": past})).status_code == 422


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_key_limited_to_a_server_reaches_it_and_nothing_else(transport: str) -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http(BEARER) as admin:
        body = {"name": "members-only", "scopes": ["tools:call"], "servers": ["members"]}
        secret = (await admin.post("/api/v1/keys", json=body)).json()["key"]
        key = {"Authorization": f"Bearer {secret}"}
        async with gateway.client(transport, server="members", headers=key) as client:
            assert (await client.call_tool("demo_whoami", {})).content[0].text == "demo"
        async with gateway.http(key) as limited:
            for path in ("/mcp", "/servers/open-house/mcp"):
                response = await limited.post(path, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
                assert response.status_code == 403


async def test_revoked_keys_fail_on_the_next_request_and_lose_their_sessions() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http(BEARER) as admin:
        made = (await admin.post("/api/v1/keys", json={"name": "soon-gone", "scopes": ["tools:call"]})).json()
        key = {"Authorization": f"Bearer {made['key']}"}
        async with gateway.client("streamable_http", headers=key) as client:
            assert (await client.call_tool("demo_echo", {"text": "a"})).content[0].text == "a"
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as raw:
            async with raw.stream("GET", "/sse", headers=key) as stream:
                lines = stream.aiter_lines()
                await _endpoint(lines)
                sessions = [s for s in gateway.hub.sessions if s.owner == made["id"]]
                assert len(sessions) == 1
                revoked = await admin.delete(f"/api/v1/keys/{made['id']}")
                assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
                with anyio.fail_after(5):  # the key's stream ends
                    async for _ in lines:
                        pass
            assert sessions[0].closed.is_set()
        async with gateway.http(key) as revoked_client:
            assert (await revoked_client.post("/mcp", json={})).status_code == 401


async def test_a_key_is_refused_from_the_moment_it_expires() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http(BEARER) as admin:
        expires = datetime.now(UTC) + timedelta(hours=1)
        brief = (await admin.post("/api/v1/keys", json={"name": "brief", "expiresAt": expires.isoformat()})).json()
        assert datetime.fromisoformat(brief["expiresAt"]) == expires
        async with gateway.http({"x-api-key": brief["key"], **ACCEPT}) as client:
            gateway.auth.clock = lambda: expires - timedelta(microseconds=1)  # the last moment it is valid
            assert (await client.post("/mcp", json=INIT)).status_code == 200
            gateway.auth.clock = lambda: expires
            late = await client.post("/mcp", json=INIT)
        assert late.status_code == 401
        said = late.json()["error"]["message"]
        assert said == f"Unauthorized: the API key {brief['prefix']}… expired at {expires.isoformat()}"


async def test_sse_checks_the_key_at_the_stream_and_on_every_post() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http(BEARER) as admin:
        other = (await admin.post("/api/v1/keys", json={"name": "other", "scopes": ["tools:call"]})).json()["key"]
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as raw:
            assert (await raw.get("/sse")).status_code == 401
            async with raw.stream("GET", "/sse", headers=BEARER) as stream:
                lines = stream.aiter_lines()  # held: a dropped line iterator closes the stream
                endpoint = await _endpoint(lines)
                ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
                assert (await raw.post(endpoint, json=ping)).status_code == 401
                stolen = await raw.post(endpoint, json=ping, headers={"x-api-key": other})
                assert stolen.status_code == 403 and "another API key" in stolen.json()["error"]["message"]
                assert (await raw.post(endpoint, json=ping, headers=BEARER)).status_code == 202


async def _endpoint(lines: Any) -> str:
    with anyio.fail_after(5):
        async for line in lines:
            if line.startswith("data: /"):
                return line.removeprefix("data: ")
    raise AssertionError("no endpoint event")


async def test_public_servers_need_no_key_but_reach_only_themselves() -> None:
    async with running_gateway(CONFIG) as gateway:
        async with gateway.client("streamable_http", server="open-house") as client:
            assert (await client.call_tool("demo_echo", {"text": "hi"})).content[0].text == "hi"
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("demo_whoami", {})
        async with gateway.http() as http:
            assert (await http.post("/servers/members/mcp", json={})).status_code == 401
            wrong = await http.post("/servers/open-house/mcp", json={}, headers={"x-api-key": "bad"})
            assert wrong.status_code == 401  # a key that is given must be valid, even where none is needed


async def test_acting_for_an_end_user_needs_the_users_act_scope() -> None:
    async with running_gateway(CONFIG) as gateway, gateway.http(BEARER) as admin:
        plain = (await admin.post("/api/v1/keys", json={"name": "p", "scopes": ["tools:call"]})).json()["key"]
        agent = (await admin.post("/api/v1/keys", json={"name": "a", "scopes": ["tools:call", "users:act"]})).json()[
            "key"
        ]
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        async with gateway.http() as http:
            refused = await http.post("/mcp", json=ping, headers={"x-api-key": plain, "x-username": "alice"})
            assert refused.status_code == 403 and "users:act" in refused.json()["error"]["message"]
            allowed = await http.post("/mcp", json=INIT, headers={"x-api-key": agent, "x-username": "alice", **ACCEPT})
            assert allowed.status_code == 200 and allowed.json()["result"]["serverInfo"]["name"] == "mcpgate"
            odd = await http.post("/mcp", json=ping, headers={"x-api-key": agent, "x-username": "bad name!"})
            assert odd.status_code == 403


@pytest.mark.parametrize(
    ("host", "settings", "warned"),
    [
        ("0.0.0.0", {}, True),
        ("::", {}, True),
        ("0.0.0.0", {"api_key": ADMIN}, False),
        ("0.0.0.0", {"auth_required": True}, False),
        ("127.0.0.1", {}, False),
        ("localhost", {}, False),
    ],
)
async def test_listening_beyond_loopback_without_a_key_is_a_warning(
    host: str, settings: dict[str, Any], warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mcpgate")
    config = settings_from_mapping({"host": host, "database_url": "sqlite+aiosqlite://", **settings})
    async with open_services(config):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.name == "mcpgate.app" and r.levelno == logging.WARNING]
    expected = (
        f"listening on {host} with no API key: anyone who can reach it can use and change it "
        "(set MCPGATE_API_KEY or create a key)"
    )
    assert warnings == ([expected] if warned else [])
