"""The registry on SQLite and PostgreSQL: migrations, round trips, secrets at rest, conflicts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from mcpgate.app import prepare_database
from mcpgate.errors import ConfigError, Conflict, NotFound
from mcpgate.hub.servers import ExternalMCP, VirtualServer
from mcpgate.settings import StdioUpstream, StreamableHTTPUpstream
from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import HEAD_REVISION, Database, head_revision
from mcpgate.store.registry import Registry, servers_table, upstreams_table
from mcpgate.store.tables import Base

pytestmark = pytest.mark.anyio


async def test_an_empty_database_migrates_to_head_and_matches_the_models(database: Database) -> None:
    assert await database.revision() is None
    await database.upgrade()
    # The constant that lets an up-to-date database start without Alembic is Alembic's own head.
    assert await database.revision() == head_revision() == HEAD_REVISION
    await database.upgrade()  # idempotent: a second start changes nothing
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        drift = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert {"upstreams", "virtual_servers", "alembic_version"} <= tables
    assert drift == [], f"the models and the migrations disagree: {drift}"


async def test_an_in_memory_database_is_made_from_the_models_without_alembic() -> None:
    database = Database("sqlite+aiosqlite://")
    try:
        await database.upgrade()
        assert await database.revision() == HEAD_REVISION
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert tables == set(Base.metadata.tables)  # what the migrations make (the test above), less their own table
        await database.upgrade()  # a second call changes nothing
    finally:
        await database.aclose()


async def test_upstreams_round_trip_with_secrets_encrypted_at_rest(database: Database, box: SecretBox) -> None:
    await database.upgrade()
    registry = Registry(database, box)
    local = StdioUpstream(name="files", command="npx", args=["-y", "fs"], env={"API_TOKEN": "tok-local-123"})
    remote = StreamableHTTPUpstream(name="crm", url="https://crm.test/mcp", headers={"Authorization": "Bearer s3cret"})
    await registry.add_upstream(local)
    await registry.add_upstream(remote)

    listed = await registry.upstreams()
    assert [r.spec for r in listed] == [local, remote]
    assert (await registry.upstream("crm")).spec.headers == {"Authorization": "Bearer s3cret"}
    async with database.transaction() as tx:
        stored = " ".join(str(v) for row in (await tx.execute(select(upstreams_table))).all() for v in row)
    assert "s3cret" not in stored and "tok-local-123" not in stored
    assert "npx" in stored  # only the secrets are sealed

    with pytest.raises(Conflict, match="already exists"):
        await registry.add_upstream(StdioUpstream(name="files", command="other"))
    updated = await registry.replace_upstream(local.model_copy(update={"enabled": False, "args": ["x"]}))
    assert updated.spec.enabled is False and updated.spec.args == ["x"]
    assert updated.updated_at >= updated.created_at
    await registry.remove_upstream("files")
    with pytest.raises(NotFound):
        await registry.upstream("files")
    with pytest.raises(NotFound):
        await registry.remove_upstream("files")
    with pytest.raises(NotFound):
        await registry.replace_upstream(local)


def _server(name: str, **fields: object) -> VirtualServer:
    return VirtualServer(id=str(uuid.uuid4()), name=name, **fields)  # type: ignore[arg-type]


async def test_virtual_servers_round_trip_and_page_by_offset_or_cursor(database: Database, box: SecretBox) -> None:
    await database.upgrade()
    registry = Registry(database, box)
    external = ExternalMCP("weather", "https://weather.test/mcp", {"x-api-key": "wk-999"}, ("forecast",))
    first = await registry.add_server(
        _server("alpha", mode="NORMAL", selected_tools=("demo_echo",), external=(external,), config={"a": 1})
    )
    created = [first] + [await registry.add_server(_server(f"s{i}")) for i in range(4)]

    got = await registry.server(first.id)
    assert got == first
    assert got.external[0].headers == {"x-api-key": "wk-999"}
    async with database.transaction() as tx:
        stored = " ".join(str(v) for row in (await tx.execute(select(servers_table))).all() for v in row)
    assert "wk-999" not in stored and "weather.test" in stored

    page, total = await registry.servers(limit=2, offset=2)
    assert total == 5 and [s.name for s in page] == [created[2].name, created[3].name]
    walked, after = [], None
    while True:
        chunk, _ = await registry.servers(limit=2, after=after)
        if not chunk:
            break
        walked += [s.name for s in chunk]
        after = (chunk[-1].created_at, chunk[-1].id)
    assert walked == [s.name for s in created]

    with pytest.raises(Conflict):
        await registry.add_server(_server("alpha"))
    renamed = await registry.replace_server(
        VirtualServer(**{**_fields(first), "name": "beta", "description": "now beta"})
    )
    assert (await registry.server(first.id)).name == "beta" and renamed.updated_at > first.created_at - timedelta(1)
    with pytest.raises(Conflict):
        await registry.replace_server(VirtualServer(**{**_fields(created[1]), "name": "beta"}))
    await registry.remove_server(first.id)
    with pytest.raises(NotFound):
        await registry.server(first.id)


def _fields(server: VirtualServer) -> dict[str, object]:
    return {name: getattr(server, name) for name in VirtualServer.__slots__}  # type: ignore[attr-defined]


async def test_a_wrong_secret_key_is_a_clear_start_up_error(database: Database, tmp_path: Path) -> None:
    await database.upgrade()
    sealed_with = SecretBox.from_settings("first-key-0123456789abcdef", tmp_path)
    await Registry(database, sealed_with).add_upstream(
        StreamableHTTPUpstream(name="crm", url="https://crm.test/mcp", headers={"Authorization": "Bearer x"})
    )
    wrong = Registry(database, SecretBox.from_settings("another-key-0123456789abcdef", tmp_path))
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        await wrong.check_secrets()
    # Rotation: the new key first, the old one after it.
    rotated = Registry(
        database, SecretBox.from_settings("new-key-0123456789abcdef, first-key-0123456789abcdef", tmp_path)
    )
    await rotated.check_secrets()
    assert (await rotated.upstream("crm")).spec.headers == {"Authorization": "Bearer x"}
    async with database.transaction() as tx:
        assert (await tx.execute(text("select count(*) from upstreams"))).scalar_one() == 1


async def test_with_migrations_off_an_old_schema_is_a_clear_error(database: Database) -> None:
    with pytest.raises(ConfigError, match="mcpgate db upgrade"):
        await prepare_database(database, migrate=False)
    await prepare_database(database, migrate=True)
    await prepare_database(database, migrate=False)  # at head now: fine
