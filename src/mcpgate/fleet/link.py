"""A replica's link to the Redis its fleet shares: which replicas are alive, and messages
between them.

    link = FleetLink(settings)                    # settings.redis_url is set
    link.on_message("events", handle_event)       # handle(payload: bytes), for broadcasts
    link.on_message("direct", handle_frame)       # for messages sent to this replica alone
    async with link: ...                          # beats, listens; reconnects after an outage
    await link.broadcast(payload)                 # to every replica (this one included)
    await link.send(replica, payload)             # to one; False when nobody listens there

Every replica beats every `fleet.heartbeatSeconds` into a sorted set (replica → the time it
was last heard from); one not heard from for `deadAfterSeconds` is gone, and whoever waits on
it is told (`on_gone`). Messages are Redis pub/sub: at most once, in the order published by
one sender — which is what a request relayed to its session's replica needs, and no more
(what must survive a replica or Redis itself is in the database). While Redis cannot be
reached the replica goes on serving what it holds; when it comes back the link subscribes
again and says so (`on_reconnect`: whoever keeps a copy of shared state re-reads it, since
changes announced meanwhile were missed).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio
import anyio.abc
import orjson
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from mcpgate import __version__
from mcpgate.errors import shown_url
from mcpgate.settings import GatewaySettings

logger = logging.getLogger(__name__)

Channel = Literal["events", "direct"]
Handler = Callable[[bytes], None]

_POOL_SIZE = 64  # connections for commands; a command waits at most _COMMAND_SECONDS for one
_COMMAND_SECONDS = 5.0
_RETRY_SECONDS = (0.1, 0.2, 0.5, 1.0, 2.0)  # between attempts to subscribe again, then every 2 s
_FORGET_AFTER_SECONDS = 3600.0  # a replica not heard from for this long leaves the sorted set


def new_replica_id() -> str:
    """Short, URL- and header-safe, and without '.', which separates it in a session id."""
    return secrets.token_urlsafe(6)


class FleetUnavailable(Exception):
    """Redis cannot be reached: nothing can be sent to another replica now."""


class FleetLink:
    def __init__(self, settings: GatewaySettings, replica: str | None = None) -> None:
        assert settings.redis_url is not None
        self.settings = settings.fleet
        self.replica = replica or new_replica_id()
        self.shown_url = shown_url(settings.redis_url)
        prefix = self.settings.key_prefix
        self._members_key = f"{prefix}:replicas"
        self._info_key = f"{prefix}:replicas:info"
        self._channels: dict[Channel, str] = {"events": f"{prefix}:events", "direct": self.direct_channel(self.replica)}
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=_POOL_SIZE,
            timeout=_COMMAND_SECONDS,
            socket_connect_timeout=_COMMAND_SECONDS,
            socket_timeout=_COMMAND_SECONDS,
            # A pooled connection to a Redis that restarted is dead: one failed command reconnects
            # and tries again (at once, then after 50 ms) rather than count as Redis being away.
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.05), 2),
            retry_on_error=[RedisConnectionError],
        )
        self.redis = Redis(connection_pool=pool)
        self._handlers: dict[str, Handler] = {}
        self.on_gone: list[Callable[[str], None]] = []
        self.on_unreachable: list[Callable[[], None]] = []  # told once when Redis is lost
        self.on_reconnect: list[Callable[[], Awaitable[None]]] = []
        self.members: dict[str, float] = {}  # replica → when it was last heard from (time.time())
        self.info: dict[str, dict[str, Any]] = {}
        # What this replica adds to each beat besides who it is (its recent tool calls, for the web
        # UI's overview of the fleet); not shown on /health, which anyone may read.
        self.figures: Callable[[], dict[str, Any]] | None = None
        self.reachable = False
        self._reached = anyio.Event()  # set while `reachable`
        self._hearing_since = time.time()
        self.unreachable_since: float | None = time.time()
        self.error: str | None = "not connected yet"
        self._subscribed_at: float | None = None  # time.monotonic() of the current subscription
        self._resubscribe = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._started_at = time.time()

    def direct_channel(self, replica: str) -> str:
        return f"{self.settings.key_prefix}:to:{replica}"

    def on_message(self, channel: Channel, handler: Handler) -> None:
        self._handlers[self._channels[channel]] = handler

    # -- sending -----------------------------------------------------------------------

    async def broadcast(self, payload: bytes) -> None:
        await self._publish(self._channels["events"], payload)

    async def send(self, replica: str, payload: bytes) -> bool:
        """Send to one replica; False when it does not listen (gone, or never was)."""
        return await self._publish(self.direct_channel(replica), payload) > 0

    async def _publish(self, channel: str, payload: bytes) -> int:
        try:
            return int(await self.redis.publish(channel, payload))
        except (RedisError, OSError) as exc:
            self._lost(exc)
            raise FleetUnavailable(f"Redis at {self.shown_url} cannot be reached: {_reason(exc)}") from None

    async def reached(self, timeout: float) -> bool:  # noqa: ASYNC109 - a bound on waiting, not an operation
        """Whether Redis is reachable, waiting up to `timeout` seconds for it to come back."""
        with anyio.move_on_after(timeout):
            await self._reached.wait()
        return self.reachable

    def alive(self, replica: str) -> bool:
        seen = self.members.get(replica)
        return seen is not None and time.time() - seen < self.settings.dead_after_seconds

    # -- running -----------------------------------------------------------------------

    async def __aenter__(self) -> FleetLink:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._listen, name="fleet:listen")
        self._task_group.start_soon(self._beat, name="fleet:beat")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        await self._task_group.__aexit__(None, None, None)
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:  # leave at once rather than be missed for deadAfterSeconds
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.zrem(self._members_key, self.replica).hdel(self._info_key, self.replica)
                    await pipe.execute()
            except (RedisError, OSError):
                pass
            await self.redis.aclose()

    async def _listen(self) -> None:
        attempt = 0
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self._channels.values())
                self._subscribed_at = time.monotonic()
                self._resubscribe = anyio.Event()
                attempt = 0
                await self._found()
                while not self._resubscribe.is_set():
                    message = await pubsub.get_message(timeout=self.settings.heartbeat_seconds)
                    if message is not None and (handler := self._handlers.get(message["channel"].decode())):
                        try:
                            handler(message["data"])
                        except Exception:  # one bad message must not end the replica's listening
                            logger.exception("fleet: handling a message on %s failed", message["channel"])
            except (RedisError, OSError) as exc:
                self._lost(exc)
            finally:
                self._subscribed_at = None
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    try:
                        await pubsub.aclose()
                    except (RedisError, OSError):
                        pass
            await anyio.sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])  # backoff between tries
            attempt += 1

    async def _beat(self) -> None:
        who = {"host": socket.gethostname(), "pid": os.getpid(), "version": __version__}
        while True:
            now = time.time()
            info = orjson.dumps({**who, "figures": self.figures()} if self.figures is not None else who)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.zadd(self._members_key, {self.replica: now})
                    pipe.hset(self._info_key, self.replica, info)
                    pipe.zrangebyscore(
                        self._members_key, now - self.settings.dead_after_seconds, "+inf", withscores=True
                    )
                    pipe.zrangebyscore(self._members_key, 0, now - _FORGET_AFTER_SECONDS)
                    pipe.hgetall(self._info_key)
                    # Our own subscription, checked from outside: a listener whose connection died
                    # without a word (no FIN) would otherwise wait forever on a silent socket.
                    pipe.publish(self._channels["direct"], b"")
                    _, _, live, forgotten, infos, listeners = await pipe.execute()
                if forgotten:
                    await self.redis.zrem(self._members_key, *forgotten)
                    await self.redis.hdel(self._info_key, *forgotten)
                self._seen({member.decode(): score for member, score in live}, infos)
                subscribed_at = self._subscribed_at
                if subscribed_at is not None:
                    # A new subscription is confirmed a moment after SUBSCRIBE returns: judged after a beat.
                    if listeners == 0 and time.monotonic() - subscribed_at > 2 * self.settings.heartbeat_seconds:
                        logger.warning("fleet: this replica's subscription was lost; subscribing again")
                        self._resubscribe.set()
                    await self._found()
            except (RedisError, OSError) as exc:
                self._lost(exc)
            await anyio.sleep(self.settings.heartbeat_seconds)  # the beat's own period

    def _seen(self, live: dict[str, float], infos: dict[bytes, bytes]) -> None:
        # Gone when not heard from for deadAfterSeconds — not merely missing from one read: a Redis
        # that restarted has forgotten everyone until each replica's next beat.
        now = time.time()
        members = {**self.members, **live}
        # Silence is counted from when this replica could hear again, not across its own outage.
        gone = [
            r for r, seen in members.items() if now - max(seen, self._hearing_since) >= self.settings.dead_after_seconds
        ]
        for replica in gone:
            del members[replica]
        self.members = members
        read = {field.decode(): orjson.loads(value) for field, value in infos.items()}
        self.info = {replica: read.get(replica) or self.info.get(replica, {}) for replica in members}
        for replica in gone:
            logger.info("fleet: replica %s is gone", replica)
            for listener in self.on_gone:
                listener(replica)

    async def _found(self) -> None:
        if self.reachable:
            return
        was_lost = self.unreachable_since is not None and self.error != "not connected yet"
        self.reachable = True
        self._reached.set()
        self._hearing_since = time.time()
        self.unreachable_since = None
        self.error = None
        if was_lost:
            logger.warning("fleet: Redis at %s is reachable again; re-reading shared state", self.shown_url)
        for listener in self.on_reconnect:
            try:
                await listener()
            except Exception:  # a re-read that fails is retried by the periodic one
                logger.exception("fleet: re-reading shared state after reconnecting failed")

    def _lost(self, exc: BaseException) -> None:
        was_reachable = self.reachable
        if was_reachable or self.error == "not connected yet":
            logger.error("fleet: Redis at %s cannot be reached: %s", self.shown_url, _reason(exc))
            self.unreachable_since = time.time()
        self.reachable = False
        if self._reached.is_set():
            self._reached = anyio.Event()
        self.error = _reason(exc)
        if was_reachable:
            for listener in self.on_unreachable:
                listener()

    def figures_of_replicas(self) -> dict[str, dict[str, Any]]:
        """What each live replica said of itself in its last beat (`figures`): this one's included,
        as of its own last beat."""
        return {replica: self.info.get(replica, {}).get("figures") or {} for replica in sorted(self.members)}

    def report(self) -> dict[str, Any]:
        """This replica's view of the fleet, for /health."""
        now = time.time()
        replicas = [
            {
                "id": replica,
                "seenSecondsAgo": round(max(0.0, now - seen), 1),
                **{k: v for k, v in self.info.get(replica, {}).items() if k != "figures"},
            }
            for replica, seen in sorted(self.members.items())
        ]
        report: dict[str, Any] = {
            "replica": self.replica,
            "redis": "ok" if self.reachable else "unreachable",
            "replicas": replicas,
        }
        if not self.reachable:
            report["redisError"] = self.error
            if self.unreachable_since is not None:
                report["unreachableForSeconds"] = round(now - self.unreachable_since, 1)
        return report


def _reason(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0] or type(exc).__name__
