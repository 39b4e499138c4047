"""Rate limits per key, per end user, per client IP and per virtual server: 429 with
Retry-After and a JSON body; counters in memory, or in Redis shared by two gateways."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import running_gateway, stdio_echo

pytestmark = pytest.mark.anyio

PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


async def test_a_key_over_its_limit_gets_429_with_retry_after_and_others_carry_on() -> None:
    config = {"mcpServers": {"demo": stdio_echo("demo")}, "rateLimits": {"perKey": "3/minute"}, "api_key": "k" * 32}
    async with running_gateway(config) as gateway, gateway.http({"x-api-key": "k" * 32}) as admin:
        second = (await admin.post("/api/v1/keys", json={"name": "b", "scopes": ["*"]})).json()["key"]
        for _ in range(2):  # the static key's 2nd and 3rd requests
            assert (await admin.get("/api/v1/upstreams")).status_code == 200
        refused = await admin.get("/api/v1/upstreams")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["type"] == "rate_limited" and "per key" in refused.json()["error"]["message"]
        mcp = await admin.post("/mcp", json=PING)
        assert mcp.status_code == 429 and mcp.json()["error"]["message"].startswith("Too Many Requests")
        async with gateway.http({"x-api-key": second}) as other:
            assert (await other.get("/api/v1/upstreams")).status_code == 200
        assert (await admin.get("/health")).status_code == 200  # never limited


async def test_per_ip_and_per_user_limits() -> None:
    config = {"mcpServers": {"demo": stdio_echo("demo")}, "rateLimits": {"perIp": "5/minute", "perUser": "2/minute"}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        for _ in range(2):
            assert (await http.get("/api/v1/upstreams", headers={"x-username": "alice"})).status_code == 200
        alice = await http.get("/api/v1/upstreams", headers={"x-username": "alice"})
        assert alice.status_code == 429 and "per user" in alice.json()["error"]["message"]
        assert (await http.get("/api/v1/upstreams", headers={"x-username": "bob"})).status_code == 200
        # A refused request does not count against the other limits: this address is at 3 of 5.
        for _ in range(2):
            assert (await http.get("/api/v1/upstreams")).status_code == 200
        ip = await http.get("/api/v1/upstreams")
        assert ip.status_code == 429 and "per ip" in ip.json()["error"]["message"]


async def test_a_virtual_servers_own_limit_counts_separately() -> None:
    config = {"mcpServers": {"demo": stdio_echo("demo")}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        body = {
            "name": "busy",
            "mode": "NORMAL",
            "selectedTools": ["demo_echo"],
            "config": {"rateLimits": {"perIp": "2/minute"}},
        }
        assert (await http.post("/api/v1/mcp_manager", json=body)).status_code == 201
        statuses = [(await http.post("/servers/busy/mcp", json=PING)).status_code for _ in range(3)]
        assert statuses[:2] != [429, 429] and statuses[2] == 429
        assert (await http.post("/mcp", json=PING)).status_code != 429  # elsewhere: no limit
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
            for client in (one, two, one, two, one):
                statuses.append((await client.get("/api/v1/upstreams")).status_code)
        assert statuses == [200, 200, 200, 200, 429]


async def test_a_bad_limit_or_storage_is_a_clear_start_up_error() -> None:
    from mcpgate.config import settings_from_mapping
    from mcpgate.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a rate limit"):
        settings_from_mapping({"rateLimits": {"perKey": "many"}})
