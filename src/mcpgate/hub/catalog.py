"""The merged tool catalog: every upstream's tools under stable, collision-free names.

A tool `search` of upstream `github` is exposed as `github_search` (prefix = the upstream
name, separator configurable); an upstream may choose another prefix or none at all.
Two tools that would get the same exposed name are never silently shadowed: building a
catalog reports every collision with both upstreams named, and the caller decides
whether that is fatal (start-up) or logged and reported (a later `list_changed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Route:
    """Where an exposed tool name leads."""

    upstream: str
    tool: str  # the upstream's own name for it


@dataclass(frozen=True, slots=True)
class Collision:
    name: str
    kept: Route
    dropped: Route

    def describe(self) -> str:
        return (
            f"tool name {self.name!r} is claimed by upstream {self.kept.upstream!r} (tool {self.kept.tool!r}) "
            f"and by upstream {self.dropped.upstream!r} (tool {self.dropped.tool!r}); "
            "give one of them another `prefix` or change the name separator"
        )


@dataclass(frozen=True, slots=True)
class UpstreamTools:
    """One upstream's contribution: its naming prefix and its tools as it lists them."""

    upstream: str
    prefix: str | None
    tools: tuple[Mapping[str, Any], ...]


class ToolCatalog:
    """An immutable snapshot; rebuilt (cheaply) whenever an upstream's tools change."""

    def __init__(self, tools: list[dict[str, Any]], routes: dict[str, Route], collisions: list[Collision]):
        self.tools = tools  # exposed definitions, in upstream order, ready to send
        self.routes = routes
        self.collisions = collisions

    @classmethod
    def build(cls, sources: Iterable[UpstreamTools], separator: str = "_") -> ToolCatalog:
        tools: list[dict[str, Any]] = []
        routes: dict[str, Route] = {}
        collisions: list[Collision] = []
        for source in sources:
            for definition in source.tools:
                original = definition["name"]
                exposed = f"{source.prefix}{separator}{original}" if source.prefix else original
                route = Route(source.upstream, original)
                if exposed in routes:
                    collisions.append(Collision(exposed, routes[exposed], route))
                    continue
                routes[exposed] = route
                tools.append({**definition, "name": exposed} if exposed != original else dict(definition))
        return cls(tools, routes, collisions)

    @classmethod
    def empty(cls) -> ToolCatalog:
        return cls([], {}, [])

    def route(self, name: str) -> Route | None:
        return self.routes.get(name)

    def describe_collisions(self) -> str:
        """One sentence per pair of upstreams that claim the same names."""
        by_pair: dict[tuple[str, str], list[str]] = {}
        for collision in self.collisions:
            by_pair.setdefault((collision.kept.upstream, collision.dropped.upstream), []).append(collision.name)
        return "; ".join(
            f"upstreams {first!r} and {second!r} both expose tool name{'s' if len(names) > 1 else ''} "
            f"{', '.join(repr(n) for n in names)} — give one of them another `prefix` or change the name separator"
            for (first, second), names in by_pair.items()
        )

    def __len__(self) -> int:
        return len(self.tools)
