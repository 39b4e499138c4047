"""Rate limits per key, per end user and per client IP — and per virtual server — with the
`limits` library (moving windows; counters in memory, or in Redis shared by replicas).

    limiter = RateLimiter.from_settings(settings.rate_limits)
    await limiter.check(principal, user, ip, server)   # TooManyRequests(retry_after=…) when over

A request that is let through counts once against every limit that applies; a refused
one counts against none (so which limit is checked first never matters, and a client
hammering past one limit does not use up another). A virtual server's own
`config.rateLimits` (same keys: perKey, perUser, perIp) has counters of its own: its
requests count against it and against the gateway's limits, other requests only against
the gateway's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from mcpgate.access.principal import Principal
from mcpgate.errors import ConfigError, TooManyRequests, Unprocessable, shown_url
from mcpgate.settings import RateLimitSettings

logger = logging.getLogger(__name__)

_KINDS = {"perKey": "key", "perUser": "user", "perIp": "ip"}


class RateLimiter:
    def __init__(self, limits: Mapping[str, str | None], storage: Storage | None = None) -> None:
        self.storage = storage or MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self.storage)
        self._global = _parse(limits)
        self._parsed: dict[str, dict[str, list[RateLimitItem]]] = {}  # a server's config → its limits
        self._warned_at = -math.inf

    @classmethod
    def from_settings(
        cls, settings: RateLimitSettings, *, redis_url: str | None = None, key_prefix: str = "mcpgate"
    ) -> RateLimiter:
        """Counters in `settings.storage`, else in the fleet's Redis (`redis_url`), else in memory."""
        storage = None
        if settings.storage or redis_url:
            uri = settings.storage or redis_url
            assert uri is not None
            if uri.startswith(("redis://", "rediss://")):
                uri = "async+" + uri
            try:
                storage = storage_from_string(uri, implementation="redispy", key_prefix=f"{key_prefix}:limits")
            except Exception as exc:  # the library's own errors for a URI it cannot use
                where = "rateLimits.storage" if settings.storage else "redis"
                raise ConfigError(f"{where}: cannot use {shown_url(uri)!r}: {exc}") from None
        limits = {"perKey": settings.per_key, "perUser": settings.per_user, "perIp": settings.per_ip}
        return cls(limits, storage)

    @property
    def active(self) -> bool:
        return bool(self._global)

    def counts(self, server_config: Any = None) -> bool:
        """Whether a request to a server of `server_config` (None: the default endpoint) is counted
        at all: `check` has nothing to do when it is not."""
        return bool(self._global) or bool(self._server_limits(server_config))

    async def check(
        self, principal: Principal, user: str | None, ip: str | None, server: str | None, server_config: Any = None
    ) -> None:
        """Count one request; `TooManyRequests` (with seconds to wait) when a limit is exceeded."""
        own = self._server_limits(server_config)
        if not self._global and not own:
            return
        subjects = {
            "key": principal.id if principal.kind in ("key", "static") else None,
            "user": user,
            "ip": ip,
        }
        counted = [
            (item, scope, kind, subject)
            for scope, limits in (("all", self._global), (f"server:{server}", own))
            for kind, items in limits.items()
            if (subject := subjects[kind]) is not None
            for item in items
        ]
        try:
            if len(counted) > 1:  # every limit first, so a refusal by one is counted by none
                for item, scope, kind, subject in counted:
                    if not await self._strategy.test(item, scope, kind, subject):
                        raise await self._refusal(item, scope, kind, subject)
            for item, scope, kind, subject in counted:
                if not await self._strategy.hit(item, scope, kind, subject):  # a concurrent request took the last one
                    raise await self._refusal(item, scope, kind, subject)
        except TooManyRequests:
            raise
        except Exception as exc:
            if isinstance(self.storage, MemoryStorage):
                raise
            # Shared counters out of reach (Redis restarting): let requests through rather than refuse
            # every one — /health says Redis is unreachable; said once a minute here.
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                logger.warning("rate limits not counted: their storage cannot be reached (%s)", exc)

    async def _refusal(self, item: RateLimitItem, scope: str, kind: str, subject: str) -> TooManyRequests:
        stats = await self._strategy.get_window_stats(item, scope, kind, subject)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        where = "" if scope == "all" else " on this virtual server"
        return TooManyRequests(f"rate limit {item} per {kind}{where} exceeded; retry in {wait}s", retry_after=wait)

    def _server_limits(self, server_config: Any) -> dict[str, list[RateLimitItem]]:
        given = server_config.get("rateLimits") if isinstance(server_config, Mapping) else None
        if not isinstance(given, Mapping) or not given:
            return {}
        key = repr(sorted(given.items()))
        if key not in self._parsed:
            try:
                self._parsed[key] = _parse(given)
            except (ValueError, TypeError):
                self._parsed[key] = {}  # refused when stored; a config-file typo is not enforced
        return self._parsed[key]


def validate_server_limits(config: Mapping[str, Any]) -> None:
    """A virtual server's `config.rateLimits`, checked before it is stored (422 naming the problem)."""
    given = config.get("rateLimits")
    if given is None:
        return
    if not isinstance(given, Mapping) or not set(given) <= set(_KINDS):
        raise Unprocessable("config.rateLimits must be an object with perKey, perUser and/or perIp")
    try:
        _parse(given)
    except (ValueError, TypeError):
        raise Unprocessable("config.rateLimits: write limits like '600/minute' or '10/second;1000/hour'") from None


def _parse(limits: Mapping[str, Any]) -> dict[str, list[RateLimitItem]]:
    return {_KINDS[name]: parse_many(value) for name, value in limits.items() if value and name in _KINDS}
