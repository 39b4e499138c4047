"""The seam between the layers that trace and the tracer: `tracer` is None while tracing is off.

    from mcpgate.tracing import hook

    if (tracer := hook.tracer) is None:
        return await peer.request(...)
    with tracer.calling(...) as call:
        return call.answered(await peer.request(..., call.params, headers=call.headers))

The edge, hub and upstream layers read `hook.tracer` once per request: tracing that is off
costs that read and nothing else. This module imports nothing, of ours or of OpenTelemetry,
so any layer may import it; `switch.open_tracing` sets `tracer` while the gateway runs with
tracing on (and `spans.OTelTracer` is the only implementation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from starlette.types import ASGIApp

Result = dict[str, Any]


class Session(Protocol):
    """What a span may say of a client session (hub.session.ClientSession): never its full id."""

    transport: str
    protocol_version: str | None

    @property
    def shown_id(self) -> str: ...

    @property
    def ephemeral(self) -> bool: ...


class Outcome(Protocol):
    """The span of one request being answered; `answered` notes a tool error and returns the result."""

    def answered(self, result: Result) -> Result: ...


class Call(Outcome, Protocol):
    """The span of one request to an upstream, and what to send so that its context travels
    with it: copies of the params (`_meta`) and headers, the caller's own left untouched."""

    params: Mapping[str, Any] | None
    headers: Mapping[str, str]


class Tracer(Protocol):
    def edge(self, app: ASGIApp) -> ASGIApp:
        """`app`, with one server span per HTTP request."""

    def received(self, messages: Sequence[object]) -> None:
        """An HTTP request's JSON-RPC messages, as parsed: a lone request's `_meta` trace context
        becomes the parent of the request's span."""

    def serving(
        self, session: Session, method: str, params: Mapping[str, Any], request_id: object
    ) -> AbstractContextManager[Outcome]:
        """The span of one request of `session` while the hub answers it."""

    def routed(self, upstream: str, method: str, name: str) -> None:
        """The request being answered goes to `upstream`, which knows its tool, prompt or URI as `name`."""

    def calling(
        self,
        upstream: str,
        transport: str,
        url: str | None,
        method: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> AbstractContextManager[Call]:
        """The span of one request to an upstream (`transport`: stdio, sse, streamable_http, in_process)."""


tracer: Tracer | None = None
