"""What a test that needs the Node tools (scripts/install-node-tools.sh) does without them.

It is marked `node` and calls `require_node_tools()` before anything else (an autouse fixture of
its module). Without the tools — missing, incomplete, or installed from older lock files — it is
skipped with the reason, except under `CI=true`: there it fails, because a CI run that skipped
the conformance and Inspector tests would pass having checked none of it.

    pytestmark = pytest.mark.node

    @pytest.fixture(autouse=True)
    def _node_tools() -> None:
        require_node_tools()
"""

from __future__ import annotations

import os

import pytest

from tests.conformance.runner import missing_node_tools


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_node_tools() -> None:
    problem = missing_node_tools()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true and this test needs the Node tools: {problem}", pytrace=False)
    pytest.skip(problem)
