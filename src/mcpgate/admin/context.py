"""What the management API's handlers work on: the running hub, the registry, the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcpgate.access.audit import AuditTrail
from mcpgate.access.authentication import Authenticator
from mcpgate.access.users import UserDirectory
from mcpgate.admin.preview import ToolPreview
from mcpgate.hub.gateway import Hub
from mcpgate.settings import GatewaySettings
from mcpgate.store.registry import Registry

if TYPE_CHECKING:
    from mcpgate.oauth import OAuth  # loaded only when OAuth is on


@dataclass
class Admin:
    hub: Hub
    registry: Registry
    settings: GatewaySettings
    auth: Authenticator
    users: UserDirectory
    audit: AuditTrail
    oauth: OAuth | None = None  # OAuth on: the built-in server's clients and grants (admin/oauth.py)
    preview: ToolPreview = field(init=False)

    def __post_init__(self) -> None:
        self.preview = ToolPreview(timeout=min(15.0, self.settings.timeouts.connect))

    def declared_upstream(self, name: str) -> bool:
        """Whether the upstream comes from the config file (and so is read-only here)."""
        return any(spec.name == name for spec in self.settings.upstreams)

    def declared_server(self, name: str) -> bool:
        return any(server.name == name for server in self.settings.servers)
