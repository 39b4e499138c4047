"""The audit trail: tool calls (who, where, what, outcome, duration; arguments only as a
digest) and failed authentications, in the database, at /api/v1/audit and as log lines."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone

import anyio
import anyio.lowlevel
import orjson
import pytest
from mcp import MCPError
from sqlalchemy import select

from mcpgate.access.audit import AuditTrail
from mcpgate.access.authentication import Authenticator
from mcpgate.hub.forwarding import ToolCall
from mcpgate.hub.session import ClientSession
from mcpgate.store.audit import AuditStore, audit_table
from mcpgate.store.database import Database
from mcpgate.store.keys import KeyStore
from tests.conftest import running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

ADMIN = "audit-admin-key-0123456789abcdef"


async def test_tool_calls_and_failed_logins_are_recorded_without_arguments(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mcpgate.audit")
    config = {
        "mcpServers": {"demo": stdio_echo("demo")},
        "virtualServers": {"picked": {"mode": "NORMAL", "selectedTools": ["demo_echo"]}},
        "api_key": ADMIN,
    }
    async with running_gateway(config) as gateway, gateway.http({"x-api-key": ADMIN}) as admin:
        made = await admin.post("/api/v1/keys", json={"name": "agent-7", "scopes": ["tools:call", "users:act"]})
        agent = made.json()
        secret_text = "the quick brown fox, confidential 4242"
        headers = {"x-api-key": agent["key"], "x-username": "alice"}
        async with gateway.client("streamable_http", server="picked", headers=headers) as client:
            assert (await client.call_tool("demo_echo", {"text": secret_text})).content[0].text == secret_text
            with pytest.raises(MCPError) as refused:
                await client.call_tool("demo_whoami", {})  # not on this server: an error
        async with gateway.http() as stranger:
            assert (await stranger.post("/mcp", json={}, headers={"x-api-key": "mcpg_guessing"})).status_code == 401

        page = (await admin.get("/api/v1/audit")).json()
        calls = [e for e in page["data"] if e["kind"] == "tool_call"]
        assert [(c["tool"], c["outcome"]) for c in calls] == [("demo_whoami", "error"), ("demo_echo", "ok")]
        echo = calls[1]
        assert calls[0]["reason"] == str(refused.value) and "demo_whoami" in calls[0]["reason"]  # what the caller got
        assert echo["reason"] is None
        server_id = next(iter(gateway.hub.servers))
        assert (echo["keyId"], echo["keyName"], echo["user"], echo["server"]) == (
            agent["id"],
            "agent-7",
            "alice",
            server_id,
        )
        assert echo["durationMs"] > 0
        canonical = orjson.dumps({"text": secret_text}, option=orjson.OPT_SORT_KEYS)
        assert echo["argumentsDigest"] == hashlib.sha256(canonical).hexdigest()
        failures = [e for e in page["data"] if e["kind"] == "auth_failure"]
        assert failures and failures[0]["sourceIp"] == "127.0.0.1" and "/mcp" in failures[0]["reason"]

        only = (await admin.get("/api/v1/audit", params={"kind": "tool_call", "tool": "demo_echo"})).json()["data"]
        assert [e["tool"] for e in only] == ["demo_echo"]
        assert (await admin.get("/api/v1/audit", params={"user": "bob"})).json()["data"] == []
        first = (await admin.get("/api/v1/audit", params={"limit": 1})).json()
        rest = (await admin.get("/api/v1/audit", params={"cursor": first["pagination"]["nextCursor"]})).json()
        assert first["data"][0]["id"] > rest["data"][0]["id"]
        assert (await admin.get("/api/v1/audit", params={"cursor": "x"})).status_code == 400

        async with gateway.registry.database.transaction() as tx:
            stored = " ".join(str(v) for row in (await tx.execute(select(audit_table))).all() for v in row)
        assert secret_text not in stored and agent["key"] not in stored
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mcpgate.audit"]
        assert any(line["kind"] == "tool_call" and line["tool"] == "demo_echo" for line in lines)
        assert all(secret_text not in r.getMessage() for r in caplog.records)


async def test_since_and_until_select_by_the_instant_whatever_zone_it_is_written_in() -> None:
    async with running_gateway({"mcpServers": {"demo": stdio_echo("demo")}}) as gateway, gateway.http() as http:
        async with gateway.client("streamable_http") as client:
            for word in ("first", "second", "third"):
                await client.call_tool("demo_echo", {"text": word})
        newest_first = (await http.get("/api/v1/audit", params={"kind": "tool_call"})).json()["data"]
        first, second, third = reversed(newest_first)
        at = datetime.fromisoformat(second["at"])
        assert datetime.fromisoformat(first["at"]) < at < datetime.fromisoformat(third["at"])

        async def ids(**bounds: str) -> list[int]:
            answer = await http.get("/api/v1/audit", params={"kind": "tool_call", **bounds})
            assert answer.status_code == 200, answer.text
            return [event["id"] for event in answer.json()["data"]]

        east = timezone(timedelta(hours=2))
        for written in (at.isoformat(), at.astimezone(east).isoformat(), at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")):
            assert await ids(since=written) == [third["id"], second["id"]], written  # since: from that instant on
            assert await ids(until=written) == [first["id"]], written  # until: before it
        assert await ids(since=first["at"], until=third["at"]) == [second["id"], first["id"]]
        assert await ids(since=third["at"], until=first["at"]) == []
        refused = await http.get("/api/v1/audit", params={"since": "yesterday"})
        assert refused.status_code == 422 and "since" in refused.json()["error"]["message"]


async def test_a_big_flush_lets_requests_in_between_its_slices() -> None:
    """Rows are built at the flush; thousands built at once held every request behind them (the
    p99 of a busy gateway), so they are built a slice at a time with the event loop let through."""
    database = Database("sqlite+aiosqlite://")
    try:
        await database.upgrade()
        store = _FirstWriteWatched(database)
        trail = AuditTrail(store, Authenticator(KeyStore(database)))
        session = ClientSession("streamable_http", owner="anonymous")
        for index in range(1000):
            trail.tool_call(ToolCall(session, "e_echo", {"text": str(index)}, "ok", 0.001))
        turns = 0

        async def other_request() -> None:
            nonlocal turns
            while not store.first_write.is_set():
                turns += 1
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(other_request)
            with anyio.fail_after(30):
                await trail.flush()
        assert turns >= 1000 // 64 - 1  # served between the slices, before any row was written
        assert len(await store.read(limit=2000)) == 1000
    finally:
        await database.aclose()


class _FirstWriteWatched(AuditStore):
    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.first_write = anyio.Event()

    async def write(self, events):  # type: ignore[no-untyped-def]
        self.first_write.set()
        await super().write(events)


class _HeldStore(AuditStore):
    """The real store, whose next write waits until the test lets it go."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.writing = anyio.Event()
        self.go_on = anyio.Event()

    async def write(self, events):  # type: ignore[no-untyped-def]
        if not self.writing.is_set():
            self.writing.set()
            await self.go_on.wait()
        await super().write(events)


async def test_a_flush_returns_only_once_every_earlier_event_is_stored() -> None:
    """A reader flushes before it reads (GET /api/v1/audit); a periodic write already under way holds
    events it took from the buffer, so the reader's flush must wait for that write as well."""
    database = Database("sqlite+aiosqlite://")
    try:
        await database.upgrade()
        store = _HeldStore(database)
        trail = AuditTrail(store, Authenticator(KeyStore(database)))
        trail.auth_failure({"method": "POST", "path": "/mcp", "client": ("127.0.0.1", 1)}, "first")
        async with anyio.create_task_group() as tg:
            tg.start_soon(trail.flush)  # the periodic write, taking "first" with it
            with anyio.fail_after(5):
                await store.writing.wait()
            trail.auth_failure({"method": "POST", "path": "/mcp", "client": ("127.0.0.1", 1)}, "second")
            reader_done = anyio.Event()

            async def reader() -> None:
                await trail.flush()
                reader_done.set()

            tg.start_soon(reader)
            # Either the reader returned at once (the bug) or it waits behind the write under way.
            lock = getattr(trail, "_writing", None)
            await wait_until(
                lambda: reader_done.is_set() or (lock is not None and lock.statistics().tasks_waiting == 1)
            )
            assert not reader_done.is_set()
            store.go_on.set()
            with anyio.fail_after(5):
                await reader_done.wait()
            reasons = [event.reason for event in await store.read(limit=10)]
        assert sorted(reasons) == ["POST /mcp: first", "POST /mcp: second"]
    finally:
        await database.aclose()


@pytest.mark.parametrize(
    ("trusted", "recorded"),
    [(None, "203.0.113.7"), (["10.0.0.0/8"], "127.0.0.1"), ([], "127.0.0.1")],
    ids=["loopback-proxy-trusted-by-default", "another-network-trusted", "nobody-trusted"],
)
async def test_a_client_address_from_x_forwarded_for_is_believed_only_from_trusted_proxies(
    trusted: list[str] | None, recorded: str
) -> None:
    """What rate limits and the audit see as the client's address (`edge.trustedProxies`)."""
    config: dict[str, object] = {"mcpServers": {"demo": stdio_echo("demo")}, "api_key": ADMIN}
    if trusted is not None:
        config["edge"] = {"trustedProxies": trusted}
    async with running_gateway(config) as gateway, gateway.http() as http:
        refused = await http.get("/tools", headers={"x-api-key": "wrong", "x-forwarded-for": "203.0.113.7"})
        assert refused.status_code == 401
        page = (await http.get("/api/v1/audit", params={"kind": "auth_failure"}, headers={"x-api-key": ADMIN})).json()
    assert [row["sourceIp"] for row in page["data"]] == [recorded]
