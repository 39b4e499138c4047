"""Capability profiles: the part of a client's capabilities the gateway relays, and the upstream
connections that declare exactly that part.

An upstream decides what to show and do by what its client declared in `initialize` — the
reference "everything" server lists `get-roots-list` only to a client that declared `roots`.
Behind the gateway its client is the gateway, so each upstream connection declares one
`Profile`: what the sessions it serves declared of

    sampling        and its `context` and `tools` parts
    elicitation     `form` and/or `url` (an empty `elicitation: {}` means form)
    roots           (not its `listChanged`: the gateway does not pass roots/list_changed on)

    >>> Profile.of({"roots": {"listChanged": True}, "elicitation": {}})
    Profile('elicitation.form+roots')
    >>> Profile.of({}).declaration()
    {}

The shared connection of each upstream declares `FULL` (sampling, both elicitation modes,
roots), as it always has, and serves the sessions that declare exactly that. A session that
declares something else is served by a `ProfileLink`: a connection for its profile, opened on
first use, shared by every session of that profile, stopped once nobody has used it for
`userChildIdleSeconds`. At most `maxUpstreamProfiles` run per upstream; past that a session is
served by the running link that declares the most of what it declared and nothing more — at
worst the `NONE` link, which is always allowed — so an upstream is never told a client can do
what it cannot.

Deliberately not here: which upstreams get links and the catalogs built from their lists
(`profile_catalogs.py`), and checking relayed requests (`forwarding.py`, with `Profile.lacks`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from mcpgate.upstream.connection import FULL_CLIENT_CAPABILITIES, UpstreamConnection, UpstreamState

__all__ = ["FULL", "NONE", "Profile", "ProfileLink", "ProfileLinks"]

logger = logging.getLogger(__name__)

_ORDER = ("sampling", "sampling.context", "sampling.tools", "elicitation.form", "elicitation.url", "roots")


@dataclass(frozen=True, slots=True)
class Profile:
    """The relayable capabilities of a client, as a hashable value (see the module docstring)."""

    features: frozenset[str] = frozenset()

    @classmethod
    def of(cls, capabilities: Mapping[str, Any]) -> Profile:
        """The profile of a client that declared `capabilities` (an initialize's, or a 2026-07-28 envelope's)."""
        features: set[str] = set()
        sampling = capabilities.get("sampling")
        if isinstance(sampling, Mapping):
            features.add("sampling")
            features.update(f"sampling.{part}" for part in ("context", "tools") if sampling.get(part) is not None)
        elicitation = capabilities.get("elicitation")
        if isinstance(elicitation, Mapping):
            url = elicitation.get("url") is not None
            if elicitation.get("form") is not None or not url:  # `elicitation: {}` predates modes: form
                features.add("elicitation.form")
            if url:
                features.add("elicitation.url")
        if isinstance(capabilities.get("roots"), Mapping):
            features.add("roots")
        return cls(frozenset(features))

    def declaration(self) -> dict[str, Any]:
        """The `capabilities` of an `initialize` that declares this profile."""
        declared: dict[str, Any] = {}
        if "sampling" in self.features:
            declared["sampling"] = {part: {} for part in ("context", "tools") if f"sampling.{part}" in self.features}
        modes = {mode: {} for mode in ("form", "url") if f"elicitation.{mode}" in self.features}
        if modes:
            declared["elicitation"] = modes
        if "roots" in self.features:
            declared["roots"] = {}
        return declared

    def lacks(self, method: str, params: Mapping[str, Any]) -> str | None:
        """The capability a request to the client needs and this profile does not declare, or None.
        Only requests the gateway relays are asked about (`ping` needs nothing)."""
        if method == "sampling/createMessage":
            if "sampling" not in self.features:
                return "sampling"
            wants_tools = params.get("tools") is not None or params.get("toolChoice") is not None
            return "sampling (tools)" if wants_tools and "sampling.tools" not in self.features else None
        if method == "roots/list":
            return None if "roots" in self.features else "roots"
        if method == "elicitation/create":
            mode = params.get("mode") or "form"
            return None if f"elicitation.{mode}" in self.features else f"elicitation ({mode} mode)"
        return None

    def __le__(self, other: Profile) -> bool:
        """Declares nothing `other` does not."""
        return self.features <= other.features

    def __str__(self) -> str:
        return "+".join(f for f in _ORDER if f in self.features) or "none"

    def __repr__(self) -> str:
        return f"Profile({str(self)!r})"


NONE = Profile()
# What the shared connections declare (sampling, elicitation form and url, roots): all the gateway relays.
FULL = Profile.of(FULL_CLIENT_CAPABILITIES)

# Opens and starts a connection to the upstream of `shared` that declares the profile; the scope stops it.
Opener = Callable[[UpstreamConnection, Profile], tuple[UpstreamConnection, anyio.CancelScope]]


@dataclass(eq=False)
class ProfileLink:
    """The connection to one upstream that declares one profile, shared by the sessions of that
    profile (and, past the cap, of larger ones: `serves`). Stopped when idle, it keeps what it
    last listed, so sessions are shown the same lists until it is opened again."""

    upstream: str
    profile: Profile
    connection: UpstreamConnection
    scope: anyio.CancelScope
    serves: set[Profile] = field(default_factory=set)  # larger profiles it stands in for, past the cap
    last_used: float = field(default_factory=time.monotonic)
    stopped: bool = False
    previous: UpstreamConnection | None = None  # the connection before this one, if it listed

    @property
    def key(self) -> str:
        """How the hub names it (`<upstream>#<profile>`: '#' is in no upstream name)."""
        return f"{self.upstream}#{self.profile}"

    @property
    def running(self) -> bool:
        return not self.stopped and self.connection.status.state is not UpstreamState.FAILED

    def source(self) -> UpstreamConnection | None:
        """The connection whose lists this link shows: the current one once it has listed, else the previous one."""
        return self.connection if self.connection.status.connected_at is not None else self.previous

    @property
    def settled(self) -> bool:
        """It has listed (now or before), or its first attempt failed."""
        return self.source() is not None or self.connection.status.state is not UpstreamState.CONNECTING

    def stop(self) -> None:
        self.scope.cancel()
        self.stopped = True

    def restart(self, connection: UpstreamConnection, scope: anyio.CancelScope) -> None:
        self.scope.cancel()
        self.previous = self.source()
        self.connection, self.scope, self.stopped = connection, scope, False


class ProfileLinks:
    """The profile links of every upstream, by (upstream, profile); see the module docstring."""

    def __init__(self, opener: Opener, cap: int) -> None:
        self._open = opener
        self.cap = cap
        self._links: dict[tuple[str, Profile], ProfileLink] = {}

    def __iter__(self) -> Iterator[ProfileLink]:
        return iter(list(self._links.values()))

    def of(self, upstream: str) -> list[ProfileLink]:
        return [link for (name, _), link in self._links.items() if name == upstream]

    def by_key(self, key: str) -> ProfileLink | None:
        return next((link for link in self._links.values() if link.key == key), None)

    def serving(self, upstream: str, profile: Profile) -> ProfileLink | None:
        """The link that serves sessions of `profile` on `upstream`, if there is one: its own or a
        stand-in, a running one first."""
        own = self._links.get((upstream, profile))
        if own is not None and own.running:
            return own
        stand_ins = [link for link in self.of(upstream) if profile in link.serves]
        return next((link for link in stand_ins if link.running), None) or own or next(iter(stand_ins), None)

    def open(self, shared: UpstreamConnection, profile: Profile) -> ProfileLink:
        """The running link for sessions of `profile` on `shared`'s upstream: started (again) if
        need be, or — past the cap — the running one closest below it."""
        upstream = shared.name
        link = self.serving(upstream, profile)
        if link is None or not link.running:
            link = self._choose(shared, profile)
        link.last_used = time.monotonic()
        return link

    def _choose(self, shared: UpstreamConnection, profile: Profile) -> ProfileLink:
        upstream = shared.name
        running = [link for link in self.of(upstream) if link.running]
        if len(running) < self.cap:
            return self._start(shared, profile)
        below = [link for link in running if link.profile <= profile]
        if below:
            chosen = max(below, key=lambda link: (len(link.profile.features), link.last_used))
        else:  # NONE declares nothing a client lacks: it is always allowed, past the cap too
            chosen = self._start(shared, NONE)
        if profile != chosen.profile and profile not in chosen.serves:
            for other in self.of(upstream):
                other.serves.discard(profile)
            chosen.serves.add(profile)
            logger.warning(
                "upstream %s: %d connections for capability profiles are running (maxUpstreamProfiles); "
                "sessions declaring %s are served by the one declaring %s",
                shared.label,
                len(running),
                profile,
                chosen.profile,
            )
        return chosen

    def _start(self, shared: UpstreamConnection, profile: Profile) -> ProfileLink:
        upstream = shared.name
        for other in self.of(upstream):
            other.serves.discard(profile)  # it has a link of its own (again)
        connection, scope = self._open(shared, profile)
        link = self._links.get((upstream, profile))
        if link is None:
            link = self._links[(upstream, profile)] = ProfileLink(upstream, profile, connection, scope)
        else:
            link.restart(connection, scope)
        logger.info("upstream %s: opened a connection declaring capabilities %s", shared.label, profile)
        return link

    def stop_idle(self, now: float, idle_seconds: float, held: Callable[[ProfileLink], bool]) -> None:
        """Stop the running links nobody has used for `idle_seconds` (none with a call in flight or
        a subscription `held`); they keep what they listed."""
        for link in self:
            connection = link.connection
            if not link.running or connection.status.state is UpstreamState.CONNECTING:
                continue
            if now - link.last_used > idle_seconds and connection.in_flight == 0 and not held(link):
                logger.info("upstream %s: stopping the idle connection declaring %s", connection.label, link.profile)
                link.stop()

    def forget_unused(self, live: set[Profile]) -> None:
        """Drop the links, stopped or given up on, that no live session's profile is served by (with
        what they listed)."""
        for key, link in list(self._links.items()):
            if not link.running and link.profile not in live and not (link.serves & live):
                del self._links[key]

    def forget(self, upstream: str) -> None:
        """Stop and drop every link of an upstream that was removed or replaced."""
        for key in [key for key in self._links if key[0] == upstream]:
            self._links.pop(key).stop()
