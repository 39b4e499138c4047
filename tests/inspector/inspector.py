"""Run the MCP Inspector CLI (``@modelcontextprotocol/inspector`` 2.x, ``--cli`` mode) with Node 22 and parse its JSON.

Installed by scripts/install-node-tools.sh into <repo>/.tools; see NOTES.md next to this file
for the command lines, output format and exit codes.

    from tests.inspector.inspector import inspector_cli   # or a relative import inside tests/

    tools = inspector_cli([url, "--method", "tools/list"])["result"]["tools"]
    out = inspector_cli([url, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "text=hi"])
    out["result"]["content"][0]["text"]

``--cli`` and ``--format json`` are added when missing. The CLI prints one JSON object on
stdout (``{"result": ...}``) and, on failure, one ``{"error": {"code", "message", ...}}``
object on stderr with a non-zero exit code (1 usage/other, 3 auth required, 4 unreachable,
5 tool error incl. ``isError: true`` results and unknown tools). By default a non-zero exit
raises ``InspectorCLIError`` (which still carries the stdout ``result`` when there was one);
with ``check=False`` the dict is returned with ``"error"`` and ``"exit_code"`` keys added.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = "scripts/install-node-tools.sh"


def tools_dir() -> Path:
    return Path(os.environ.get("MCPGATE_TOOLS_DIR") or REPO_ROOT / ".tools")


def node_executable() -> Path:
    return tools_dir() / "node" / "node_modules" / ".bin" / "node"


def inspector_entry() -> Path:
    """The package's ``mcp-inspector`` bin (the launcher; ``--cli`` dispatches to the CLI client)."""
    return (
        tools_dir()
        / "node_modules"
        / "@modelcontextprotocol"
        / "inspector"
        / "clients"
        / "launcher"
        / "build"
        / "index.js"
    )


def missing_inspector() -> str | None:
    """None when the Inspector CLI is usable, else why not (for pytest.skip)."""
    for path, what in ((node_executable(), "Node 22"), (inspector_entry(), "MCP Inspector")):
        if not path.exists():
            return f"{what} not installed at {path}; run {INSTALL_SCRIPT}"
    return None


class InspectorCLIError(RuntimeError):
    def __init__(self, args: Sequence[str], exit_code: int, error: dict[str, Any] | None, result: Any, stderr: str):
        self.args_used = list(args)
        self.exit_code = exit_code
        self.error = error or {}  # the stderr envelope: {"code": ..., "message": ..., ["cause", "status", "url"]}
        self.result = result  # stdout "result" if any (e.g. the CallToolResult of an isError tool)
        self.stderr = stderr
        code = self.error.get("code", "?")
        message = self.error.get("message") or stderr.strip()[-500:]
        super().__init__(f"inspector CLI exited {exit_code} ({code}): {message}")


def _last_json_object(text: str) -> dict[str, Any] | None:
    """The last line of ``text`` that parses as a JSON object (the CLI prints exactly one per stream)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    try:  # pretty-printed (multi-line) JSON
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def inspector_cli(
    args: list[str],
    timeout: float = 60,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run ``mcp-inspector --cli <args> --format json`` with Node 22; returns the parsed stdout object.

    ``args`` are the CLI arguments after ``--cli``, e.g. ``[url, "--method", "tools/list"]`` or
    ``["--transport", "sse", "--server-url", url, "--method", "tools/call", "--tool-name", "x"]``.
    For a stdio server put the command last after ``--``:
    ``["--method", "tools/list", "--", sys.executable, "server.py", "--stdio"]``.
    The process is killed after ``timeout`` seconds (``subprocess.TimeoutExpired`` propagates).
    """
    reason = missing_inspector()
    if reason:
        raise FileNotFoundError(reason)
    argv = list(args)
    if "--" in argv:  # keep our flags before a stdio server command
        split = argv.index("--")
        head, tail = argv[:split], argv[split:]
    else:
        head, tail = argv, []
    if "--cli" in head:
        head.remove("--cli")
    if "--format" not in head:
        head += ["--format", "json"]
    cmd = [str(node_executable()), str(inspector_entry()), "--cli", *head, *tail]

    run_env = dict(os.environ if env is None else env)
    run_env["PATH"] = os.pathsep.join([str(node_executable().parent), run_env.get("PATH", "")])
    run_env.setdefault("NO_COLOR", "1")
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=run_env, cwd=cwd, stdin=subprocess.DEVNULL
    )
    out = _last_json_object(proc.stdout) if proc.stdout.strip() else None
    if proc.returncode == 0:
        if out is None:
            raise InspectorCLIError(cmd, 0, {"code": "bad_output", "message": proc.stdout[-500:]}, None, proc.stderr)
        return out
    err_doc = _last_json_object(proc.stderr) or {}
    envelope = err_doc.get("error") if isinstance(err_doc.get("error"), dict) else None
    result = out.get("result") if out else None
    if check:
        raise InspectorCLIError(cmd, proc.returncode, envelope, result, proc.stderr)
    doc: dict[str, Any] = dict(out or {})
    doc["error"] = envelope or {"code": "error", "message": proc.stderr.strip()[-500:]}
    doc["exit_code"] = proc.returncode
    return doc
