"""Times are instants on both engines: a moment given in any zone (or none: UTC) is stored and
compared as the same instant. SQLite keeps no zone, so a time not in UTC must be converted
before it is written or compared."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mcpgate.store.audit import AuditEvent, AuditStore
from mcpgate.store.database import Database
from mcpgate.store.keys import ApiKey, KeyStore

pytestmark = pytest.mark.anyio

EAST = timezone(timedelta(hours=2))
WEST = timezone(timedelta(hours=-7))


async def test_a_keys_expiry_comes_back_as_the_instant_it_was_given(database: Database) -> None:
    await database.upgrade()
    store = KeyStore(database)
    expiries = {"east": datetime(2030, 1, 1, tzinfo=EAST), "west": datetime(2030, 1, 1, tzinfo=WEST)}
    for name, expires in expiries.items():
        key = ApiKey(
            id=str(uuid.uuid4()),
            name=name,
            prefix="mcpg_" + name,
            digest=name * 16,
            scopes=frozenset({"tools:call"}),
            servers=None,
            expires_at=expires,
            created_at=datetime.now(UTC),
        )
        await store.add(key)
    back = {key.name: key.expires_at for key in await store.all()}
    assert back == expiries  # aware datetimes compare as instants
    assert back["east"] == datetime(2029, 12, 31, 22, tzinfo=UTC)


async def test_audit_since_and_until_compare_instants(database: Database) -> None:
    await database.upgrade()
    store = AuditStore(database)
    noon = datetime(2030, 1, 1, 12, tzinfo=UTC)
    await store.write(
        [AuditEvent(at=noon + timedelta(minutes=n), kind="tool_call", outcome="ok", tool=f"t{n}") for n in range(3)]
    )

    async def tools(**bounds: datetime) -> list[str | None]:
        return [event.tool for event in await store.read(limit=10, **bounds)]

    one_past = noon + timedelta(minutes=1)
    for written in (one_past, one_past.astimezone(EAST), one_past.astimezone(WEST), one_past.replace(tzinfo=None)):
        assert await tools(since=written) == ["t2", "t1"], written  # from that instant on
        assert await tools(until=written) == ["t0"], written  # before it
    assert await tools(since=noon.astimezone(EAST), until=(noon + timedelta(minutes=2)).astimezone(WEST)) == [
        "t1",
        "t0",
    ]
    assert [event.at for event in await store.read(limit=10)] == [noon + timedelta(minutes=n) for n in (2, 1, 0)]
