"""Run the MCP conformance suite's SERVER scenarios against a URL and parse the results.

The suite is the npm package ``@modelcontextprotocol/conformance`` installed by
``scripts/install-node-tools.sh`` into ``<repo>/.tools`` (stable 0.1.x), plus the
newest pre-release under the npm alias ``conformance-next`` (pass ``prerelease=True``).
Both always run with the npm-installed Node 22 (the machine's Node 20 crashes the
suite).

Each scenario runs as its own ``conformance server --url URL --scenario NAME
--output-dir DIR`` process, bounded by a timeout; the verdict is read from the
``DIR/server-NAME-<timestamp>/checks.json`` the CLI writes (a JSON array of checks,
each with ``id``, ``name``, ``description``, ``status`` = SUCCESS | FAILURE |
WARNING | INFO [| SKIPPED in 0.2.x], ``errorMessage``, ``details``). As in the CLI,
a scenario passes when it produced at least one check and none is FAILURE;
WARNINGs are reported in the reason but do not fail it (pass ``strict=True`` to
make them fail, which is what the CLI's --expected-failures baseline mode does).

Usage from Python::

    from runner import run_server_scenarios, list_server_scenarios, format_table
    results = run_server_scenarios("http://127.0.0.1:8765/mcp")
    print(format_table(results))

Usage from the shell::

    python tests/conformance/runner.py --url http://127.0.0.1:8765/mcp [--scenario ping ...]
        [--spec-version 2025-11-25] [--next] [--strict] [--json]
    python tests/conformance/runner.py --list [--spec-version 2025-06-18] [--next]
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-node-tools.sh"

DEFAULT_SCENARIO_TIMEOUT = 90.0
"""Seconds one scenario process may take (the suite's own per-scenario limit is 30 s in 0.2.x)."""

# Scenarios the stable CLI excludes from its default "active" suite (see SCENARIOS.md).
STABLE_PENDING_SCENARIOS = frozenset({"json-schema-2020-12", "server-sse-polling"})


def tools_dir() -> Path:
    """Where scripts/install-node-tools.sh installed the tools (env MCPGATE_TOOLS_DIR overrides)."""
    return Path(os.environ.get("MCPGATE_TOOLS_DIR") or REPO_ROOT / ".tools")


def node_bin_dir() -> Path:
    return tools_dir() / "node" / "node_modules" / ".bin"


def node_executable() -> Path:
    return node_bin_dir() / "node"


def conformance_entry(prerelease: bool = False) -> Path:
    pkg = "conformance-next" if prerelease else "@modelcontextprotocol/conformance"
    return tools_dir() / "node_modules" / pkg / "dist" / "index.js"


def node_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment with Node 22 first on PATH (so anything the tool spawns gets Node 22 as well)."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(node_bin_dir()), env.get("PATH", "")])
    env.setdefault("NO_COLOR", "1")
    env.setdefault("FORCE_COLOR", "0")
    return env


def missing_node_tools(prerelease: bool = False) -> str | None:
    """None when the node tools are usable, else a human-readable reason (for pytest.skip).

    Usable means what ``install-node-tools.sh --check`` means — everything it installs is there,
    from the lock files committed now — not merely that this suite's entry point exists.
    """
    node = node_executable()
    if not node.exists():
        return f"Node 22 not installed at {node}; run {INSTALL_SCRIPT.relative_to(REPO_ROOT)}"
    entry = conformance_entry(prerelease)
    if not entry.exists():
        return f"conformance suite not installed at {entry}; run {INSTALL_SCRIPT.relative_to(REPO_ROOT)}"
    return _install_check()


@functools.cache
def _install_check() -> str | None:
    check = subprocess.run(
        [str(INSTALL_SCRIPT), "--check"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    if check.returncode == 0:
        return None
    return f"the Node tools are incomplete or out of date: {(check.stdout + check.stderr).strip()}"


def _node_cmd(args: Sequence[str], prerelease: bool = False) -> list[str]:
    return [str(node_executable()), str(conformance_entry(prerelease)), *args]


def _run(args: Sequence[str], *, timeout: float, prerelease: bool = False, cwd: str | None = None):
    return subprocess.run(
        _node_cmd(args, prerelease),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=node_env(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


_LIST_LINE = re.compile(r"^\s+-\s+(?P<name>\S+)(?:\s+\[(?P<versions>[^\]]*)\])?\s*$")


def server_scenario_versions(
    spec_version: str | None = None, *, prerelease: bool = False, timeout: float = 60.0
) -> dict[str, list[str]]:
    """Server scenario name -> spec versions it applies to, in the suite's order (``conformance list --server``)."""
    args = ["list", "--server"]
    if spec_version:
        args += ["--spec-version", spec_version]
    proc = _run(args, timeout=timeout, prerelease=prerelease)
    if proc.returncode != 0:
        raise RuntimeError(f"conformance list failed (rc={proc.returncode}): {proc.stderr.strip() or proc.stdout}")
    scenarios: dict[str, list[str]] = {}
    in_server = False
    for line in proc.stdout.splitlines():
        if line.startswith("Server scenarios"):
            in_server = True
            continue
        if line and not line.startswith(" "):
            in_server = False
        m = _LIST_LINE.match(line) if in_server else None
        if m:
            versions = m.group("versions")
            scenarios[m.group("name")] = [v.strip() for v in versions.split(",")] if versions else []
    return scenarios


def list_server_scenarios(
    spec_version: str | None = None, *, prerelease: bool = False, include_pending: bool = True, timeout: float = 60.0
) -> list[str]:
    """Names of the suite's server scenarios (optionally only those applicable at ``spec_version``).

    ``include_pending=False`` drops the scenarios the stable CLI leaves out of its
    default "active" suite (json-schema-2020-12, server-sse-polling).
    """
    names = list(server_scenario_versions(spec_version, prerelease=prerelease, timeout=timeout))
    if not include_pending:
        names = [n for n in names if n not in STABLE_PENDING_SCENARIOS]
    return names


@dataclass
class ScenarioResult:
    scenario: str
    passed: bool
    reason: str
    status: str = ""  # "passed" | "failed" | "skipped" | "timeout" | "error"
    checks: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # check status -> number of checks
    exit_code: int | None = None
    output: str = ""  # tail of the CLI's stdout/stderr, for diagnosis

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c.get("status") == "FAILURE"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c.get("status") == "WARNING"]


def _tail(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _describe(check: dict[str, Any]) -> str:
    message = check.get("errorMessage") or check.get("description") or ""
    return f"{check.get('id', '?')}: {message}"


def _load_checks(out_dir: Path, scenario: str) -> list[dict[str, Any]] | None:
    # The CLI writes <out_dir>/server-<scenario>-<ISO timestamp with : and . replaced by ->/checks.json
    found = sorted(out_dir.glob("*/checks.json"))
    if not found:
        return None
    prefix = f"server-{scenario}-"
    preferred = [p for p in found if p.parent.name.startswith(prefix)] or found
    data = json.loads(preferred[-1].read_text())
    return data if isinstance(data, list) else None


def run_server_scenario(
    url: str,
    scenario: str,
    spec_version: str | None = None,
    *,
    prerelease: bool = False,
    timeout: float = DEFAULT_SCENARIO_TIMEOUT,
    strict: bool = False,
) -> ScenarioResult:
    """Run one server scenario against ``url`` (a Streamable HTTP MCP endpoint) and parse its checks.

    ``spec_version`` is passed as ``--spec-version``. The stable 0.1.x CLI only uses it to
    filter suite runs, so for a single scenario it is ignored there; 0.2.x (``prerelease=True``)
    also runs the scenario at that wire version and reports not-applicable scenarios as
    skipped.
    """
    with tempfile.TemporaryDirectory(prefix="mcpgate-conformance-") as tmp:
        out_dir = Path(tmp)
        args = ["server", "--url", url, "--scenario", scenario, "--output-dir", str(out_dir)]
        if spec_version and prerelease:
            args += ["--spec-version", spec_version]
        try:
            proc = _run(args, timeout=timeout, prerelease=prerelease, cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"") + (exc.stderr or b"")
            text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
            return ScenarioResult(
                scenario, False, f"timed out after {timeout:.0f}s", status="timeout", output=_tail(text)
            )
        output = _tail(proc.stdout + ("\n" + proc.stderr if proc.stderr else ""))
        if "SKIPPED: scenario" in proc.stdout:
            line = proc.stdout.split("SKIPPED: ", 1)[1].splitlines()[0]
            return ScenarioResult(
                scenario, False, f"skipped: {line}", status="skipped", exit_code=proc.returncode, output=output
            )
        try:
            checks = _load_checks(out_dir, scenario)
        except (OSError, ValueError) as exc:
            checks = None
            output += f"\n(could not read checks.json: {exc})"

    if checks is None:
        first_err = next_nonempty(proc.stderr) or next_nonempty(proc.stdout) or "no output"
        return ScenarioResult(
            scenario,
            False,
            f"no results written (exit {proc.returncode}): {first_err}",
            status="error",
            exit_code=proc.returncode,
            output=output,
        )

    counts: dict[str, int] = {}
    for c in checks:
        counts[c.get("status", "?")] = counts.get(c.get("status", "?"), 0) + 1
    failures = [c for c in checks if c.get("status") == "FAILURE"]
    warnings = [c for c in checks if c.get("status") == "WARNING"]
    scored = [c for c in checks if c.get("status") in ("SUCCESS", "FAILURE", "WARNING")]

    if failures:
        passed, reason = False, "; ".join(_describe(c) for c in failures)
    elif strict and warnings:
        passed, reason = False, "warnings (strict): " + "; ".join(_describe(c) for c in warnings)
    elif not checks:
        passed, reason = False, "scenario produced no checks"
    else:
        passed = True
        ok = counts.get("SUCCESS", 0)
        reason = f"{ok}/{len(scored) or len(checks)} checks passed"
        if not scored:
            reason = f"{len(checks)} informational checks, none scored"
        if warnings:
            reason += "; warnings: " + "; ".join(_describe(c) for c in warnings)
    return ScenarioResult(
        scenario,
        passed,
        reason,
        status="passed" if passed else "failed",
        checks=checks,
        counts=counts,
        exit_code=proc.returncode,
        output=output,
    )


def next_nonempty(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def run_server_scenarios(
    url: str,
    scenarios: Iterable[str] | None = None,
    spec_version: str | None = None,
    *,
    prerelease: bool = False,
    timeout: float = DEFAULT_SCENARIO_TIMEOUT,
    max_workers: int = 4,
    strict: bool = False,
) -> dict[str, ScenarioResult]:
    """Run server scenarios against ``url``; returns scenario -> ScenarioResult in suite order.

    ``scenarios=None`` runs every server scenario the suite lists (all of them, pending
    included), filtered to ``spec_version`` when given. Scenarios run as separate
    processes, ``max_workers`` at a time, each bounded by ``timeout`` seconds.
    """
    names = list(scenarios) if scenarios is not None else list_server_scenarios(spec_version, prerelease=prerelease)
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        futures = {
            name: pool.submit(
                run_server_scenario, url, name, spec_version, prerelease=prerelease, timeout=timeout, strict=strict
            )
            for name in names
        }
        return {name: fut.result() for name, fut in futures.items()}


def format_table(results: dict[str, ScenarioResult], *, width: int = 110) -> str:
    """A plain-text scenario -> PASS/FAIL table with a one-line reason each."""
    if not results:
        return "(no scenarios)"
    name_w = max(len("scenario"), *(len(n) for n in results))
    lines = [f"{'scenario':<{name_w}}  result   reason", f"{'-' * name_w}  -------  {'-' * 40}"]
    for name, r in results.items():
        verdict = "PASS" if r.passed else r.status.upper() if r.status in ("skipped", "timeout", "error") else "FAIL"
        reason = r.reason.replace("\n", " ")
        room = max(20, width - name_w - 11)
        if len(reason) > room:
            reason = reason[: room - 1] + "…"
        lines.append(f"{name:<{name_w}}  {verdict:<7}  {reason}")
    passed = sum(r.passed for r in results.values())
    lines.append(f"{passed}/{len(results)} scenarios passed")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Run MCP conformance server scenarios (Node 22, pinned suite).")
    parser.add_argument("--url", help="Streamable HTTP MCP endpoint, e.g. http://127.0.0.1:8765/mcp")
    parser.add_argument("--scenario", action="append", help="scenario to run (repeatable; default: all)")
    parser.add_argument("--spec-version", help="e.g. 2025-06-18, 2025-11-25 (2026-07-28 with --next)")
    parser.add_argument("--next", action="store_true", help="use the pre-release suite (conformance-next)")
    parser.add_argument("--list", action="store_true", help="list server scenarios and exit")
    parser.add_argument("--strict", action="store_true", help="treat WARNING checks as failures")
    parser.add_argument("--timeout", type=float, default=DEFAULT_SCENARIO_TIMEOUT, help="seconds per scenario")
    parser.add_argument("--jobs", type=int, default=4, help="scenarios run concurrently")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)

    reason = missing_node_tools(args.next)
    if reason:
        parser.error(reason)
    if args.list:
        for name, versions in server_scenario_versions(args.spec_version, prerelease=args.next).items():
            print(f"{name}\t{','.join(versions)}")
        return 0
    if not args.url:
        parser.error("--url is required (or use --list)")
    results = run_server_scenarios(
        args.url,
        args.scenario,
        args.spec_version,
        prerelease=args.next,
        timeout=args.timeout,
        max_workers=args.jobs,
        strict=args.strict,
    )
    if args.json:
        print(
            json.dumps(
                {
                    n: {"passed": r.passed, "status": r.status, "reason": r.reason, "counts": r.counts}
                    for n, r in results.items()
                },
                indent=2,
            )
        )
    else:
        print(format_table(results))
    return 0 if all(r.passed for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(_main())
