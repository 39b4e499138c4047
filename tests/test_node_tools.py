"""A test that needs the Node tools skips without them, with the reason — but under CI=true it
fails (an error in its setup), so a CI run cannot pass with the conformance and Inspector tests
skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NEEDS_NODE = [
    "tests/inspector/test_inspector_cli.py::test_inspector_cli_unreachable",
    "tests/conformance/test_conformance.py::test_every_scenario_passes_directly_and_through_the_gateway",
]


def run_without_tools(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest on the node tests, with the tools looked for in an empty directory."""
    environment = {name: value for name, value in os.environ.items() if name != "CI"}
    environment.update(MCPGATE_TOOLS_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider", *NEEDS_NODE],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_under_ci_a_test_that_needs_the_node_tools_fails_without_them(tmp_path: Path) -> None:
    run = run_without_tools(tmp_path, CI="true")
    assert run.returncode == 1, run.stdout  # each errs in its setup: the run fails
    assert "2 errors in" in run.stdout and "skipped" not in run.stdout
    assert f"CI=true and this test needs the Node tools: Node 22 not installed at {tmp_path}" in run.stdout


def test_elsewhere_it_is_skipped_with_the_reason(tmp_path: Path) -> None:
    run = run_without_tools(tmp_path)
    assert run.returncode == 0, run.stdout
    assert "2 skipped" in run.stdout
    assert f"Node 22 not installed at {tmp_path}" in run.stdout and "scripts/install-node-tools.sh" in run.stdout


def test_incomplete_tools_count_as_missing(tmp_path: Path) -> None:
    node = tmp_path / "node" / "node_modules" / ".bin" / "node"
    entry = tmp_path / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    for path in (node, entry):  # what the tests look for first, without the rest of an install
        path.parent.mkdir(parents=True)
        path.write_text("")
    run = run_without_tools(tmp_path, CI="true")
    assert run.returncode == 1, run.stdout
    assert "the Node tools are incomplete or out of date: not installed or out of date" in run.stdout
