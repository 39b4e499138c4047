"""Who a request comes from, and what it may do.

Scopes:
    admin          everything (keys, users, audit included)
    servers:read   read upstreams and virtual servers
    servers:write  change upstreams and virtual servers
    tools:call     use the MCP endpoints
    users:act      act for an end user (`x-username`)
    *              every scope
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# An end user's name, as clients send it in x-username.
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}\Z")  # \Z: no newline may end it

SCOPES: dict[str, str] = {
    "admin": "everything, keys, users and the audit log included",
    "servers:read": "read upstreams and virtual servers",
    "servers:write": "change upstreams and virtual servers",
    "tools:call": "use the MCP endpoints",
    "users:act": "act for an end user (x-username)",
}
ALL = "*"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["open", "static", "key", "anonymous", "oauth"]
    id: str  # "open", "static", a key id, "anonymous"; for an OAuth token, the key it derives from
    name: str
    scopes: frozenset[str]
    servers: frozenset[str] | None = None  # virtual server ids it may use; None = any
    grant: str | None = None  # an OAuth token's grant (oauth/): revoking it ends the sessions it opened

    @property
    def owner(self) -> str:
        """Who a session it opens belongs to: the key, and for a token, its grant as well."""
        return self.id if self.grant is None else f"{self.id}#{self.grant}"

    def allows(self, scope: str) -> bool:
        return ALL in self.scopes or "admin" in self.scopes or scope in self.scopes

    def may_use(self, server_id: str | None) -> bool:
        """The default endpoint (None) reaches every tool: only an unrestricted principal may use it."""
        if self.servers is None:
            return True
        return server_id is not None and server_id in self.servers


# No authentication configured: everything is allowed (the gateway warns when it listens beyond loopback).
OPEN = Principal("open", "open", "no authentication", frozenset({ALL}))
STATIC = Principal("static", "static", "MCPGATE_API_KEY", frozenset({ALL}))


def anonymous_on(server_id: str) -> Principal:
    """A caller without a key on a public virtual server: its tools, nothing else."""
    return Principal("anonymous", "anonymous", "anonymous", frozenset({"tools:call"}), frozenset({server_id}))
