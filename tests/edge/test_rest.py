"""The REST face: every endpoint, at the root and at a virtual server, against real upstreams —
one with `$ref`/`$defs`, `anyOf`, enums and nested arrays of objects — and every failure as
a status with a JSON body."""

from __future__ import annotations

import functools
import os
import signal
import sys
from typing import Any

import anyio
import httpx
import pytest

from mcpgate.hub.profiles import NONE
from mcpgate.upstream.connection import Backoff, UpstreamState
from tests.conftest import TESTS, Gateway, in_flight, running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

SHAPES_SERVER = str(TESTS / "upstreams" / "shapes_server.py")
FIDELITY_SERVER = str(TESTS / "upstreams" / "fidelity_server.py")
TRIP = {
    "traveller": "ann",
    "legs": [
        {"mode": "train", "stops": [{"city": "Paris", "nights": 2}, {"city": "Lyon", "nights": 1}], "budget": 120},
        {"mode": "plane", "stops": [{"city": "Rome", "nights": 3}], "budget": "cheap"},
    ],
}
PLAN = {"traveller": "ann", "legs": 2, "nights": 6, "modes": ["train", "plane"]}


def shapes(**extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [SHAPES_SERVER], **extra}


def config(**extra: Any) -> dict[str, Any]:
    return {
        "mcpServers": {"shapes": shapes(timeout=2), "echo": stdio_echo("echo")},
        "virtualServers": {
            "trips": {"mode": "NORMAL", "selectedTools": ["shapes_plan_trip", "shapes_fail", "echo_echo"]}
        },
        **extra,
    }


def bases(gateway: Gateway) -> list[str]:
    server_id = next(iter(gateway.hub.servers))
    return ["", "/servers/trips", f"/api/v1/mcp/{server_id}"]


async def test_tools_are_listed_and_called_at_the_root_and_at_a_virtual_server() -> None:
    async with running_gateway(config()) as gateway, gateway.http() as http:
        for base in bases(gateway):
            listed = (await http.get(f"{base}/tools")).json()["tools"]
            names = {tool["name"] for tool in listed}
            assert {"shapes_plan_trip", "shapes_fail", "echo_echo"} <= names
            assert ("shapes_slow" in names) == (base == "")  # a virtual server shows only its selection
            plan_trip = next(tool for tool in listed if tool["name"] == "shapes_plan_trip")
            assert "$defs" in plan_trip["inputSchema"] and "outputSchema" in plan_trip

            by_name = await http.post(f"{base}/call-tool", json={"name": "shapes_plan_trip", "arguments": TRIP})
            assert by_name.status_code == 200, by_name.text
            assert by_name.json()["structuredContent"] == PLAN
            assert by_name.json()["isError"] is False
            as_route = await http.post(f"{base}/tools/shapes_plan_trip", json=TRIP)
            assert as_route.status_code == 200 and as_route.json()["structuredContent"] == PLAN
            echoed = (await http.post(f"{base}/tools/echo_echo", json={"text": "hi"})).json()
            assert echoed["content"] == [{"type": "text", "text": "hi"}] and echoed["isError"] is False
            assert (await http.get(f"{base}/tools/shapes_plan_trip")).json() == plan_trip

            if base:  # outside the selection: as unknown as a tool no upstream has
                outside = await http.post(f"{base}/call-tool", json={"name": "shapes_slow", "arguments": {}})
                assert outside.status_code == 404 and outside.json()["error"]["type"] == "unknown_name"


async def test_resources_and_prompts_are_listed_read_and_filled() -> None:
    async with running_gateway(config()) as gateway, gateway.http() as http:
        resources = (await http.get("/resources")).json()["resources"]
        assert [r["uri"] for r in resources] == ["shapes+notes://readme"]
        templates = (await http.get("/resource-templates")).json()["resourceTemplates"]
        assert [t["uriTemplate"] for t in templates] == ["shapes+notes://topics/{topic}"]
        read = await http.get("/resources/read", params={"uri": "shapes+notes://readme"})
        assert read.json()["contents"][0]["text"] == "read me first"
        from_template = await http.get("/resources/read", params={"uri": "shapes+notes://topics/owls"})
        assert from_template.json()["contents"][0]["text"] == "a note on owls"

        prompts = (await http.get("/prompts")).json()["prompts"]
        summarize = next(p for p in prompts if p["name"] == "shapes_summarize")
        assert {a["name"]: a.get("required", False) for a in summarize["arguments"]} == {
            "topic": True,
            "style": False,
        }
        filled = await http.post("/prompts/shapes_summarize", json={"topic": "owls", "style": "terse"})
        assert filled.json()["messages"][0]["content"]["text"] == "Summarize owls in a terse style."

        missing = await http.post("/prompts/shapes_summarize", json={"style": "terse"})
        assert missing.status_code == 422 and missing.json()["error"]["details"] == [
            {"field": "topic", "message": "required"}
        ]
        typo = await http.post("/prompts/shapes_summarize", json={"topic": "owls", "stlye": "x"})
        assert typo.status_code == 422 and "stlye" in typo.json()["error"]["message"]
        assert (await http.post("/prompts/nope", json={})).status_code == 404
        assert (await http.get("/resources/read", params={"uri": "elsewhere://x"})).status_code == 404
        no_uri = await http.get("/resources/read")
        assert no_uri.status_code == 422 and no_uri.json()["error"]["details"][0]["field"] == "uri"


async def test_arguments_that_break_the_schema_are_422_naming_the_field() -> None:
    async with running_gateway(config()) as gateway, gateway.http() as http:
        calls: list[Any] = []
        gateway.hub.observers.append(calls.append)
        cases = [
            ({"legs": TRIP["legs"]}, "traveller", "required"),
            ({**TRIP, "legs": [{"mode": "car", "stops": [{"city": "Oslo", "nights": 1}]}]}, "legs[0].mode", "car"),
            (
                {**TRIP, "legs": [{"mode": "bus", "stops": [{"city": "Oslo", "nights": "x"}]}]},
                "legs[0].stops[0].nights",
                "",
            ),
            ({**TRIP, "legs": [{"mode": "bus", "stops": []}]}, "legs[0].stops", ""),
            (
                {**TRIP, "legs": [{"mode": "bus", "stops": [{"city": "O", "nights": 1}], "budget": [1]}]},
                "legs[0].budget",
                "",
            ),
        ]
        for arguments, field, mentioned in cases:
            answer = await http.post("/tools/shapes_plan_trip", json=arguments)
            assert answer.status_code == 422, (field, answer.text)
            error = answer.json()["error"]
            assert error["type"] == "validation_error"
            assert error["details"][0]["field"] == field, error
            assert field in error["message"] and mentioned in error["message"]
        # The same through /call-tool, and for the envelope itself.
        answer = await http.post("/call-tool", json={"name": "shapes_plan_trip", "arguments": {"legs": []}})
        assert answer.status_code == 422 and answer.json()["error"]["details"][0]["field"] == "traveller"
        assert (await http.post("/call-tool", json={"arguments": {}})).json()["error"]["details"][0]["field"] == "name"
        bad_arguments = await http.post("/call-tool", json={"name": "echo_echo", "arguments": [1]})
        assert bad_arguments.status_code == 422 and "arguments" in bad_arguments.json()["error"]["message"]
        assert calls == []  # refused at the edge: not one reached tools/call, so none was forwarded


async def test_failures_are_statuses_with_json_bodies() -> None:
    async with running_gateway(config()) as gateway, gateway.http() as http:
        failed = await http.post("/tools/shapes_fail", json={"reason": "testing"})
        assert failed.status_code == 200 and failed.json()["isError"] is True
        as_http = await http.post("/tools/shapes_fail", params={"errors": "http"}, json={"reason": "testing"})
        assert as_http.status_code == 502
        assert as_http.json()["error"]["type"] == "tool_error"
        assert as_http.json()["error"]["details"]["result"] == failed.json()
        fine = await http.post("/tools/echo_echo", params={"errors": "http"}, json={"text": "ok"})
        assert fine.status_code == 200  # errors=http changes failures only

        unknown = await http.post("/call-tool", json={"name": "no_such_tool"})
        assert unknown.status_code == 404 and "no_such_tool" in unknown.json()["error"]["message"]
        assert (await http.post("/tools/no_such_tool", json={})).status_code == 404

        timed_out = await http.post("/tools/shapes_slow", json={"seconds": 30})
        assert timed_out.status_code == 504, timed_out.text
        assert timed_out.json()["error"]["type"] == "upstream_timeout"

        not_json = await http.post("/call-tool", content=b"{not json", headers={"content-type": "application/json"})
        assert not_json.status_code == 400 and not_json.json()["error"]["type"] == "bad_request"
        too_big = await http.post("/tools/echo_echo", json={"text": "x" * (5 * 1024 * 1024)})
        assert too_big.status_code == 413 and too_big.json()["error"]["type"] == "payload_too_large"
        wrong_method = await http.delete("/tools")
        assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET"
        assert (await http.get("/tools", params={"format": "yaml"})).status_code == 422
        assert (await http.get("/servers/nope/tools")).json()["error"]["type"] == "not_found"
        # Still serving: none of that disturbed the upstreams.
        assert (await http.post("/tools/echo_echo", json={"text": "still"})).json()["content"][0]["text"] == "still"


async def test_an_unavailable_upstream_is_503_with_retry_after() -> None:
    # A backoff long enough that the down window is observed deterministically.
    async with running_gateway(config(), backoff=Backoff(first=5.0)) as gateway, gateway.http() as http:
        pid = (await http.post("/tools/echo_pid", json={})).json()["structuredContent"]["result"]
        os.kill(pid, signal.SIGKILL)  # the child serving REST callers, which declare no capabilities
        serving = gateway.hub.links.serving("echo", NONE)
        assert serving is not None
        await wait_until(lambda: serving.connection.status.state is UpstreamState.DOWN)
        with anyio.fail_after(2):  # at once, not after a timeout
            down = await http.post("/servers/trips/tools/echo_echo", json={"text": "x"})
        assert down.status_code == 503, down.text
        assert down.json()["error"]["type"] == "upstream_unavailable"
        assert 1 <= int(down.headers["retry-after"]) <= 5
        assert (await http.post("/servers/trips/tools/shapes_plan_trip", json=TRIP)).status_code == 200


async def test_a_client_that_hangs_up_cancels_the_upstream_call() -> None:
    """The upstream itself hears the cancellation (its `slow` tool records it), not just the gateway."""
    fidelity = {"command": sys.executable, "args": [FIDELITY_SERVER, "--stdio", "--label", "fid"]}
    async with running_gateway({"mcpServers": {"fid": fidelity}}) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            async with anyio.create_task_group() as tg:
                tg.start_soon(functools.partial(http.post, "/tools/fid_slow", json={"tag": "rest-gone"}))
                await wait_until(lambda: in_flight(gateway.hub, "fid") > 0)
                tg.cancel_scope.cancel()  # the REST caller hangs up mid-call
            with anyio.fail_after(10):
                while "rest-gone" not in (await http.post("/tools/fid_cancellations", json={})).json()["content"][0][
                    "text"
                ].split(","):
                    await anyio.sleep(0.02)
        await wait_until(lambda: in_flight(gateway.hub, "fid") == 0)


async def test_a_smart_servers_meta_tools_work_over_rest_and_reach_only_its_selection() -> None:
    smart = {"finder": {"mode": "SMART", "selectedTools": ["echo_echo", "shapes_plan_trip"]}}
    async with running_gateway(config(virtualServers=smart)) as gateway, gateway.http() as http:
        listed = {tool["name"] for tool in (await http.get("/servers/finder/tools")).json()["tools"]}
        assert listed == {"search_tools", "get_tool_schemas", "execute_tool", "manage_connections"}
        found = await http.post("/servers/finder/tools/search_tools", json={"query": "plan a trip"})
        assert found.json()["structuredContent"]["tools"][0]["name"] == "shapes_plan_trip"
        run = await http.post(
            "/servers/finder/tools/execute_tool", json={"name": "echo_echo", "arguments": {"text": "hi"}}
        )
        assert run.json()["content"][0]["text"] == "hi"
        outside = await http.post("/servers/finder/tools/execute_tool", json={"name": "echo_env", "arguments": {}})
        assert outside.status_code == 404
        assert (await http.post("/servers/finder/tools/search_tools", json={})).status_code == 422


async def test_every_rest_result_says_whether_it_is_an_error(tmp_path) -> None:
    """docs/rest.md promises `isError` on every result, also from upstreams that leave it out when false
    (the in-process catalogs do)."""
    records = tmp_path / "nodes.json"
    records.write_text('[{"id": "slack.send", "title": "Send a Slack message", "category": "chat"}]')
    servers = {"nodes": {"type": "collection", "location": str(records), "record": "node"}}
    async with running_gateway({"mcpServers": servers}) as gateway, gateway.http() as http:
        found = await http.post("/tools/nodes_get", json={"id": "slack.send"})
        assert found.status_code == 200 and found.json()["isError"] is False
        missing = await http.post("/tools/nodes_get", json={"id": "nope"})
        assert missing.status_code == 200 and missing.json()["isError"] is True
