"""The registry's database, on both engines: SQLite in a temporary directory, and the
machine's PostgreSQL (127.0.0.1:5432, database `test`) in a schema of its own per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import Database

POSTGRES = os.environ.get("MCPGATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ENGINES = ["sqlite", "postgresql"]


async def _create_schema(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES)
    try:
        await connection.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await connection.close()


async def _drop_schema(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await connection.close()


async def empty_database(engine: str, tmp_path: Path) -> AsyncIterator[Database]:
    if engine == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}")
        try:
            yield database
        finally:
            await database.aclose()
        return
    schema = f"mcpgate_test_{secrets.token_hex(6)}"
    await _create_schema(schema)
    url = POSTGRES.replace("postgresql://", "postgresql+asyncpg://", 1)
    database = Database(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield database
    finally:
        await database.aclose()
        await _drop_schema(schema)


@pytest.fixture(params=ENGINES)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database on each engine."""
    async for database in empty_database(request.param, tmp_path):
        yield database


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox.from_settings(None, tmp_path / "keys")
