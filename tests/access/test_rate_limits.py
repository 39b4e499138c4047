"""Rate limits per key, per end user, per client IP and per virtual server: 429 with
Retry-After and a JSON body; counters in memory, or in Redis shared by two gateways.

Every test counts exactly: with a limit of N per minute, the first N requests pass with the
status they would get unlimited, and every request after them — and only those — is a 429.
"""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import running_gateway, stdio_echo

pytestmark = pytest.mark.anyio

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


async def test_a_key_over_its_limit_gets_429_with_retry_after_and_others_carry_on() -> None:
    config = {"mcpServers": {"demo": stdio_echo("demo")}, "rateLimits": {"perKey": "3/minute"}, "api_key": "k" * 32}
    async with running_gateway(config) as gateway, gateway.http({"x-api-key": "k" * 32}) as admin:
        made = await admin.post("/api/v1/keys", json={"name": "b", "scopes": ["*"]})  # the static key's 1st
        answers = (
            [made] + [await admin.get("/api/v1/upstreams") for _ in range(3)] + [await admin.post("/mcp", json=PING)]
        )
        assert [a.status_code for a in answers] == [201, 200, 200, 429, 429]
        refused, mcp = answers[3], answers[4]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["type"] == "rate_limited"
        assert "3 per 1 minute per key exceeded" in refused.json()["error"]["message"]
        assert mcp.json()["error"]["message"].startswith("Too Many Requests")
        async with gateway.http({"x-api-key": made.json()["key"]}) as other:  # a key of its own: its own 3
            statuses = [(await other.get("/api/v1/upstreams")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert [(await admin.get("/health")).status_code for _ in range(5)] == [200] * 5  # never limited


async def test_per_ip_and_per_user_limits_and_a_refusal_counts_against_neither() -> None:
    config = {"mcpServers": {"demo": stdio_echo("demo")}, "rateLimits": {"perIp": "5/minute", "perUser": "2/minute"}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        alice = [await http.get("/api/v1/upstreams", headers={"x-username": "alice"}) for _ in range(4)]
        assert [a.status_code for a in alice] == [200, 200, 429, 429]
        assert "2 per 1 minute per user exceeded" in alice[2].json()["error"]["message"]
        # alice's refusals took none of the address's 5: her 2, then bob's 1 and 2 more of anyone's.
        bob = await http.get("/api/v1/upstreams", headers={"x-username": "bob"})
        anyone = [await http.get("/api/v1/upstreams") for _ in range(3)]
        assert [bob.status_code] + [a.status_code for a in anyone] == [200, 200, 200, 429]
        assert "5 per 1 minute per ip exceeded" in anyone[2].json()["error"]["message"]
        # The address is spent: the per-ip refusal counted against no user either, but bob is refused too.
        assert (await http.get("/api/v1/upstreams", headers={"x-username": "bob"})).status_code == 429


async def test_a_virtual_servers_own_limit_counts_separately() -> None:
    config = {"mcpServers": {"demo": stdio_echo("demo")}, "rateLimits": {"perIp": "5/minute"}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        body = {
            "name": "busy",
            "mode": "NORMAL",
            "selectedTools": ["demo_echo"],
            "config": {"rateLimits": {"perIp": "2/minute"}},
        }
        assert (await http.post("/api/v1/mcp_manager", json=body)).status_code == 201  # 1 of the gateway's 5
        busy = [await http.get("/servers/busy/tools") for _ in range(4)]  # its tools, over REST
        assert [b.status_code for b in busy] == [200, 200, 429, 429]
        assert [tool["name"] for tool in busy[0].json()["tools"]] == ["demo_echo"]
        assert "2 per 1 minute per ip on this virtual server exceeded" in busy[2].json()["error"]["message"]
        # busy's 2 passed requests counted against the gateway's 5 as well; its refusals did not.
        elsewhere = [(await http.get("/tools")).status_code for _ in range(3)]
        assert elsewhere == [200, 200, 429]


async def test_a_bad_server_limit_is_refused_when_stored() -> None:
    async with running_gateway({"mcpServers": {"demo": stdio_echo("demo")}}) as gateway, gateway.http() as http:
        bad = {"name": "bad", "config": {"rateLimits": {"perIp": "lots"}}}
        refused = await http.post("/api/v1/mcp_manager", json=bad)
        assert refused.status_code == 422 and "rateLimits" in refused.json()["error"]["message"]


async def test_two_gateways_share_counters_in_redis() -> None:
    user = f"user-{secrets.token_hex(6)}"  # fresh counters for every run
    config = {
        "mcpServers": {"demo": stdio_echo("demo")},
        "rateLimits": {"perUser": "4/minute", "storage": "redis://127.0.0.1:6379/0"},
    }
    async with running_gateway(config) as first, running_gateway(config) as second:
        async with first.http({"x-username": user}) as one, second.http({"x-username": user}) as two:
            statuses = []
            for client in (one, two, one, two, one, two):
                statuses.append((await client.get("/api/v1/upstreams")).status_code)
        assert statuses == [200, 200, 200, 200, 429, 429]


async def test_a_bad_limit_or_storage_is_a_clear_start_up_error() -> None:
    from mcpgate.config import settings_from_mapping
    from mcpgate.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a rate limit"):
        settings_from_mapping({"rateLimits": {"perKey": "many"}})
