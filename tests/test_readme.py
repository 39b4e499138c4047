"""The README's curl examples work as written against the gateway `make run` starts.

Every ```sh block the README marks with a `tests/test_readme.py` comment is run line by line with
the real `curl`, in order, against `mcpgate serve` with the embedded default (what `make run`
runs), on a free port instead of 8080. Each must succeed and answer JSON.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- tests/test_readme.py"


def readme_curl_lines() -> list[str]:
    text = README.read_text()
    lines: list[str] = []
    for block in re.finditer(re.escape(MARKER) + r"[^\n]*\n```sh\n(.*?)```", text, re.S):
        lines += [line for line in block.group(1).splitlines() if line.startswith("curl ")]
    return lines


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[str]:
    """`mcpgate serve` as `make run` starts it (no config: the demo upstream and the own-API catalog)."""
    port = _free_port()
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "mcpgate", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_the_readme_marks_its_make_run_examples() -> None:
    lines = readme_curl_lines()
    assert len(lines) >= 6, lines
    assert any("/tools/demo_current_time" in line for line in lines)


async def test_every_marked_curl_example_works_as_written(make_run: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        with anyio.fail_after(60):
            while True:
                try:
                    health = await http.get(f"http://{make_run}/health")
                    if health.status_code == 200 and health.json()["upstreams"]["demo"]["state"] == "ready":
                        break
                except httpx.TransportError:
                    pass
                await anyio.sleep(0.1)
    for line in readme_curl_lines():
        argv = [
            arg.replace("127.0.0.1:8080", make_run).replace("localhost:8080", make_run)
            for arg in shlex.split(line, comments=True)
        ]
        argv[1:1] = ["--fail-with-body", "--max-time", "30"]
        done = await anyio.run_process(argv, check=False)
        assert done.returncode == 0, (line, done.returncode, done.stdout.decode(), done.stderr.decode())
        answer = json.loads(done.stdout)
        assert "error" not in answer, (line, answer)
        if "content" in answer:  # a tool's result
            assert answer["isError"] is False, (line, answer)
