"""The merged catalog: every upstream's tools, prompts, resources and resource templates,
under names and URIs that cannot collide.

Names. A tool or prompt `search` of upstream `github` is exposed as `github_search`
(prefix = the upstream name, separator configurable); an upstream may choose another
prefix or none at all.

URIs. A resource URI of a prefixed upstream is exposed as `<prefix>+<uri>`
(`github+repo://x/README.md`): still a URI (a `+` is legal in a scheme), still readable,
and reversible without a table. An unprefixed upstream's URIs are exposed unchanged.
A URI given without the prefix is still routed when it can only mean one upstream —
listed by exactly one, or matching the templates of exactly one, or there is only one
upstream with resources at all — because tools hand out raw URIs in resource links.

Two entries that would be exposed under the same name or URI are never silently
shadowed: building a catalog reports every collision with both upstreams named, and the
caller decides whether that is fatal (start-up) or logged and reported (a later change).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mcpgate.protocol.uri_templates import InvalidUriTemplate, UriTemplate

Kind = Literal["tool", "prompt", "resource", "resource template"]
URI_MARK = "+"
_LABEL: dict[str, str] = {"tool": "tool name", "prompt": "prompt name", "resource": "resource URI"}


@dataclass(frozen=True, slots=True)
class Route:
    """Where an exposed name or URI leads."""

    upstream: str
    name: str  # the upstream's own name (tools, prompts) or URI (resources, templates)


@dataclass(frozen=True, slots=True)
class Collision:
    kind: Kind
    name: str
    kept: Route
    dropped: Route

    def describe(self) -> str:
        return (
            f"{self.kind} {self.name!r} is claimed by upstream {self.kept.upstream!r} ({self.kept.name!r}) "
            f"and by upstream {self.dropped.upstream!r} ({self.dropped.name!r}); "
            "give one of them another `prefix` or change the name separator"
        )


@dataclass(frozen=True, slots=True)
class UpstreamListing:
    """One upstream's contribution: its naming prefix and its lists as it serves them."""

    upstream: str
    prefix: str | None
    tools: tuple[Mapping[str, Any], ...] = ()
    prompts: tuple[Mapping[str, Any], ...] = ()
    resources: tuple[Mapping[str, Any], ...] = ()
    templates: tuple[Mapping[str, Any], ...] = ()
    serves_resources: bool = False
    # The tool (its own name) that reads what the resources hold; a virtual server that selects it
    # shows the resources as well (they reveal nothing the tool does not). None: resources stay
    # at the default endpoint, as a virtual server is a curated tool set.
    resource_tool: str | None = None


@dataclass
class _Section:
    """One merged list: exposed entries in upstream order, and the route of each."""

    kind: Kind
    key: str  # the field that names an entry: "name", "uri" or "uriTemplate"
    entries: list[dict[str, Any]] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, exposed: str, definition: Mapping[str, Any], route: Route, collisions: list[Collision]) -> None:
        if exposed in self.routes:
            collisions.append(Collision(self.kind, exposed, self.routes[exposed], route))
            return
        self.routes[exposed] = route
        entry = {**definition, self.key: exposed} if exposed != route.name else dict(definition)
        self.entries.append(entry)
        self.definitions[exposed] = entry


class Catalog:
    """An immutable snapshot; rebuilt (cheaply) whenever an upstream's lists change."""

    def __init__(self, listings: Iterable[UpstreamListing] = (), separator: str = "_") -> None:
        self.collisions: list[Collision] = []
        self._tools = _Section("tool", "name")
        self._prompts = _Section("prompt", "name")
        self._resources = _Section("resource", "uri")
        self._templates = _Section("resource template", "uriTemplate")
        self._uri_prefixes: list[tuple[str, str]] = []  # (marker, upstream), longest marker first
        self._raw_uris: dict[str, set[str]] = {}  # an upstream's own URI → the upstreams listing it
        self._matchers: list[tuple[UriTemplate, str]] = []
        self._resource_upstreams: list[str] = []
        for listing in listings:
            self._add(listing, separator)
        self._uri_prefixes.sort(key=lambda pair: -len(pair[0]))

    def _add(self, listing: UpstreamListing, separator: str) -> None:
        prefix, upstream = listing.prefix, listing.upstream
        for section, entries in ((self._tools, listing.tools), (self._prompts, listing.prompts)):
            for definition in entries:
                original = definition["name"]
                exposed = f"{prefix}{separator}{original}" if prefix else original
                section.add(exposed, definition, Route(upstream, original), self.collisions)
        if listing.serves_resources or listing.resources or listing.templates:
            self._resource_upstreams.append(upstream)
        marker = f"{prefix}{URI_MARK}" if prefix else ""
        if marker:
            self._uri_prefixes.append((marker, upstream))
        for resource in listing.resources:
            uri = resource["uri"]
            self._raw_uris.setdefault(uri, set()).add(upstream)
            self._resources.add(marker + uri, resource, Route(upstream, uri), self.collisions)
        for template in listing.templates:
            pattern = template["uriTemplate"]
            self._templates.add(marker + pattern, template, Route(upstream, pattern), self.collisions)
            try:
                self._matchers.append((UriTemplate.parse(pattern), upstream))
            except InvalidUriTemplate:
                pass  # still listed; reads of it are routed by prefix only

    # -- the lists, as sent to clients --------------------------------------------------

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self._tools.entries

    @property
    def prompts(self) -> list[dict[str, Any]]:
        return self._prompts.entries

    @property
    def resources(self) -> list[dict[str, Any]]:
        return self._resources.entries

    @property
    def templates(self) -> list[dict[str, Any]]:
        return self._templates.entries

    def __len__(self) -> int:
        return len(self._tools.entries)

    def upstreams(self) -> set[str]:
        """The upstreams with anything in this catalog."""
        sections = (self._tools, self._prompts, self._resources, self._templates)
        return {route.upstream for section in sections for route in section.routes.values()}

    # -- routing --------------------------------------------------------------------

    def tool(self, name: str) -> Route | None:
        return self._tools.routes.get(name)

    def tool_definition(self, name: str) -> dict[str, Any] | None:
        """The tool as listed to clients (exposed name), or None."""
        return self._tools.definitions.get(name)

    def prompt(self, name: str) -> Route | None:
        return self._prompts.routes.get(name)

    def resource(self, uri: str) -> Route | None:
        """The upstream and its own URI for an exposed URI (or a raw one that can only mean one upstream)."""
        route = self._resources.routes.get(uri) or self._templates.routes.get(uri)
        if route is not None:
            return route
        for marker, upstream in self._uri_prefixes:
            if uri.startswith(marker):
                return Route(upstream, uri[len(marker) :])
        listed = self._raw_uris.get(uri, ())
        if len(listed) == 1:
            return Route(next(iter(listed)), uri)
        matching = {upstream for matcher, upstream in self._matchers if matcher.match(uri) is not None}
        if len(matching) == 1:
            return Route(matching.pop(), uri)
        if not listed and not matching and len(self._resource_upstreams) == 1:
            return Route(self._resource_upstreams[0], uri)
        return None

    def expose_uri(self, upstream: str, uri: str) -> str:
        for marker, owner in self._uri_prefixes:
            if owner == upstream:
                return marker + uri
        return uri

    def describe_collisions(self) -> str:
        return Catalog.describe(self.collisions)

    @staticmethod
    def describe(collisions: Iterable[Collision]) -> str:
        """One sentence per pair of upstreams that claim the same names."""
        by_pair: dict[tuple[str, str, str], list[str]] = {}
        for collision in collisions:
            key = (collision.kind, collision.kept.upstream, collision.dropped.upstream)
            by_pair.setdefault(key, []).append(collision.name)
        return "; ".join(
            f"upstreams {first!r} and {second!r} both expose {_LABEL.get(kind, kind)}{'s' if len(names) > 1 else ''} "
            f"{', '.join(repr(n) for n in names)} — give one of them another `prefix` or change the name separator"
            for (kind, first, second), names in by_pair.items()
        )
