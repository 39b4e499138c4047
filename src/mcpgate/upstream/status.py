"""What an upstream connection reports about itself, and the rules it reconnects and pings by.

    UpstreamState    connecting · ready · down · failed · disabled
    UpstreamStatus   its state, last error, restarts, what the server said of itself (/health)
    Backoff          the delays between attempts, and when a child process is given up on
    Liveness         when a quiet upstream is pinged, and how many missed pings take it down

Values only: the connection (`connection.py`) is what changes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class UpstreamState(StrEnum):
    CONNECTING = "connecting"
    READY = "ready"
    DOWN = "down"  # will be retried (`retryInSeconds`)
    FAILED = "failed"  # given up on until it is changed or enabled again (or the gateway restarts)
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delays: first, first*2, … capped at `maximum` seconds; a child
    process is given up on after `attempts` failures in a row (~2 minutes by default)."""

    first: float = 0.5
    maximum: float = 30.0
    attempts: int = 10

    def delay(self, failures: int) -> float:
        return min(self.maximum, self.first * (2 ** max(0, failures - 1)))


@dataclass(frozen=True, slots=True)
class Liveness:
    """Ping an upstream quiet for `interval` seconds; `missed` pings unanswered within `timeout`
    seconds each, in a row, and it is taken down (docs: settings.TimeoutSettings)."""

    interval: float = 15.0
    timeout: float = 5.0
    missed: int = 2


@dataclass(slots=True)
class UpstreamStatus:
    state: UpstreamState = UpstreamState.CONNECTING
    error: str | None = None
    restarts: int = 0  # attempts made after the first: after a crash, a failed start, a silence
    failures: int = 0  # attempts in a row that failed (or did not stay up); 0 once it is ready
    connected_at: float | None = None
    retry_at: float | None = None
    server_info: dict[str, Any] = field(default_factory=dict)
    protocol_version: str | None = None
    # The upstream answered 401 (its WWW-Authenticate, or ""): it wants an OAuth token (accounts/).
    authorization_required: str | None = None

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {"state": self.state.value, "restarts": self.restarts}
        if self.failures:
            report["failures"] = self.failures
        if self.error:
            report["error"] = self.error
        if self.retry_at is not None and self.state is UpstreamState.DOWN:
            report["retryInSeconds"] = round(max(0.0, self.retry_at - time.monotonic()), 1)
        if self.server_info:
            report["server"] = self.server_info
        if self.protocol_version:
            report["protocolVersion"] = self.protocol_version
        if self.authorization_required is not None:
            report["authorizationRequired"] = True
        return report
