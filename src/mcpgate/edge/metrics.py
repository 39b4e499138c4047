"""`GET /metrics` in the Prometheus text format, and what feeds it.

    requests by endpoint and status   mcpgate_http_requests_total{endpoint,status}
    tool calls by outcome             mcpgate_tool_calls_total{outcome}
    tool call latency                 mcpgate_tool_call_duration_seconds (histogram)
    failed authentications            mcpgate_auth_failures_total
    open sessions (by transport)      mcpgate_sessions{transport}
    upstreams by state                mcpgate_upstreams{state}

`Metrics.recent` keeps the last ten minutes of tool calls in 10-second buckets, for the web
UI's overview (a rate needs history that a counter scraped once does not have).

One registry per app (not the library's global one), so several gateways in one process
(the tests) never share counters. Requests are counted by a thin ASGI wrapper that only
looks at each response's start.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Awaitable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcpgate.hub.forwarding import ToolCall
from mcpgate.hub.gateway import Hub

_ENDPOINTS = (
    ("/mcp", "mcp"),
    ("/sse", "sse"),
    ("/message", "sse"),
    ("/servers/", "virtual_server"),
    ("/api/v1/mcp/", "virtual_server"),
    ("/api/", "management"),
    ("/health", "health"),
    ("/metrics", "metrics"),
)


class Metrics:
    def __init__(self, hub: Hub) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mcpgate_http_requests", "HTTP requests answered", ["endpoint", "status"], registry=self.registry
        )
        self.tool_calls = Counter("mcpgate_tool_calls", "Tool calls by outcome", ["outcome"], registry=self.registry)
        self.tool_seconds = Histogram(
            "mcpgate_tool_call_duration_seconds",
            "Tool call latency through the gateway",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.auth_failures = Counter("mcpgate_auth_failures", "Failed authentications", registry=self.registry)
        self.registry.register(_HubState(hub))
        # Each labelled child, found once: `labels()` costs more than the increment it leads to.
        self._request_counters: dict[tuple[str, int], Any] = {}
        self._outcome_counters: dict[str, Any] = {}
        self.recent = RecentCalls()

    def tool_call(self, call: ToolCall) -> None:
        self.recent.add(call.outcome in ("error", "tool_error"))
        counter = self._outcome_counters.get(call.outcome)
        if counter is None:
            counter = self._outcome_counters[call.outcome] = self.tool_calls.labels(call.outcome)
        counter.inc()
        self.tool_seconds.observe(call.seconds)

    def _count_request(self, endpoint: str, status: int) -> None:
        key = (endpoint, status)
        counter = self._request_counters.get(key)
        if counter is None:
            counter = self._request_counters[key] = self.requests.labels(endpoint, str(status))
        counter.inc()

    def auth_failure(self) -> None:
        self.auth_failures.inc()

    def counting(self, app: ASGIApp) -> ASGIApp:
        """`app`, with every HTTP response counted by endpoint and status."""

        def counted(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            # The app's own coroutine, with `send` watched: no frame of this layer (edge/http.py, HANDS_ON).
            if scope["type"] != "http":
                return app(scope, receive, send)
            endpoint = _endpoint(scope["path"])

            async def watch(message: Message) -> None:
                if message["type"] == "http.response.start":
                    self._count_request(endpoint, message["status"])
                await send(message)

            return app(scope, receive, watch)

        return counted

    async def endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = generate_latest(self.registry)
        headers = [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class RecentCalls:
    """Tool calls and failed ones per `bucket_seconds`, for the last `buckets` of them."""

    def __init__(self, bucket_seconds: int = 10, buckets: int = 60, clock: Any = time.monotonic) -> None:
        self.bucket_seconds = bucket_seconds
        self.clock = clock
        self._calls = [0] * buckets
        self._errors = [0] * buckets
        self._current = int(clock() // bucket_seconds)

    def add(self, failed: bool) -> None:
        index = self._advance()
        self._calls[index] += 1
        if failed:
            self._errors[index] += 1

    def _advance(self) -> int:
        now = int(self.clock() // self.bucket_seconds)
        if now != self._current:
            size = len(self._calls)
            for step in range(1, min(now - self._current, size) + 1):  # buckets nobody called in are empty
                self._calls[(self._current + step) % size] = 0
                self._errors[(self._current + step) % size] = 0
            self._current = now
        return now % len(self._calls)

    def beat_figures(self) -> dict[str, int]:
        """The last minute's whole buckets (the current one is partial) as calls, errors and
        seconds: what the overview counts, and what a fleet heartbeat carries to the other replicas."""
        whole = self.series()[-1 - 60 // self.bucket_seconds : -1]
        return {
            "calls": sum(c for c, _ in whole),
            "errors": sum(e for _, e in whole),
            "seconds": self.bucket_seconds * len(whole),
        }

    def series(self) -> list[tuple[int, int]]:
        """(calls, errors) per bucket, oldest first, the current (partial) bucket last."""
        index = self._advance()
        size = len(self._calls)
        order = [(index + 1 + step) % size for step in range(size)]
        return [(self._calls[i], self._errors[i]) for i in order]


class _HubState(Collector):
    """Gauges read from the hub at scrape time: sessions and upstream states."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sessions = GaugeMetricFamily("mcpgate_sessions", "Open client sessions", labels=["transport"])
        for transport, count in sorted(Tally(s.transport for s in self.hub.sessions).items()):
            sessions.add_metric([transport], count)
        yield sessions
        upstreams = GaugeMetricFamily("mcpgate_upstreams", "Upstreams by state", labels=["state"])
        states = Tally(c.status.state.value for c in self.hub.upstreams.values())
        for state in ("connecting", "ready", "down", "failed", "disabled"):
            upstreams.add_metric([state], states.get(state, 0))
        yield upstreams


def _endpoint(path: str) -> str:
    for prefix, name in _ENDPOINTS:
        if path.startswith(prefix):
            return name
    return "other"
