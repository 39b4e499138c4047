"""The management commands as a user runs them: against a running gateway (changes at
once), or on the database when none runs (picked up at the next start), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import mcp
import pytest

from mcpgate.store.database import head_revision
from tests.conftest import ECHO_SERVER
from tests.store.conftest import POSTGRES, _create_schema, _drop_schema
from tests.test_cli import MCPGATE, mcpgate

pytestmark = pytest.mark.anyio

NO_GATEWAY = "http://127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """Environment for `mcpgate` children: a data dir of their own and an empty database on each engine."""
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path / "data")}
    if request.param == "sqlite":
        yield env
        return
    schema = f"mcpgate_cli_{secrets.token_hex(6)}"
    await _create_schema(schema)
    try:
        yield {**env, "MCPGATE_DATABASE_URL": f"{POSTGRES}?search_path={schema}"}
    finally:
        await _drop_schema(schema)


async def run(
    env: dict[str, str], *args: str, gateway: str = NO_GATEWAY, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """`mcpgate <args>` (told which gateway to talk to) to completion."""
    args_list = list(args)
    if args_list[0] != "db":
        at = args_list.index("--") if "--" in args_list else len(args_list)
        args_list[at:at] = ["--gateway", gateway]
    with anyio.fail_after(60):
        result = await anyio.run_process([*MCPGATE, *args_list], env=env, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr.decode()}")
    return result


async def test_db_upgrade_migrates_an_empty_database(database_env: dict[str, str]) -> None:
    first = await run(database_env, "db", "upgrade")
    assert f"is at revision {head_revision()}" in first.stdout.decode()
    again = await run(database_env, "db", "upgrade")
    assert f"is at revision {head_revision()}" in again.stdout.decode()


async def test_offline_changes_are_served_after_the_next_start(database_env: dict[str, str]) -> None:
    added = await run(
        database_env, "upstreams", "add", "echo", "--env", "TOKEN=t0k", "--", sys.executable, ECHO_SERVER, "--stdio"
    )
    assert "working on the database directly" in added.stderr.decode()
    await run(database_env, "servers", "create", "curated", "--mode", "NORMAL", "--tools", "echo_echo,echo_whoami")
    listed = json.loads((await run(database_env, "upstreams", "list", "--json")).stdout)
    assert [(u["name"], u["env"]) for u in listed] == [("echo", {"TOKEN": "********"})]

    async with mcpgate("serve", "--port", "0", env=database_env) as url:
        async with mcp.Client(f"{url}/servers/curated/mcp", mode="legacy") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == {"echo_echo", "echo_whoami"}
            assert (await client.call_tool("echo_whoami", {})).content[0].text == "echo"


async def test_commands_change_a_running_gateway_at_once(tmp_path: Path) -> None:
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path / "data")}
    async with mcpgate("serve", "--port", "0", env=env) as url:
        added = await run(
            env,
            "upstreams",
            "add",
            "extra",
            "--",
            sys.executable,
            ECHO_SERVER,
            "--stdio",
            "--label",
            "extra",
            gateway=url,
        )
        assert "ready" in added.stdout.decode() and "working on the database" not in added.stderr.decode()
        table = (await run(env, "upstreams", "list", gateway=url)).stdout.decode().splitlines()
        assert table[0].split() == ["NAME", "KIND", "SOURCE", "ENABLED", "STATE", "TOOLS"]
        assert any(line.split()[:5] == ["extra", "stdio", "api", "True", "ready"] for line in table[1:])
        await run(env, "servers", "create", "picked", "--mode", "NORMAL", "--tools", "extra_add", gateway=url)
        config = json.loads((await run(env, "servers", "config", "picked", "--json", gateway=url)).stdout)
        assert [t["name"] for t in config["tools"]] == ["extra_add"]
        async with mcp.Client(f"{url}/servers/picked/mcp", mode="legacy") as client:
            assert (await client.call_tool("extra_add", {"a": 1, "b": 2})).content[0].text == "3"

        preview = await run(env, "preview", f"{url}/servers/picked/mcp", gateway=url)
        assert "speaks streamable_http; 1 tools" in preview.stdout.decode()

        refused = await run(env, "servers", "create", "Bad Name", gateway=url, check=False)
        assert refused.returncode == 1 and "HTTP 422" in refused.stderr.decode()
        await run(env, "servers", "delete", "picked", gateway=url)
        await run(env, "upstreams", "disable", "extra", gateway=url)
        gone = json.loads((await run(env, "upstreams", "list", "--json", gateway=url)).stdout)
        assert {u["name"]: u["state"] for u in gone}["extra"] == "disabled"


async def test_import_registers_a_claude_desktop_config_and_reports_what_it_skipped(tmp_path: Path) -> None:
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path / "data")}
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "local": {"command": sys.executable, "args": [ECHO_SERVER, "--stdio"]},
                    "remote": {"url": "https://example.test/sse", "headers": {"Authorization": "Bearer x"}},
                    "broken": {"type": "carrier-pigeon"},
                }
            }
        )
    )
    result = await run(env, "import", str(config), check=False)
    assert result.returncode == 1
    assert "imported local (stdio)" in result.stdout.decode() and "imported remote (sse)" in result.stdout.decode()
    assert "skipped broken" in result.stderr.decode()
    listed = json.loads((await run(env, "upstreams", "list", "--json")).stdout)
    assert {u["name"]: u["kind"] for u in listed} == {"local": "stdio", "remote": "sse"}


async def test_keys_made_offline_guard_the_gateway_and_are_managed_through_it(tmp_path: Path) -> None:
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path / "data")}
    made = json.loads((await run(env, "keys", "create", "ops", "--scopes", "*", "--json")).stdout)
    secret = made["key"]
    assert secret.startswith("mcpg_") and made["state"] == "active"
    async with mcpgate("serve", "--port", "0", env=env) as url:
        refused = await run(env, "upstreams", "list", gateway=url, check=False)
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr.decode()
        keyed = {**env, "MCPGATE_API_KEY": secret}
        caller = json.loads(
            (await run(keyed, "keys", "create", "caller", "--scopes", "tools:call", "--json", gateway=url)).stdout
        )
        listed = (await run(keyed, "keys", "list", gateway=url)).stdout.decode()
        assert "ops" in listed and "caller" in listed and secret not in listed and caller["key"] not in listed
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {caller['key']}"}) as http:
            assert (await http.post("/mcp", json=ping)).status_code == 400  # in: only the session id is missing
            await run(keyed, "keys", "revoke", caller["id"], gateway=url)
            assert (await http.post("/mcp", json=ping)).status_code == 401
        state = json.loads((await run(keyed, "keys", "list", "--json", gateway=url)).stdout)
        assert {k["name"]: k["state"] for k in state} == {"ops": "active", "caller": "revoked"}


async def test_keys_list_names_the_servers_a_key_may_use_offline_and_through_the_gateway(tmp_path: Path) -> None:
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path / "data")}
    admin = json.loads((await run(env, "keys", "create", "ops", "--scopes", "*", "--json")).stdout)
    made = json.loads((await run(env, "servers", "create", "support-desk", "--json")).stdout)[0]
    await run(env, "keys", "create", "agent", "--servers", "support-desk")

    def listed_servers(table: str) -> dict[str, str]:
        lines = table.splitlines()
        at = lines[0].index("SERVERS")
        return {line.split()[1]: line[at:].split()[0] for line in lines[1:]}

    offline = await run(env, "keys", "list")
    assert listed_servers(offline.stdout.decode()) == {"ops": "-", "agent": "support-desk"}
    assert made["id"] not in offline.stdout.decode()

    keyed = {**env, "MCPGATE_API_KEY": admin["key"]}
    async with mcpgate("serve", "--port", "0", env=env) as url:
        online = await run(keyed, "keys", "list", gateway=url)
        assert listed_servers(online.stdout.decode()) == {"ops": "-", "agent": "support-desk"}
        as_json = {k["name"]: k for k in json.loads((await run(keyed, "keys", "list", "--json", gateway=url)).stdout)}
        assert as_json["agent"]["servers"] == [made["id"]] and as_json["agent"]["serverNames"] == ["support-desk"]
        assert as_json["ops"]["servers"] is None and as_json["ops"]["serverNames"] is None


async def test_a_bad_environment_value_is_one_line_for_the_management_commands_too(tmp_path: Path) -> None:
    env = {**os.environ, "MCPGATE_DATA_DIR": str(tmp_path), "MCPGATE_EDGE": "{bad"}
    result = await run(env, "upstreams", "list", check=False)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and lines == [lines[0]], lines
    assert lines[0].startswith("mcpgate: error: environment variable MCPGATE_EDGE")
