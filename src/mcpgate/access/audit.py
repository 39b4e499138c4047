"""The audit trail: every tool call (who, which server and tool, outcome, duration, the error a
failed call was answered with — the arguments only as a SHA-256 digest) and every failed
authentication (source address, reason), as a structured log line at once and a database row
soon after.

    trail = AuditTrail(AuditStore(database), auth)
    hub.observers.append(trail.tool_call)
    guard.on_failure = trail.auth_failure
    async with trail:          # writes batches in the background; the last one on exit
        ...

A replica of a fleet may be killed at any moment, and what it buffered would be lost with it;
there, `stored` (for tool calls) and `stored_failure` return once the row is in the database:
every event recorded meanwhile goes in the same transaction (a group commit), so the cost is
one commit per batch, not per call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.abc
import orjson

from mcpgate.access.authentication import Authenticator
from mcpgate.hub.forwarding import ToolCall
from mcpgate.store.audit import AuditEvent, AuditStore

logger = logging.getLogger("mcpgate.audit")

_FLUSH_SECONDS = 0.5
_STORED_WAIT_SECONDS = 5.0  # a caller waits this long at most for its row (the database may be away)
_BUILD_SLICE = 64  # rows built between two turns of the event loop (see `_built`)
_MAX_BUFFER = 50_000  # beyond this (database away for long) the oldest rows are dropped, the log lines stay


class AuditTrail:
    def __init__(self, store: AuditStore, auth: Authenticator) -> None:
        self.store = store
        self.auth = auth
        self._buffer: list[AuditEvent | _LateToolCall] = []
        self._task_group: anyio.abc.TaskGroup | None = None
        # One write at a time: a reader's flush must also wait for a periodic write already under
        # way, or it would read the table before those rows are in it.
        self._writing = anyio.Lock()
        self._next_commit: anyio.Event | None = None  # set once the rows waited on are written

    async def stored(self, call: ToolCall) -> None:
        """Record a tool call; return once its row is written (or after a bounded wait)."""
        self.tool_call(call)
        await self._committed()

    def stored_failure(self, scope: dict[str, Any], reason: str) -> Awaitable[None]:
        self.auth_failure(scope, reason)
        return self._committed()

    async def _committed(self) -> None:
        commit = self._next_commit
        if commit is None:
            commit = self._next_commit = anyio.Event()
            assert self._task_group is not None
            self._task_group.start_soon(self._commit, commit)
        with anyio.move_on_after(_STORED_WAIT_SECONDS):
            await commit.wait()

    async def _commit(self, commit: anyio.Event) -> None:
        async with self._writing:  # rows recorded while an earlier write runs join this one
            self._next_commit = None
        with anyio.CancelScope(shield=True):
            await self.flush()
        commit.set()

    def tool_call(self, call: ToolCall) -> None:
        owner = call.session.owner.partition("#")[0]  # the key, for a session an OAuth token opened too
        key_id = owner if owner not in ("open", "anonymous") else None
        late = _LateToolCall(call, time.time(), key_id, self.auth.name_of(key_id) if key_id else None)
        if logger.isEnabledFor(logging.INFO):
            self._record(late.event())  # its log line is written now, so the row is built now
        else:
            # Built at the next flush: the digest and the row cost more than the rest of the
            # call's bookkeeping, and the next request would wait behind them (docs/benchmarks.md).
            self._record(late)

    def auth_failure(self, scope: dict[str, Any], reason: str) -> None:
        client = scope.get("client")
        self._record(
            AuditEvent(
                at=datetime.now(UTC),
                kind="auth_failure",
                outcome="denied",
                source_ip=client[0] if client else None,
                reason=f"{scope.get('method', '')} {scope.get('path', '')}: {reason}",
            )
        )

    def _record(self, event: AuditEvent | _LateToolCall) -> None:
        if isinstance(event, AuditEvent) and logger.isEnabledFor(logging.INFO):  # built only when someone reads it
            fields = event.present()
            fields["at"] = event.at.isoformat()
            logger.info("%s", orjson.dumps(fields).decode())
        if len(self._buffer) >= _MAX_BUFFER:
            del self._buffer[0]
        self._buffer.append(event)

    async def flush(self) -> None:
        """Write what is buffered; when it returns, every event recorded before the call is stored."""
        async with self._writing:
            pending, self._buffer = self._buffer, []
            if not pending:
                return
            try:
                events = await _built(pending)
                await self.store.write(events)
            except BaseException as exc:  # the database may be briefly away: keep the rows for the next flush
                self._buffer[:0] = pending[-_MAX_BUFFER:]
                if isinstance(exc, Exception):
                    logger.exception("writing %d audit rows failed; will retry", len(pending))
                else:
                    raise

    async def _write_periodically(self) -> None:
        while True:
            await anyio.sleep(_FLUSH_SECONDS)  # batching, not a wait for an event
            if self._buffer:
                # Not cut off by a stop: a write cancelled mid-transaction strands its pooled
                # connection, and closing that one later can hang the event loop's shutdown.
                with anyio.CancelScope(shield=True):
                    await self.flush()

    async def __aenter__(self) -> AuditTrail:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._write_periodically)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        await self._task_group.__aexit__(None, None, None)
        with anyio.CancelScope(shield=True):
            await self.flush()


@dataclass(frozen=True, slots=True)
class _LateToolCall:
    """A tool call's row, to be built when it is written."""

    call: ToolCall
    at: float  # time.time()
    key_id: str | None
    key_name: str | None

    def event(self) -> AuditEvent:
        call, session = self.call, self.call.session
        return AuditEvent(
            at=datetime.fromtimestamp(self.at, UTC),
            kind="tool_call",
            outcome=call.outcome,
            key_id=self.key_id,
            key_name=self.key_name,
            user=session.user,
            server=session.server,
            tool=call.tool if isinstance(call.tool, str) else None,
            duration_ms=round(call.seconds * 1000, 3),
            arguments_digest=_digest(call.arguments),
            reason=call.error,
        )


async def _built(pending: list[AuditEvent | _LateToolCall]) -> list[AuditEvent]:
    """The rows of `pending`, built a slice at a time with the event loop let through between
    slices: a flush's thousands of rows built at once held every request behind them for tens of
    milliseconds, the p99 of a busy gateway (docs/benchmarks.md)."""
    events: list[AuditEvent] = []
    for start in range(0, len(pending), _BUILD_SLICE):
        if start:
            await asyncio.sleep(0)
        events.extend(e if isinstance(e, AuditEvent) else e.event() for e in pending[start : start + _BUILD_SLICE])
    return events


def _digest(arguments: Any) -> str | None:
    if arguments is None:
        return None
    try:
        canonical = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        canonical = repr(arguments).encode()
    return hashlib.sha256(canonical).hexdigest()
