"""Installed size of a gateway: the files of its runtime dependency closure (bench/footprint.py, workload 5).

For a Python gateway the closure is walked in the gateway's own interpreter (its venv), honouring
markers and extras; an editable install counts its source tree and bytecode. supergateway is its
node_modules (the Node runtime is named, not counted).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PEERS = Path(__file__).parent / "peers"
PY = sys.executable
MB = 1e6


def closure_sizes(root: str) -> dict[str, Any]:
    """Runs in the target's own interpreter (this source is sent with -c): bytes per distribution of
    `root`'s runtime dependency closure, and the requirements whose markers hold but are not installed."""
    import json
    import os
    import sys
    from importlib import metadata, util

    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # mcp-proxy's venv has no packaging, but its pip vendors one
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.utils import canonicalize_name

    def editable_files(dist: Any) -> list[str]:
        # An editable install lists only a .pth: count its packages' source trees, with the bytecode a
        # regular install would have compiled (this interpreter's .pyc of sources that exist).
        found = []
        for name in (dist.read_text("top_level.txt") or dist.metadata["Name"]).split():
            spec = util.find_spec(name)
            for top in (spec.submodule_search_locations or []) if spec else []:
                for folder, _, files in os.walk(top):
                    if os.path.basename(folder) == "__pycache__":
                        parent, tag = os.path.dirname(folder), sys.implementation.cache_tag
                        files = [f for f in files if os.path.exists(os.path.join(parent, f.split(".")[0] + ".py"))]
                        files = [f for f in files if f.endswith(f".{tag}.pyc")]
                    found.extend(os.path.join(folder, f) for f in files)
        return found

    extras_of: dict[str, set[str]] = {canonicalize_name(root): set()}
    todo, sizes, missing, seen = [root], {}, [], set()
    while todo:
        name = todo.pop()
        key = canonicalize_name(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(key)
            continue
        for text in dist.requires or []:
            req = Requirement(text)
            holds = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras_of[key]})
            dep = canonicalize_name(req.name)
            if holds and (dep not in extras_of or not set(req.extras) <= extras_of[dep]):
                extras_of[dep] = extras_of.get(dep, set()) | set(req.extras)
                todo.append(req.name)  # again if new extras: they may add requirements
        paths = [str(f.locate()) for f in dist.files or []]
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
        if direct.get("dir_info", {}).get("editable"):
            paths += editable_files(dist)
        total = 0
        for path in map(os.path.realpath, paths):
            if path not in seen and os.path.isfile(path):  # a file two distributions list counts once
                seen.add(path)
                total += os.path.getsize(path)
        sizes[key] = total
    return {"sizes": sizes, "missing": sorted(set(missing))}


def python_closure(python: str, root: str) -> dict[str, Any]:
    source = "from __future__ import annotations\nfrom typing import Any\n" + inspect.getsource(closure_sizes)
    code = f"{source}\nimport json\nprint(json.dumps(closure_sizes({root!r})))"
    done = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout)


def tree_bytes(top: Path) -> int:
    """Apparent size of the regular files under top (symlinks not followed, hard links once)."""
    total, inodes = 0, set()
    for folder, _, files in os.walk(top):
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            if info.st_ino not in inodes and not os.path.islink(os.path.join(folder, name)):
                inodes.add(info.st_ino)
                total += info.st_size
    return total


def node_runtime() -> str:
    """Which Node bench/peers/bin/node runs, and whether it is part of bench/peers."""
    try:
        done = subprocess.run(
            [str(PEERS / "bin/node"), "-e", "console.log(process.execPath, process.version)"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no Node found ({exc})"
    path, version = done.stdout.split()
    size = os.path.getsize(path) / MB
    if Path(path).resolve().is_relative_to(PEERS.resolve()):
        return f"Node {version} bundled in bench/peers ({path}, {size:.0f} MB, not in the figure)"
    return f"system node: Node {version} at {path} ({size:.0f} MB binary), not counted"


def installed_sizes(wanted: set[str]) -> tuple[dict[str, float], list[str]]:
    """Installed MB per key of Spec.installed, and the report lines (top 10 distributions each)."""
    pythons = {
        "mcpgate": (PY, "mcpgate"),
        "contextforge": (str(PEERS / ".venv-contextforge/bin/python"), "mcp-contextforge-gateway"),
        "mcp-proxy": (str(PEERS / ".venv-mcp-proxy/bin/python"), "mcp-proxy"),
    }
    totals: dict[str, float] = {}
    lines = []
    for key, (python, root) in pythons.items():
        if key not in wanted:
            continue
        try:
            found = python_closure(python, root)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            lines.append(f"{key}: installed size FAILED: {exc}")
            continue
        sizes = found["sizes"]
        totals[key] = sum(sizes.values()) / MB
        top = sorted(sizes.items(), key=lambda kv: -kv[1])[:10]
        lines.append(f"{key} ({root}): {totals[key]:.1f} MB in {len(sizes)} distributions; top 10:")
        lines.append("    " + ", ".join(f"{name} {size / MB:.1f}" for name, size in top))
        if found["missing"]:
            lines.append(f"    required but not installed: {', '.join(found['missing'])}")
    if "supergateway" in wanted:
        totals["supergateway"] = tree_bytes(PEERS / "node_modules") / MB
        lines.append(f"supergateway: node_modules {totals['supergateway']:.1f} MB; {node_runtime()}")
    return totals, lines
