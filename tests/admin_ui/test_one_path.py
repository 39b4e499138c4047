"""The web UI has one path to the registry, the management API: no module of admin_ui/ imports the
registry, the hub's state or any store but its own sessions' table. A page that reached around the
API would escape the scopes, server limits, rate limits and audit that the API applies."""

from __future__ import annotations

import ast
from pathlib import Path

import mcpgate.admin_ui

UI = Path(mcpgate.admin_ui.__file__).parent

# What the UI may import from the rest of mcpgate: names and types, its own sessions' table, the
# principal it signs in, and no registry, hub, upstream or other store.
ALLOWED = {
    "mcpgate",  # __version__
    "mcpgate.access.authentication",  # sign-in checks a key as every request's is checked
    "mcpgate.access.principal",
    "mcpgate.edge.http",  # the in-process caller's marker
    "mcpgate.edge.metrics",  # RecentCalls, this replica's call counts
    "mcpgate.errors",
    "mcpgate.hub.profiles",  # FULL: the capabilities a schema read declares
    "mcpgate.protocol.spec",  # protocol constants
    "mcpgate.store.admin_sessions",  # the UI's own sessions
    "mcpgate.store.crypto",  # MASK: how the API shows a secret
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "mcpgate" or name.startswith("mcpgate.")}


def test_the_ui_reaches_the_registry_only_through_the_management_api() -> None:
    modules = sorted(UI.rglob("*.py"))
    assert len(modules) > 10
    outside = {
        f"{path.relative_to(UI)}: {name}"
        for path in modules
        for name in imported(path)
        if not name.startswith("mcpgate.admin_ui") and name not in ALLOWED
    }
    assert not outside, outside
