"""`MCPGATE_SECRET_KEY="new,old"`: rotation through the environment, across real restarts of
`mcpgate serve` over one SQLite file. Secrets sealed under the old key are still read after
the rotation; those stored after it are sealed under the new one; the old key alone then no
longer starts the gateway, and says how to fix it."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mcpgate.errors import ConfigError
from mcpgate.store.crypto import SecretBox
from tests.conformance.harness import mcpgate_process
from tests.conftest import ECHO_SERVER

OLD = f"old-key-{secrets.token_hex(16)}"
NEW = f"new-key-{secrets.token_hex(16)}"


def environment(tmp_path: Path, secret_key: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MCPGATE_", "MCP_"))}
    env["MCPGATE_DATA_DIR"] = str(tmp_path / "data")
    env["MCPGATE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'gateway.db'}"
    env["MCPGATE_SECRET_KEY"] = secret_key
    return env


@contextmanager
def gateway(tmp_path: Path, secret_key: str) -> Iterator[httpx.Client]:
    with (
        mcpgate_process(["serve", "--port", "0"], env=environment(tmp_path, secret_key)) as served,
        httpx.Client(base_url=served.url, timeout=30) as http,
    ):
        yield http


def register(http: httpx.Client, name: str, token: str) -> None:
    """A stdio upstream whose env (a secret, sealed in the registry) holds TOKEN."""
    body = {
        "name": name,
        "kind": "stdio",
        "command": sys.executable,
        "args": [ECHO_SERVER, "--stdio", "--label", name],
        "env": {"TOKEN": token},
    }
    created = http.post("/api/v1/upstreams", json=body)
    assert created.status_code == 201, created.text


def token_of(http: httpx.Client, upstream: str) -> str:
    """TOKEN as the upstream's child sees it: the secret, opened and handed to the child."""
    answer = http.post(f"/tools/{upstream}_env", json={"name": "TOKEN"})
    assert answer.status_code == 200, answer.text
    return answer.json()["content"][0]["text"]


def sealed(tmp_path: Path) -> dict[str, str]:
    with sqlite3.connect(tmp_path / "gateway.db") as db:
        return dict(db.execute("select name, secrets from upstreams").fetchall())


def opens(key: str, token: str, tmp_path: Path) -> bool:
    try:
        SecretBox.from_settings(key, tmp_path).open(token)
    except ConfigError:
        return False
    return True


@pytest.mark.timeout(120)
def test_new_comma_old_reads_the_old_secrets_and_seals_new_ones_with_the_new_key(tmp_path: Path) -> None:
    with gateway(tmp_path, OLD) as http:
        register(http, "one", "token-one")
        assert token_of(http, "one") == "token-one"

    with gateway(tmp_path, f"{NEW},{OLD}") as http:  # a restart with the new key first
        assert token_of(http, "one") == "token-one"
        register(http, "two", "token-two")
        assert token_of(http, "two") == "token-two"

    rows = sealed(tmp_path)
    assert set(rows) == {"one", "two"} and "token-one" not in rows["one"] and "token-two" not in rows["two"]
    assert opens(OLD, rows["one"], tmp_path) and not opens(NEW, rows["one"], tmp_path)
    assert opens(NEW, rows["two"], tmp_path) and not opens(OLD, rows["two"], tmp_path)

    refused = subprocess.run(
        [sys.executable, "-m", "mcpgate", "serve", "--port", "0"],
        env=environment(tmp_path, OLD),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 2
    assert "mcpgate: error: stored secrets cannot be decrypted" in refused.stderr
    assert "list the new key first and the old one after it" in refused.stderr
    assert NEW not in refused.stderr + refused.stdout and OLD not in refused.stderr + refused.stdout
