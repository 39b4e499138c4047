"""The audit trail's table: events written in batches, read newest first with filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from mcpgate.store.database import Database
from mcpgate.store.registry import utc
from mcpgate.store.tables import AuditEventRow

audit_table = AuditEventRow.__table__
FILTERS = ("kind", "outcome", "key_id", "user", "server", "tool")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    kind: str
    outcome: str
    key_id: str | None = None
    key_name: str | None = None
    user: str | None = None
    server: str | None = None
    tool: str | None = None
    duration_ms: float | None = None
    source_ip: str | None = None
    reason: str | None = None
    arguments_digest: str | None = None
    id: int | None = None

    def present(self) -> dict[str, Any]:
        """The fields that are set, as they are (`dataclasses.asdict` deep-copies: per tool call, it showed)."""
        return {name: value for name in _FIELDS if (value := getattr(self, name)) is not None}


_FIELDS = tuple(field.name for field in fields(AuditEvent))
_WRITTEN = tuple(name for name in _FIELDS if name != "id")


_ROWS_PER_STATEMENT = 128


def _row(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _WRITTEN} | {"at": utc(event.at)}


class AuditStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def write(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        async with self.database.transaction() as tx:
            # A statement per slice: between them the event loop serves requests, which one
            # statement of a busy flush's thousands of rows held up for tens of milliseconds.
            for start in range(0, len(events), _ROWS_PER_STATEMENT):
                rows = [_row(event) for event in events[start : start + _ROWS_PER_STATEMENT]]
                await tx.execute(insert(audit_table), rows)

    async def read(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        **filters: Any,
    ) -> list[AuditEvent]:
        query = select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(audit_table.c.id < before_id)
        if since is not None:
            query = query.where(audit_table.c.at >= utc(since))
        if until is not None:
            query = query.where(audit_table.c.at < utc(until))
        for name, value in filters.items():
            if value is not None and name in FILTERS:
                query = query.where(audit_table.c[name] == value)
        async with self.database.transaction() as tx:
            rows = (await tx.execute(query)).all()
        return [AuditEvent(**{**row._mapping, "at": utc(row.at)}) for row in rows]
