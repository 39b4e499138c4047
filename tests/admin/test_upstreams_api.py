"""/api/v1/upstreams: changes reach connected clients without a restart; config-file
upstreams are read-only; secrets are masked; bad input gets a precise JSON error."""

from __future__ import annotations

import os
import sys

import anyio
import pytest
from mcp import MCPError, types

from mcpgate.errors import NotFound
from mcpgate.upstream.connection import Backoff, UpstreamState
from tests.conftest import ECHO_SERVER, running_gateway, serve_asgi, stdio_echo, wait_until
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio


def echo_upstream(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "kind": "stdio",
        "command": sys.executable,
        "args": [ECHO_SERVER, "--stdio", "--label", name],
        **extra,
    }


def tool_names(result: types.ListToolsResult) -> set[str]:
    return {tool.name for tool in result.tools}


async def test_an_upstream_registered_at_run_time_serves_its_tools_and_is_announced() -> None:
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}) as gateway:
        async with gateway.client("sse", message_handler=on_message) as client, gateway.http() as http:
            before = tool_names(await client.list_tools())
            created = await http.post("/api/v1/upstreams", json=echo_upstream("extra", env={"API_TOKEN": "tok-123"}))
            assert created.status_code == 201, created.text
            body = created.json()
            assert body["state"] == "ready" and body["source"] == "api"
            assert body["env"] == {"API_TOKEN": "********"} and "tok-123" not in created.text
            assert {"echo", "whoami"} <= {tool["name"] for tool in body["tools"]}
            assert body["exposedAs"] == "extra_<tool>"

            with anyio.fail_after(10):
                await changed.wait()
            after = tool_names(await client.list_tools())
            assert after - before >= {"extra_echo", "extra_whoami"}
            assert (await client.call_tool("extra_whoami", {})).content[0].text == "extra"

            listed = (await http.get("/api/v1/upstreams")).json()["data"]
            assert [(u["name"], u["source"]) for u in listed] == [("cfg", "config"), ("extra", "api")]
            assert (await http.get("/api/v1/upstreams/extra")).json()["createdAt"]


async def test_disable_enable_update_and_delete_take_effect_at_once() -> None:
    async with running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}) as gateway:
        async with gateway.client("streamable_http") as client, gateway.http() as http:
            assert (
                await http.post("/api/v1/upstreams", json=echo_upstream("extra", env={"K": "v1"}))
            ).status_code == 201
            assert "extra_echo" in tool_names(await client.list_tools())

            disabled = await http.post("/api/v1/upstreams/extra/disable")
            assert disabled.status_code == 200 and disabled.json()["state"] == "disabled"
            assert "extra_echo" not in tool_names(await client.list_tools())
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("extra_echo", {"text": "x"})

            enabled = await http.post("/api/v1/upstreams/extra/enable")
            assert enabled.json()["state"] == "ready"
            assert "extra_echo" in tool_names(await client.list_tools())

            # The mask sent back keeps the stored secret; a new key is added; the prefix changes.
            patched = await http.patch(
                "/api/v1/upstreams/extra", json={"env": {"K": "********", "NEW": "n"}, "prefix": "x"}
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["env"] == {"K": "********", "NEW": "********"}
            stored = await gateway.registry.upstream("extra")
            assert stored.spec.env == {"K": "v1", "NEW": "n"}
            await wait_until(lambda: gateway.hub.catalog.tool("x_echo") is not None)
            assert {"x_echo"} <= tool_names(await client.list_tools())
            assert "extra_echo" not in tool_names(await client.list_tools())

            assert (await http.delete("/api/v1/upstreams/extra")).status_code == 204
            assert "x_echo" not in tool_names(await client.list_tools())
            assert (await http.get("/api/v1/upstreams/extra")).status_code == 404
            with pytest.raises(NotFound):
                await gateway.registry.upstream("extra")


async def test_config_file_upstreams_are_shown_but_read_only() -> None:
    async with running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}) as gateway, gateway.http() as http:
        shown = (await http.get("/api/v1/upstreams/cfg")).json()
        assert shown["source"] == "config" and shown["state"] == "ready"
        for response in (
            await http.patch("/api/v1/upstreams/cfg", json={"enabled": False}),
            await http.post("/api/v1/upstreams/cfg/disable"),
            await http.delete("/api/v1/upstreams/cfg"),
        ):
            assert response.status_code == 409
            assert response.json()["error"]["type"] == "read_only"
            assert "config file" in response.json()["error"]["message"]
        duplicate = await http.post("/api/v1/upstreams", json=echo_upstream("cfg"))
        assert duplicate.status_code == 409 and duplicate.json()["error"]["type"] == "conflict"
        assert gateway.hub.upstreams["cfg"].is_ready  # nothing changed


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"name": "bad name!", "kind": "stdio", "command": "x"}, 422, "upstream name"),
        ({"name": "nocmd", "kind": "stdio"}, 422, "command"),
        ({"name": "k", "kind": "carrier-pigeon", "url": "http://x"}, 422, "kind"),
        ({"name": "u", "kind": "streamable_http", "url": "http://x", "bogus": 1}, 422, "bogus"),
        # What cannot run is refused now, named, as a bad OpenAPI document is.
        ({"name": "g", "kind": "stdio", "command": "no-such-command-mcpgate"}, 422, "'no-such-command-mcpgate'"),
        ({"name": "p", "kind": "stdio", "command": ECHO_SERVER}, 422, f"command {ECHO_SERVER!r} is not executable"),
        ({"name": "c", "kind": "stdio", "command": "sh", "cwd": "/nonexistent/dir"}, 422, "'/nonexistent/dir'"),
        # Searched on the PATH the child will have.
        ({"name": "e", "kind": "stdio", "command": "sh", "env": {"PATH": "/nonexistent"}}, 422, "command not found"),
    ],
)
async def test_bad_upstream_input_gets_a_precise_json_error(body: dict, status: int, says: str) -> None:
    async with running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}) as gateway, gateway.http() as http:
        response = await http.post("/api/v1/upstreams", json=body)
        assert response.status_code == status, response.text
        assert says in response.json()["error"]["message"]
        assert [u["name"] for u in (await http.get("/api/v1/upstreams")).json()["data"]] == ["cfg"]
        assert await gateway.registry.upstreams() == []


async def test_unknown_upstreams_oversized_and_malformed_bodies() -> None:
    async with running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}) as gateway, gateway.http() as http:
        for response in (
            await http.get("/api/v1/upstreams/nope"),
            await http.patch("/api/v1/upstreams/nope", json={"enabled": True}),
            await http.delete("/api/v1/upstreams/nope"),
        ):
            assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"
        limit = gateway.hub.settings.edge.max_body_bytes
        huge = await http.post(
            "/api/v1/upstreams", content=b"{" + b" " * limit + b"}", headers={"content-type": "application/json"}
        )
        assert huge.status_code == 413 and huge.json()["error"]["type"] == "payload_too_large"
        broken = await http.post(
            "/api/v1/upstreams", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 400 and broken.json()["error"]["type"] == "bad_request"
        wrong_patch = await http.patch("/api/v1/upstreams/cfg", json={"url": "ftp://x"})
        assert wrong_patch.status_code == 422


@pytest.mark.parametrize("kind", ["sse", "streamable_http", "remote"])
async def test_remote_upstreams_of_every_kind_are_registered_with_their_headers(kind: str) -> None:
    app = build_server(f"remote-{kind}")
    served = app.sse_app() if kind == "sse" else app.streamable_http_app()
    async with (
        serve_asgi(served) as upstream_url,
        running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}) as gateway,
    ):
        url = f"{upstream_url}/sse" if kind == "sse" else f"{upstream_url}/mcp"
        async with gateway.client("streamable_http") as client, gateway.http() as http:
            body = {"name": "far", "kind": kind, "url": url, "headers": {"X-Tenant": "t-42"}}
            created = await http.post("/api/v1/upstreams", json=body)
            assert created.status_code == 201, created.text
            assert created.json()["state"] == "ready" and created.json()["headers"] == {"X-Tenant": "********"}
            await wait_until(lambda: gateway.hub.catalog.tool("far_header") is not None)
            assert (await client.call_tool("far_whoami", {})).content[0].text == f"remote-{kind}"
            assert (await client.call_tool("far_header", {"name": "x-tenant"})).content[0].text == "t-42"


async def test_a_command_on_the_childs_own_path_is_accepted() -> None:
    folder, program = os.path.split(sys.executable)
    body = echo_upstream("own-path", command=program, env={"PATH": folder})
    async with running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}) as gateway, gateway.http() as http:
        created = await http.post("/api/v1/upstreams", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["state"] == "ready"


async def test_a_child_given_up_on_stays_failed_until_it_is_changed() -> None:
    crashing = echo_upstream("crashy", args=["-c", "raise SystemExit(3)"])
    backoff = Backoff(first=0.01, maximum=0.05, attempts=3)
    async with running_gateway({"mcpServers": {"cfg": stdio_echo("cfg")}}, backoff=backoff) as gateway:
        async with gateway.http() as http:
            assert (await http.post("/api/v1/upstreams", json=crashing)).status_code == 201
            crashy = gateway.hub.upstreams["crashy"]
            await wait_until(lambda: crashy.status.state is UpstreamState.FAILED)
            shown = (await http.get("/api/v1/upstreams/crashy")).json()
            assert shown["state"] == "failed" and "gave up after 3 attempts" in shown["error"]

            fixed = await http.patch("/api/v1/upstreams/crashy", json={"args": [ECHO_SERVER, "--stdio"]})
            assert fixed.status_code == 200 and fixed.json()["state"] == "ready"
