"""Collect real tool definitions from public MCP servers into bench/data/mcp-tools/servers.json.

    .venv/bin/python tools/collect_mcp_tools.py                  # install what is missing, list every server
    .venv/bin/python tools/collect_mcp_tools.py --only git,time  # refresh some servers, keep the others
    .venv/bin/python tools/collect_mcp_tools.py --no-install     # only use what is already installed

Each server in SERVERS (mcp_servers.py, beside this script) is a package from npm or PyPI, pinned to
the version that was collected,
plus how to start it over stdio: which of its executables, which arguments, and which environment.
Servers that insist on credentials get dummy values ("x"): only `initialize` and `tools/list` are
sent, so nothing is ever called with them. A server that still will not list its tools without real
credentials (or a service to connect to) is reported and left out.

Packages are installed into a cache folder (default /tmp/mcp-devset, `--cache`), one folder per
package so that their dependencies never clash:
  npm   `npm install --ignore-scripts PACKAGE@VERSION` (no postinstall: nothing downloads browsers);
        started with Node 22 (`.tools/bin/node`, see scripts/install-node-tools.sh) when present.
  PyPI  a virtualenv per package (`uv` when on PATH, else `python -m venv` + pip), Python 3.12 when
        found (a spec's `python` picks another), since several servers need it.

For each server the record keeps the package name and version, its license (package metadata, else
the LICENSE file shipped in the package; a spec can state it where the metadata only points at a
file that the package does not ship), the serverInfo name/title and `instructions` from
`initialize`, and each tool's name, title, description and inputSchema exactly as the server sent
them (the raw JSON-RPC result is read off the wire, before the SDK parses it). `title` is the
tool's own `title`, else `annotations.title`, else null. Only packages whose license lets their
text be redistributed (MIT, Apache-2.0, BSD, ISC, MPL-2.0) are written; the others are reported.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, types
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_servers import HOME_DIRS, SERVERS, Spec, X  # beside this script: the servers and how to start each

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "data" / "mcp-tools" / "servers.json"
ALLOWED_LICENSE = re.compile(r"^(MIT|MIT-0|Apache-2\.0|BSD-[234]-Clause|0BSD|ISC|MPL-2\.0)$")


def license_allowed(expression: str) -> bool:
    """True if every license in an SPDX-style expression ("A AND B", "A OR B") is one we may redistribute."""
    parts = re.split(r"\s+(?:AND|OR)\s+", expression.strip("() "))
    return all(ALLOWED_LICENSE.match(part.strip("() ")) for part in parts)


# --------------------------------------------------------------------------------------------------
# installing


def slug(package: str) -> str:
    return package.lstrip("@").replace("/", "-")


def tools_node_bin() -> Path | None:
    """Node 22 from scripts/install-node-tools.sh, if installed."""
    for candidate in (ROOT / ".tools" / "node" / "node_modules" / ".bin" / "node", ROOT / ".tools" / "bin" / "node"):
        if candidate.exists():
            return candidate
    return None


def npm_dir(cache: Path, spec: Spec) -> Path:
    return cache / "npm" / slug(spec.package)


def py_dir(cache: Path, spec: Spec) -> Path:
    return cache / "py" / spec.package


def find_python(version: str | None) -> str:
    """An interpreter of `version` (default 3.12, which every server here supports), else this one."""
    version = version or "3.12"
    for base in sorted((Path.home() / ".pyenv" / "versions").glob(f"{version}*"), reverse=True):
        if (base / "bin" / "python").exists():
            return str(base / "bin" / "python")
    for name in (f"python{version}", "python3"):
        found = shutil.which(name)
        if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    return sys.executable


def install(cache: Path, spec: Spec) -> None:
    if spec.registry == "npm":
        where = npm_dir(cache, spec)
        if (where / "node_modules" / spec.package / "package.json").exists():
            return
        where.mkdir(parents=True, exist_ok=True)
        (where / "package.json").write_text('{"name": "collect-mcp-tools", "private": true}\n')
        npm_cmd = os.environ.get("NPM") or str(ROOT / ".tools" / "bin" / "npm")
        if not Path(npm_cmd).exists():
            npm_cmd = "npm"
        env = os.environ | {"PUPPETEER_SKIP_DOWNLOAD": "1", "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
        subprocess.run(
            [npm_cmd, "install", "--no-audit", "--no-fund", "--ignore-scripts", f"{spec.package}@{spec.version}"],
            cwd=where,
            env=env,
            check=True,
            capture_output=True,
            timeout=900,
        )
    else:
        where = py_dir(cache, spec)
        python = where / "venv" / "bin" / "python"
        if (
            python.exists()
            and _py_version(python, spec.package) == spec.version
            and (
                not spec.extra
                or (where / "extra.txt").exists()
                and (where / "extra.txt").read_text() == repr(spec.extra)
            )
        ):
            return
        where.mkdir(parents=True, exist_ok=True)
        interpreter = find_python(spec.python)
        if uv := shutil.which("uv"):
            subprocess.run(
                [uv, "venv", "-q", "--allow-existing", "-p", interpreter, str(where / "venv")], check=True, timeout=300
            )
            subprocess.run(
                [uv, "pip", "install", "-q", "-p", str(python), f"{spec.package}=={spec.version}", *spec.extra],
                check=True,
                capture_output=True,
                timeout=900,
            )
            (where / "extra.txt").write_text(repr(spec.extra))
        else:
            subprocess.run([interpreter, "-m", "venv", str(where / "venv")], check=True, timeout=300)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", f"{spec.package}=={spec.version}", *spec.extra],
                check=True,
                capture_output=True,
                timeout=900,
            )


def _py_version(python: Path, package: str) -> str | None:
    out = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or None


# --------------------------------------------------------------------------------------------------
# package metadata and how to start a server

LICENSE_TEXT_PATTERNS = [
    (r"Apache License,?\s+Version 2\.0", "Apache-2.0"),
    (r"^\s*(The )?MIT License|Permission is hereby granted, free of charge", "MIT"),
    (r"Mozilla Public License,? (version|v\.?) ?2\.0", "MPL-2.0"),
    (r"ISC License|Permission to use, copy, modify, and/or distribute this software for any", "ISC"),
    (r"Redistribution and use in source and binary forms", "BSD-3-Clause"),
    (r"GNU AFFERO GENERAL PUBLIC LICENSE", "AGPL-3.0"),
    (r"GNU LESSER GENERAL PUBLIC LICENSE", "LGPL"),
    (r"GNU GENERAL PUBLIC LICENSE", "GPL"),
]
CLASSIFIERS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "BSD License": "BSD-3-Clause",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
}


def license_from_text(text: str) -> str | None:
    for pattern, name in LICENSE_TEXT_PATTERNS:
        if re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
            return name
    return None


def normalise_license(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if len(value) > 40 or "\n" in value:  # a whole license text in the field
        return license_from_text(value)
    aliases = {
        "Apache 2.0": "Apache-2.0",
        "Apache License 2.0": "Apache-2.0",
        "Apache-2": "Apache-2.0",
        "MIT License": "MIT",
        "BSD": "BSD-3-Clause",
    }
    return aliases.get(value, value)


def npm_meta(cache: Path, spec: Spec) -> tuple[str, str | None, list[str]]:
    """(version, license, command) of an installed npm package."""
    pkg_dir = npm_dir(cache, spec) / "node_modules" / spec.package
    meta = json.loads((pkg_dir / "package.json").read_text())
    lic = meta.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if not lic and meta.get("licenses"):
        lic = " OR ".join(item.get("type", "") for item in meta["licenses"])
    lic = normalise_license(lic) if lic and not lic.startswith("SEE LICENSE") else None
    if not lic:
        for path in sorted(pkg_dir.glob("LICEN[CS]E*")):
            lic = license_from_text(path.read_text(errors="replace"))
            break
    bins = meta.get("bin") or {}
    if isinstance(bins, str):
        bins = {spec.package.split("/")[-1]: bins}
    target = bins[spec.bin] if spec.bin else next(iter(bins.values()))
    script = (pkg_dir / target).resolve()
    head = script.read_bytes()[:200]
    if script.suffix in {".js", ".mjs", ".cjs"} or b"node" in head.split(b"\n", 1)[0]:
        node = tools_node_bin()
        command = [str(node) if node else "node", str(script)]
    else:
        command = [str(script)]
    return meta["version"], lic, command


PY_META = r"""
import importlib.metadata as m, json, sys
d = m.distribution(sys.argv[1]); md = d.metadata
texts = []
for f in d.files or []:
    name = f.name.upper()
    if name.startswith(("LICENSE", "LICENCE", "COPYING")):
        try: texts.append(f.read_text())
        except Exception: pass
print(json.dumps({"version": d.version, "expression": md.get("License-Expression"), "license": md.get("License"),
                  "classifiers": [c for c in md.get_all("Classifier") or [] if c.startswith("License ::")],
                  "texts": texts, "scripts": [e.name for e in d.entry_points if e.group == "console_scripts"]}))
"""


def pypi_meta(cache: Path, spec: Spec) -> tuple[str, str | None, list[str]]:
    venv = py_dir(cache, spec) / "venv"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", PY_META, spec.package], capture_output=True, text=True, check=True
    )
    meta = json.loads(out.stdout)
    lic = normalise_license(meta["expression"]) or normalise_license(meta["license"])
    if not lic:
        for classifier in meta["classifiers"]:
            if found := CLASSIFIERS.get(classifier.split("::")[-1].strip()):
                lic = found
                break
    if not lic:
        for text in meta["texts"]:
            if lic := license_from_text(text):
                break
    script = spec.bin or meta["scripts"][0]
    return meta["version"], lic, [str(venv / "bin" / script)]


# --------------------------------------------------------------------------------------------------
# listing


def _tee(read_stream: Any, seen: list[dict[str, Any]]):
    """A read stream that hands every message on, keeping the raw results of responses."""
    send, receive = anyio.create_memory_object_stream(0)

    async def pump() -> None:
        async with send:
            async for item in read_stream:
                message = getattr(item, "message", None)
                result = getattr(message, "result", None)
                if isinstance(result, dict):
                    seen.append(json.loads(json.dumps(result)))
                await send.send(item)

    return receive, pump


async def list_server(
    command: list[str], env: dict[str, str], cwd: Path, errlog: Any, seconds: float
) -> dict[str, Any]:
    """Start one server over stdio, initialize, and page through tools/list."""
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(cwd))
    raw: list[dict[str, Any]] = []
    with anyio.fail_after(seconds):
        async with stdio_client(params, errlog=errlog) as (read, write):
            receive, pump = _tee(read, raw)
            async with anyio.create_task_group() as group:
                group.start_soon(pump)
                async with ClientSession(receive, write) as session:
                    init = await session.initialize()
                    tools: list[dict[str, Any]] = []
                    cursor = None
                    while True:
                        raw.clear()
                        request = types.PaginatedRequestParams(cursor=cursor) if cursor else None
                        try:
                            page = await session.list_tools(params=request)
                        except Exception:
                            # The SDK may reject a listing (say, a schema without "type"); what the
                            # server sent is still in `raw`, and that is what we keep.
                            page = None
                        listing = next((r for r in reversed(raw) if "tools" in r), None)
                        if listing is None:
                            if page is None:
                                raise RuntimeError("tools/list failed and no listing came back") from None
                            listing = {
                                "tools": [t.model_dump(by_alias=True, exclude_none=True) for t in page.tools],
                                "nextCursor": page.next_cursor,
                            }
                        tools.extend(listing["tools"])
                        cursor = listing.get("nextCursor")
                        if not cursor:
                            break
                group.cancel_scope.cancel()
    info = init.server_info
    return {
        "serverInfo": {"name": info.name, "title": getattr(info, "title", None), "version": info.version},
        "instructions": init.instructions,
        "tools": tools,
    }


def prepare_work(base: Path) -> Path:
    """A scratch folder with a few files that servers given a path like to see."""
    work = Path(tempfile.mkdtemp(prefix="collect-mcp-", dir=base))
    (work / "notes.md").write_text("# notes\n")
    (work / "papers").mkdir()
    (work / "gdrive.json").write_text("{}")
    (work / "gcp-oauth.keys.json").write_text(
        json.dumps({"installed": {"client_id": X, "client_secret": X, "redirect_uris": ["http://localhost"]}})
    )
    return work


def record(spec: Spec, version: str, lic: str, listed: dict[str, Any]) -> dict[str, Any]:
    info = listed["serverInfo"]
    tools = []
    for tool in listed["tools"]:
        title = tool.get("title") or (tool.get("annotations") or {}).get("title")
        tools.append(
            {
                "name": tool["name"],
                "title": title,
                "description": tool.get("description"),
                "inputSchema": tool.get("inputSchema"),
            }
        )
    return {
        "server": spec.server,
        "package": spec.package,
        "version": version,
        "license": lic,
        "title": info.get("title") or info.get("name"),
        "serverInfo": info,
        "instructions": listed["instructions"],
        "tools": tools,
    }


async def collect_one(spec: Spec, args: argparse.Namespace, home: Path, problems: list[str]) -> dict[str, Any] | None:
    """Install (unless --no-install), check the license, start the server and list its tools."""
    try:
        if not args.no_install:
            await anyio.to_thread.run_sync(install, args.cache, spec)
        version, lic, command = (npm_meta if spec.registry == "npm" else pypi_meta)(args.cache, spec)
    except Exception as exc:
        problems.append(f"{spec.server}: install/metadata failed: {exc!r}"[:300])
        return None
    lic = spec.license or lic or "unknown"
    if version != spec.version:
        problems.append(f"{spec.server}: installed {version}, spec pins {spec.version}")
    if not license_allowed(lic):
        problems.append(f"{spec.server}: EXCLUDED, license {lic!r} ({spec.package}@{version})")
        return None
    work = prepare_work(args.cache)
    env = {k: v.replace("{work}", str(work)) for k, v in spec.env.items()}
    env |= {"HOME": str(home), "NODE_NO_WARNINGS": "1", "PATH": os.environ.get("PATH", "")}
    cmd = command + [a.replace("{work}", str(work)) for a in spec.args]
    # the server's stderr goes to a real file (the subprocess needs a file descriptor)
    with open(args.cache / "logs" / f"{spec.server}.log", "w") as errlog:  # noqa: ASYNC230
        try:
            listed = await list_server(cmd, env, work, errlog, args.timeout)
        except Exception as exc:
            while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
                exc = exc.exceptions[0]
            problems.append(f"{spec.server}: would not list tools: {type(exc).__name__}: {exc}"[:300])
            return None
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if not listed["tools"]:
        problems.append(f"{spec.server}: listed no tools")
        return None
    entry = record(spec, version, lic, listed)
    for tool in entry["tools"]:
        size = len(json.dumps(tool["inputSchema"]))
        if size > args.max_schema_chars:
            tool["inputSchema"] = {"type": "object", "description": f"[schema of {size} characters left out]"}
            problems.append(f"{spec.server}/{tool['name']}: inputSchema of {size} chars replaced by a stub")
    return entry


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/mcp-devset"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", help="comma-separated server ids; the others are kept from --out")
    parser.add_argument("--no-install", action="store_true")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per server")
    parser.add_argument("--jobs", type=int, default=3, help="servers listed at once")
    parser.add_argument(
        "--max-schema-chars",
        type=int,
        default=60_000,
        help="a single inputSchema larger than this is replaced by a stub (noted in the record)",
    )
    args = parser.parse_args()

    only = set(args.only.split(",")) if args.only else None
    specs = [s for s in SERVERS if only is None or s.server in only]
    unknown = (only or set()) - {s.server for s in SERVERS}
    if unknown:
        parser.error(f"unknown server ids: {sorted(unknown)}")
    args.cache.mkdir(parents=True, exist_ok=True)
    (args.cache / "logs").mkdir(exist_ok=True)
    home = args.cache / "home"
    for folder in HOME_DIRS:
        (home / folder).mkdir(parents=True, exist_ok=True)

    kept: dict[str, dict[str, Any]] = {}
    if only and args.out.exists():
        kept = {entry["server"]: entry for entry in json.loads(args.out.read_text())}
    results: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    limit = anyio.Semaphore(args.jobs)

    async def collect(spec: Spec) -> None:
        async with limit:
            entry = await collect_one(spec, args, home, problems)
        if entry is not None:
            results[spec.server] = entry
            where = f"{spec.package}@{entry['version']} ({entry['license']})"
            print(f"{spec.server:<24} {len(entry['tools']):>4} tools  {where}", flush=True)

    async with anyio.create_task_group() as group:
        for spec in specs:
            group.start_soon(collect, spec)

    merged = {**kept, **results}
    ordered = [merged[s.server] for s in SERVERS if s.server in merged]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(ordered, indent=1, ensure_ascii=False) + "\n")
    print(f"\n{len(ordered)} servers, {sum(len(e['tools']) for e in ordered)} tools -> {args.out}")
    print(f"collected {dt.date.today().isoformat()}")
    for line in problems:
        print("!", line)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(anyio.run(main))
