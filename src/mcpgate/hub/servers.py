"""Virtual servers: named, separately addressable selections of the hub's tools.

A `VirtualServer` is a plain record (the store persists it, the config file declares
it, the management API edits it). What a client of one sees is its `View`: a catalog
holding only the selected tools plus the tools of its own external MCP servers, under
the same collision-free names as everywhere else.

    NORMAL  the selected tools (by their gateway names), plus the external servers' tools
    SMART   a few meta-tools (see `smart.py`) that search and call the same set; with no
            selection the set is every tool of the gateway

The default endpoint (`/mcp`, `/sse`) is the view of everything, with `server=None`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from mcpgate.hub.catalog import Catalog, UpstreamListing
from mcpgate.hub.smart import meta_tools
from mcpgate.settings import RemoteUpstream, VirtualServerSettings

Mode = Literal["SMART", "NORMAL"]
MODES: tuple[Mode, ...] = ("SMART", "NORMAL")
Source = Literal["api", "config"]

# Config-file servers get stable ids derived from their names, so URLs survive restarts.
_CONFIG_NAMESPACE = uuid.UUID("6f1d2b3c-8a4e-4f5a-9c0d-1e2f3a4b5c6d")


@dataclass(frozen=True, slots=True)
class ExternalMCP:
    """A remote MCP server proxied for one virtual server only."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    tools: tuple[str, ...] = ()  # its own tool names; empty = all it lists


@dataclass(frozen=True, slots=True)
class VirtualServer:
    id: str
    name: str
    description: str = ""
    mode: Mode = "SMART"
    selected_tools: tuple[str, ...] = ()
    external: tuple[ExternalMCP, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    is_public: bool = False
    source: Source = "api"
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_settings(cls, declared: VirtualServerSettings) -> VirtualServer:
        return cls(
            id=str(uuid.uuid5(_CONFIG_NAMESPACE, declared.name)),
            name=declared.name,
            description=declared.description,
            mode=declared.mode,
            selected_tools=tuple(declared.selected_tools),
            external=tuple(
                ExternalMCP(e.name, e.url, dict(e.headers), tuple(e.tools)) for e in declared.external_mcp_configs
            ),
            config=dict(declared.config),
            is_public=declared.is_public,
            source="config",
        )


def external_upstream_key(server_id: str, name: str) -> str:
    """The hub-internal name of an external server's connection; '/' keeps it apart from upstream names."""
    return f"{server_id}/{name}"


def external_spec(server_id: str, external: ExternalMCP) -> RemoteUpstream:
    """Connection settings for an external MCP server (its transport is detected when it connects)."""
    # model_construct: the hub-internal name holds a '/', which upstream names may not.
    return RemoteUpstream.model_construct(
        name=external_upstream_key(server_id, external.name),
        url=external.url,
        headers=dict(external.headers),
        prefix=external.name,
        enabled=True,
        timeout=None,
        kind="remote",
    )


@dataclass(frozen=True, slots=True)
class View:
    """What the clients of one virtual server can reach, as of the last catalog change."""

    server: VirtualServer
    catalog: Catalog  # the tools that may be called, under their gateway names
    missing: tuple[str, ...] = ()  # selected tools no upstream offers right now

    @property
    def smart(self) -> bool:
        return self.server.mode == "SMART"


def listed_tools(view: View) -> list[dict[str, Any]]:
    """What `tools/list` shows a client of the view."""
    return meta_tools() if view.smart else view.catalog.tools


def build_view(
    server: VirtualServer,
    listings: Sequence[UpstreamListing],
    external: Mapping[str, UpstreamListing],
    separator: str,
) -> View:
    """The catalog of `server`: its selection of the hub's `listings` plus its own external servers.

    Tools, and the resources of an upstream only where it names a tool that reads them
    (`resource_tool`, e.g. a collection's `<name>_get`) and that tool is selected: a virtual
    server is a curated tool set, and such resources reveal nothing the tool does not. Names
    are those of the default endpoint, so a tool is `github_search` everywhere; external
    servers' tools are prefixed with the external config's name.
    """
    everything = server.mode == "SMART" and not server.selected_tools
    wanted = set(server.selected_tools)
    chosen: list[UpstreamListing] = []
    found: set[str] = set()
    for listing in listings:
        tools = []
        for tool in listing.tools:
            exposed = f"{listing.prefix}{separator}{tool['name']}" if listing.prefix else tool["name"]
            if everything or exposed in wanted:
                tools.append(tool)
                found.add(exposed)
        if tools:
            reads = listing.resource_tool in {t["name"] for t in tools}
            chosen.append(
                UpstreamListing(
                    listing.upstream,
                    listing.prefix,
                    tools=tuple(tools),
                    resources=listing.resources if reads else (),
                    templates=listing.templates if reads else (),
                    serves_resources=reads,
                )
            )
    for config in server.external:
        listing = external.get(external_upstream_key(server.id, config.name))
        if listing is None:
            continue
        allowed = set(config.tools)
        tools = tuple(t for t in listing.tools if not allowed or t["name"] in allowed)
        chosen.append(UpstreamListing(listing.upstream, config.name, tools=tools))
    missing = tuple(name for name in server.selected_tools if name not in found)
    return View(server, Catalog(chosen, separator), missing)
