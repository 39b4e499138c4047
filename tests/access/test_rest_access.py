"""The REST face goes through the same gate as MCP: keys and scopes, public servers, the end
user of `x-username` and their stored credentials, the caller's passed-through token, rate
limits and the audit trail — one code path, so the same answers."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.conftest import running_gateway, serve_asgi, stdio_echo
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio

ADMIN = "rest-admin-key-0123456789abcdef0123"


def config(upstream_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "mcpServers": {
            "crm": {"url": f"{upstream_url}/mcp", "type": "http", "passthroughHeaders": ["Authorization"]},
            "vault": {"url": f"{upstream_url}/mcp", "type": "http", "credentialsRequired": True},
            "demo": stdio_echo("demo"),
        },
        "virtualServers": {
            "lobby": {"mode": "NORMAL", "selectedTools": ["demo_echo", "crm_header"], "isPublic": True},
            "members": {"mode": "NORMAL", "selectedTools": ["demo_whoami", "vault_header"]},
        },
        "api_key": ADMIN,
        **extra,
    }


async def test_keys_scopes_and_public_servers_gate_rest_as_they_gate_mcp() -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
        gateway.http({"x-api-key": ADMIN}) as admin,
    ):
        reader = (await admin.post("/api/v1/keys", json={"name": "r", "scopes": ["servers:read"]})).json()["key"]
        agent = (await admin.post("/api/v1/keys", json={"name": "a", "scopes": ["tools:call"]})).json()["key"]
        async with gateway.http() as anonymous:
            for path in ("/tools", "/servers/members/tools", "/servers/members/openapi.json"):
                refused = await anonymous.get(path)
                assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
                assert refused.json()["error"]["type"] == "unauthorized"  # the API's body, not JSON-RPC's
            # A public server needs no key, over REST as over MCP.
            assert (await anonymous.post("/servers/lobby/tools/demo_echo", json={"text": "hi"})).status_code == 200
            document = (await anonymous.get("/servers/lobby/openapi.json")).json()
            assert {} in document["security"]  # says so: a key is optional there
        async with gateway.http({"x-api-key": reader}) as read_only:
            denied = await read_only.post("/call-tool", json={"name": "demo_echo", "arguments": {"text": "x"}})
            assert denied.status_code == 403 and "tools:call" in denied.json()["error"]["message"]
        async with gateway.http({"x-api-key": agent}) as caller:
            assert (await caller.post("/servers/members/tools/demo_whoami", json={})).json()["content"][0]["text"] == (
                "demo"
            )
            as_user = await caller.get("/tools", headers={"x-username": "alice"})
            assert as_user.status_code == 403 and "users:act" in as_user.json()["error"]["message"]
        members = (await admin.get("/servers/members/openapi.json")).json()
        assert {} not in members["security"] and {"apiKey": []} in members["security"]


async def test_passthrough_and_end_user_credentials_reach_only_their_own_calls() -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
        gateway.http({"x-api-key": ADMIN}) as admin,
    ):
        for who in ("alice", "bob"):
            stored = await admin.put(
                f"/api/v1/users/{who}/connections/vault", json={"headers": {"Authorization": f"Bearer {who}-vault"}}
            )
            assert stored.status_code == 200, stored.text
        seen: dict[str, set[str]] = {"alice": set(), "bob": set()}

        async def calls_as(who: str) -> None:
            headers = {"x-api-key": ADMIN, "x-username": who}
            async with gateway.http(headers) as http:
                for _ in range(10):
                    answer = await http.post("/servers/members/tools/vault_header", json={"name": "authorization"})
                    seen[who].add(answer.json()["content"][0]["text"])
                    own = await http.post(
                        "/servers/lobby/tools/crm_header",
                        json={"name": "authorization"},
                        headers={"Authorization": f"Bearer {who}-own-token"},
                    )
                    seen[who].add(own.json()["content"][0]["text"])

        async with anyio.create_task_group() as tg:
            tg.start_soon(calls_as, "alice")
            tg.start_soon(calls_as, "bob")
        assert seen == {
            "alice": {"Bearer alice-vault", "Bearer alice-own-token"},
            "bob": {"Bearer bob-vault", "Bearer bob-own-token"},
        }
        # The gateway's own key never goes upstream; a tool that needs a credential says which.
        mine = await admin.post("/tools/crm_header", json={"name": "x-api-key"})
        assert mine.json()["content"][0]["text"] == ""
        as_bearer = await admin.post(  # the key in Authorization authenticates here and goes no further
            "/tools/crm_header", json={"name": "authorization"}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert as_bearer.json()["content"][0]["text"] == ""
        nobody = await admin.post("/servers/members/tools/vault_header", json={"name": "authorization"})
        assert nobody.status_code == 200 and nobody.json()["isError"] is True
        assert "credentials" in nobody.json()["content"][0]["text"]


async def test_rest_calls_are_rate_limited_and_audited() -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream, rateLimits={"perUser": "3/minute"})) as gateway,
        gateway.http({"x-api-key": ADMIN}) as admin,
    ):
        as_carol = {"x-username": "carol"}
        for _ in range(3):
            ok = await admin.post(
                "/call-tool", json={"name": "demo_echo", "arguments": {"text": "s3cr3t"}}, headers=as_carol
            )
            assert ok.status_code == 200
        limited = await admin.post("/tools/demo_echo", json={"text": "x"}, headers=as_carol)
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["error"]["type"] == "rate_limited"
        assert (await admin.post("/tools/demo_echo", json={"text": "x"})).status_code == 200  # not carol: not limited

        entries = (await admin.get("/api/v1/audit", params={"kind": "tool_call", "user": "carol"})).json()["data"]
        assert [(e["tool"], e["outcome"], e["user"]) for e in entries] == [("demo_echo", "ok", "carol")] * 3
        assert all("s3cr3t" not in str(e) for e in entries)  # arguments only as a digest
