"""The registry's database: one async engine, its URL, and its schema migrations.

    database = Database.from_settings(settings)
    await database.upgrade()          # Alembic, to head; `mcpgate db upgrade` does the same
    async with database.transaction() as tx: ...
    await database.aclose()

SQLite (aiosqlite) is the embedded default, a file in the data directory created on
first use; PostgreSQL (asyncpg) is chosen with `MCPGATE_DATABASE_URL`. Plain
`postgresql://` and `sqlite:///` URLs are accepted and given their async driver.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from mcpgate.errors import ConfigError
from mcpgate.store.tables import Base

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision. A database already there starts without importing Alembic
# (~9 MB, ~0.15 s); tests/store/test_registry.py checks this is Alembic's head, so a new
# migration that forgets to move it fails the suite.
HEAD_REVISION = "0006"
_MIGRATION_LOCK = 0x6D637067  # "mcpg": the advisory lock held while migrating
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def database_url(url: str | None, data_dir: Path) -> str:
    """The async URL to connect to: the given one with its async driver, or the embedded SQLite file."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{data_dir / 'mcpgate.db'}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("MCPGATE_DATABASE_URL is not a database URL (e.g. postgresql://user@host/db)") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None and parsed.drivername not in _DRIVERS.values():
        raise ConfigError(f"MCPGATE_DATABASE_URL: unsupported database {parsed.drivername!r}; use sqlite or postgresql")
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        parsed = make_url(url)
        self.backend = parsed.get_backend_name()
        # In memory: nothing outlives the process (`mcpgate wrap`, tests).
        self.ephemeral = self.backend == "sqlite" and parsed.database in (None, "", ":memory:")
        self._made_from_models = False
        # In memory, every transaction runs on the one shared connection: two at once would share a
        # transaction (one's commit or rollback taking the other's writes with it), so they queue.
        self._one_at_a_time = anyio.Lock() if self.ephemeral else None
        if self.ephemeral:
            # One in-memory database shared by every use, for `mcpgate wrap` and tests.
            engine_options.setdefault("poolclass", StaticPool)
            engine_options.setdefault("connect_args", {"check_same_thread": False})
        if self.backend == "postgresql" and "search_path" in parsed.query:
            # `?search_path=<schema>`: the registry in a schema of its own (asyncpg takes it as a server setting).
            schema = parsed.query["search_path"]
            parsed = parsed.difference_update_query(["search_path"])
            connect_args = engine_options.setdefault("connect_args", {})
            connect_args.setdefault("server_settings", {})["search_path"] = str(schema)
        self.engine: AsyncEngine = create_async_engine(parsed, **engine_options)
        if self.backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @property
    def shown_url(self) -> str:
        """The URL without its password, for logs and errors."""
        return make_url(self.url).render_as_string(hide_password=True)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends normally, rolled back otherwise."""
        if self._one_at_a_time is None:
            async with self.engine.begin() as connection:
                yield connection
            return
        async with self._one_at_a_time, self.engine.begin() as connection:
            yield connection

    async def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to `revision` (idempotent)."""
        if revision in ("head", HEAD_REVISION) and self.ephemeral and not self._made_from_models:
            # Lives and dies with this process, so it is never migrated later: made from the models,
            # which the migrations match exactly (tests/store/test_registry.py), without loading Alembic.
            async with self.engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            self._made_from_models = True
            return
        if revision in ("head", HEAD_REVISION) and await self.revision() == HEAD_REVISION:
            return  # the usual start: nothing to do, and no Alembic to load
        async with self.engine.begin() as connection:
            if self.backend == "postgresql":
                # Replicas starting together on a new database: one migrates, the others wait
                # here and then find the schema at head (the lock ends with the transaction).
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            await connection.run_sync(_upgrade, revision)

    async def revision(self) -> str | None:
        """The revision the database is at (None: never migrated)."""
        if self._made_from_models:
            return HEAD_REVISION
        async with self.engine.connect() as connection:
            return await connection.run_sync(_current_revision)

    async def aclose(self) -> None:
        await self.engine.dispose()


def head_revision() -> str:
    """The head as Alembic reads it from the migration scripts (HEAD_REVISION must equal it)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _current_revision(connection: Connection) -> str | None:
    """What Alembic's version table holds (as `MigrationContext.get_current_revision`, without Alembic)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command  # only when the schema must change: a fresh or older database

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")  # another process (the CLI) may hold the write lock
    cursor.close()
