"""The official conformance suite's client auth scenarios, with mcpgate as the OAuth client.

In a client scenario the suite starts a protected MCP server and its authorization server, and
runs a command — the client under test — with the server's URL (`conformance client --command …
--scenario auth/…`); its checks are what that server saw the client do. The command here is
`auth_client.py`: a gateway in-process with the suite's server as a remote upstream, connected
through the gateway's own API and callback as an operator and a browser would, then a tool called
through it. A scenario passes as the suite's CLI says (exit 0): no FAILURE and no WARNING check,
and the client succeeded (unless the scenario allows it to fail).

Scenarios that need what mcpgate does not do yet are strict xfails, each with the reason (the fix
proposed for each is in SCENARIOS.md, "Client auth scenarios"); scenarios that cannot apply are
skipped, with the reason. Every `auth/` client scenario the suite lists must be in one of the three
lists. The scenarios run in parallel, once per session, for the tests selected. Needs the Node
tools (tests/node_tools.py).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .runner import REPO_ROOT, ScenarioResult, conformance_entry, format_table, node_env, node_executable

pytestmark = pytest.mark.node

COMMAND = f"{shlex.quote(sys.executable)} -m tests.conformance.auth_client"  # run from REPO_ROOT
CLIENT_TIMEOUT = 150.0  # seconds the suite gives the command (its own waits are 60 s each)
PARALLEL = 4

PASSING = [
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/scope-omitted-when-undefined",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/offline-access-scope",  # draft
    "auth/offline-access-not-supported",  # draft
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/2025-03-26-oauth-endpoint-fallback",
    "auth/resource-mismatch",  # draft
]

# Real gaps of mcpgate's OAuth client (src/mcpgate/accounts/, upstream/): expected to fail, strictly.
GAPS = {
    "auth/basic-cimd": (
        "mcpgate has no client ID metadata document of its own (no setting for its URL), so it registers "
        "dynamically even where the authorization server advertises client_id_metadata_document_supported "
        "(WARNING cimd-client-id-used)"
    ),
}

NOT_APPLICABLE = {
    "auth/pre-registration": (
        "needs a client id and secret registered beforehand (the suite passes them in MCP_CONFORMANCE_CONTEXT) "
        "for an authorization server without registration; mcpgate has no setting for pre-registered client "
        "credentials at an upstream (a feature gap)"
    ),
    "auth/client-credentials-jwt": (
        "extension SEP-1046: the client_credentials grant with a private_key_jwt the client is configured with; "
        "mcpgate's accounts use the authorization code grant, with a person in a browser"
    ),
    "auth/client-credentials-basic": (
        "extension SEP-1046: the client_credentials grant with a configured client secret; mcpgate's accounts "
        "use the authorization code grant, with a person in a browser"
    ),
    "auth/cross-app-access-complete-flow": (
        "extension SEP-990 (enterprise-managed authorization): token exchange at an enterprise IdP, then a JWT "
        "bearer grant; mcpgate has no IdP integration for upstream accounts"
    ),
}

SCENARIOS = [
    *PASSING,
    *(pytest.param(name, marks=pytest.mark.xfail(reason=why, strict=True)) for name, why in GAPS.items()),
    *(pytest.param(name, marks=pytest.mark.skip(reason=why)) for name, why in NOT_APPLICABLE.items()),
]


def run_client_scenario(scenario: str) -> ScenarioResult:
    """`conformance client --command COMMAND --scenario <scenario>` and its verdict (the CLI's exit
    code), with the reason: the FAILURE and WARNING checks, and what the client said if it failed."""
    with tempfile.TemporaryDirectory(prefix="mcpgate-auth-conformance-") as tmp:
        args = ["client", "--command", COMMAND, "--scenario", scenario, "--output-dir", tmp]
        args += ["--timeout", str(int(CLIENT_TIMEOUT * 1000))]
        try:
            proc = subprocess.run(
                [str(node_executable()), str(conformance_entry()), *args],
                capture_output=True,
                text=True,
                timeout=CLIENT_TIMEOUT + 60,
                env=node_env(),
                cwd=REPO_ROOT,  # the client is `python -m tests.conformance.auth_client`
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return ScenarioResult(scenario, False, f"timed out after {CLIENT_TIMEOUT + 60:.0f}s", status="timeout")
        found = sorted(Path(tmp).glob("**/checks.json"))
        checks: list[dict[str, Any]] = json.loads(found[-1].read_text()) if found else []
        client_log = (found[-1].parent / "stderr.txt").read_text() if found else ""
    said = re.findall(r"^auth_client: FAILED: (.*)$", client_log, re.MULTILINE)
    counts: dict[str, int] = {}
    for check in checks:
        counts[check["status"]] = counts.get(check["status"], 0) + 1
    problems = [
        f"{c['status']} {c['id']}: {c.get('errorMessage') or c['description']}"
        for c in checks
        if c["status"] in ("FAILURE", "WARNING")
    ]
    passed = proc.returncode == 0 and bool(checks)
    if passed:
        reason = f"{counts.get('SUCCESS', 0)} checks passed"
        if said:
            reason += f" (the client failed, which this scenario allows: {said[0]})"
    else:
        timed_out = "CLIENT TIMED OUT" in proc.stderr
        reason = "; ".join(problems + [f"client: {s}" for s in said] + (["the client timed out"] if timed_out else []))
        reason = reason or f"exit {proc.returncode}: {proc.stderr.strip()[-500:] or 'no checks written'}"
    return ScenarioResult(
        scenario,
        passed,
        reason,
        status="passed" if passed else "failed",
        checks=checks,
        counts=counts,
        exit_code=proc.returncode,
        output=(proc.stdout + proc.stderr)[-4000:],
    )


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> dict[str, ScenarioResult]:
    """Every scenario selected in this session (not skipped), run in parallel; the table printed."""
    selected = [
        item.callspec.params["scenario"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and hasattr(item, "callspec")
        and item.get_closest_marker("skip") is None
    ]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        found = dict(zip(selected, pool.map(run_client_scenario, selected), strict=True))
    print("\n" + format_table(found, width=200))
    return found


@pytest.mark.timeout(900)  # the first one's setup runs them all
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_mcpgate_as_the_oauth_client_passes(scenario: str, results: dict[str, ScenarioResult]) -> None:
    result = results[scenario]
    print(f"{scenario}: {result.reason}")
    assert result.passed, f"{scenario}: {result.reason}\n{result.output}"


def test_every_auth_scenario_of_the_suite_is_accounted_for() -> None:
    listed = subprocess.run(
        [str(node_executable()), str(conformance_entry()), "list", "--client"],
        capture_output=True,
        text=True,
        timeout=60,
        env=node_env(),
        stdin=subprocess.DEVNULL,
        check=True,
    ).stdout
    suite = set(re.findall(r"^\s+-\s+(auth/\S+)", listed, re.MULTILINE))
    ours = {*PASSING, *GAPS, *NOT_APPLICABLE}
    assert suite == ours, f"new in the suite: {sorted(suite - ours)}; gone from it: {sorted(ours - suite)}"
