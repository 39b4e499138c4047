"""`/api/v1/audit`: the audit trail, newest first, filtered and paged by cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query

from mcpgate.admin.context import Admin
from mcpgate.admin.schemas import ERRORS, AuditEventOut, AuditList, AuditPage
from mcpgate.errors import InvalidParams
from mcpgate.store.audit import AuditEvent


def router(admin: Admin) -> APIRouter:
    api = APIRouter(prefix="/audit", tags=["audit"], responses=ERRORS)

    @api.get("", response_model=AuditList, summary="Tool calls and failed authentications, newest first")
    async def read_audit(
        kind: Literal["tool_call", "auth_failure"] | None = None,
        outcome: str | None = Query(None, max_length=16),
        keyId: str | None = Query(None, max_length=36, description="A key id; `static` for MCPGATE_API_KEY."),
        user: str | None = Query(None, max_length=128),
        server: str | None = Query(None, max_length=36, description="A virtual server id."),
        tool: str | None = Query(None, max_length=256),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = Query(100, ge=1, le=500),
        cursor: str | None = Query(None, max_length=24, description="nextCursor of the previous page"),
    ) -> AuditList:
        if cursor is not None and not cursor.isdigit():
            raise InvalidParams("cursor is not one this API gave out; start again without it")
        await admin.audit.flush()  # what happened up to this request is in the answer
        events = await admin.audit.store.read(
            limit=limit,
            before_id=int(cursor) if cursor else None,
            since=since,
            until=until,
            kind=kind,
            outcome=outcome,
            key_id=keyId,
            user=user,
            server=server,
            tool=tool,
        )
        next_cursor = str(events[-1].id) if len(events) == limit else None
        return AuditList(data=[_out(e) for e in events], pagination=AuditPage(limit=limit, nextCursor=next_cursor))

    return api


def _out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id or 0,
        at=event.at,
        kind=event.kind,  # type: ignore[arg-type]
        outcome=event.outcome,
        keyId=event.key_id,
        keyName=event.key_name,
        user=event.user,
        server=event.server,
        tool=event.tool,
        durationMs=event.duration_ms,
        sourceIp=event.source_ip,
        reason=event.reason,
        argumentsDigest=event.arguments_digest,
    )
