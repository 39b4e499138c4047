"""Who subscribed to which resource: `resources/updated` goes to those sessions only.

Several sessions may subscribe to the same upstream resource over one connection they
share (an upstream's shared connection, or a capability profile's); the upstream sees one
subscription, held while any session holds one, and each update reaches exactly the
sessions that asked over that connection, under the URI each used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# (the connection's key — the upstream's name, or "<upstream>#<profile>" — and the upstream's own URI)
Key = tuple[str, str]


@dataclass
class Subscriptions:
    _by_resource: dict[Key, dict[str, str]] = field(default_factory=dict)  # key → session id → exposed URI
    _by_session: dict[str, set[Key]] = field(default_factory=dict)

    def add(self, session_id: str, key: Key, exposed: str) -> bool:
        """Record one; True when it is the first for this resource (subscribe upstream)."""
        holders = self._by_resource.setdefault(key, {})
        first = not holders
        holders[session_id] = exposed
        self._by_session.setdefault(session_id, set()).add(key)
        return first

    def remove(self, session_id: str, key: Key) -> bool:
        """Drop one; True when it was the last for this resource (unsubscribe upstream)."""
        holders = self._by_resource.get(key)
        if holders is None or holders.pop(session_id, None) is None:
            return False
        self._by_session.get(session_id, set()).discard(key)
        if holders:
            return False
        del self._by_resource[key]
        return True

    def drop_session(self, session_id: str) -> list[Key]:
        """Forget a closed session; the resources nobody holds any more."""
        released = []
        for key in self._by_session.pop(session_id, set()):
            holders = self._by_resource.get(key, {})
            holders.pop(session_id, None)
            if not holders:
                self._by_resource.pop(key, None)
                released.append(key)
        return released

    def drop_upstream(self, upstream: str) -> None:
        """Forget every subscription to an upstream that was removed or replaced (over any of its connections)."""
        for key in [k for k in self._by_resource if k[0].partition("#")[0] == upstream]:
            for session_id in self._by_resource.pop(key):
                self._by_session.get(session_id, set()).discard(key)

    def held(self, connection: str) -> bool:
        """Whether any session holds a subscription over the connection with this key."""
        return any(key[0] == connection for key in self._by_resource)

    def holders(self, key: Key) -> dict[str, str]:
        """Session id → the URI that session subscribed with."""
        return dict(self._by_resource.get(key, {}))
