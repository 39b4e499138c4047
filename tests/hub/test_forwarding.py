"""Protocol fidelity through the gateway, with the official SDK client on both sides.

The upstreams are `tests/upstreams/fidelity_server.py` twice: `fid` as a stdio child and
`web` over Streamable HTTP, both prefixed, so every name and URI is translated on the
way in and out. Each test runs over legacy SSE and Streamable HTTP (and, where the
revision has the feature, the stateless 2026-07-28 revision).
"""

from __future__ import annotations

import base64
import functools
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.conftest import TESTS, Gateway, in_flight, running_gateway, serve_asgi, wait_until
from tests.upstreams.fidelity_server import BLOB, PNG, WAV, build_server

pytestmark = pytest.mark.anyio

HANDSHAKE = ["sse", "streamable_http"]
ALL = [*HANDSHAKE, "stateless"]
FIDELITY_SERVER = str(TESTS / "upstreams" / "fidelity_server.py")
FID_STDIO = {"command": sys.executable, "args": [FIDELITY_SERVER, "--stdio", "--label", "fid"]}


@asynccontextmanager
async def fidelity_gateway(fid: dict[str, Any] | None = None, **settings: Any) -> AsyncIterator[Gateway]:
    async with serve_asgi(build_server("web").streamable_http_app()) as web_url:
        config = {
            "mcpServers": {
                "fid": {
                    "command": sys.executable,
                    "args": [FIDELITY_SERVER, "--stdio", "--label", "fid"],
                    **(fid or {}),
                },
                "web": {"url": f"{web_url}/mcp", "type": "http"},
            },
            **settings,
        }
        async with running_gateway(config) as gateway:
            yield gateway


def text_of(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    first = result.content[0]
    assert isinstance(first, types.TextContent)
    return first.text


# -- tools -------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ALL)
async def test_every_content_type_and_structured_output_pass_through_unchanged(transport):
    async with fidelity_gateway() as gateway, gateway.client(transport, cache=None) as client:
        for upstream in ("fid", "web"):
            result = await client.call_tool(f"{upstream}_mixed", {})
            kinds = [block.type for block in result.content]
            assert kinds == ["text", "image", "audio", "resource", "resource_link"]
            text, image, audio, embedded, link = result.content
            assert text.text == f"from {upstream}"
            assert (image.data, image.mime_type) == (PNG, "image/png")
            assert (audio.data, audio.mime_type) == (WAV, "audio/wav")
            assert (str(embedded.resource.uri), embedded.resource.text) == ("mem://notes/readme", "embedded")
            assert str(link.uri) == "mem://notes/linked"

        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["web_weather"].output_schema["properties"]["celsius"]["type"] == "number"
        result = await client.call_tool("web_weather", {"city": "Oslo"})
        assert result.structured_content == {"city": "Oslo", "celsius": 21.5, "sky": "clear"}


# -- resources ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ALL)
async def test_resources_of_two_upstreams_never_collide_and_read_back(transport):
    async with fidelity_gateway() as gateway, gateway.client(transport, cache=None) as client:
        uris = sorted(str(r.uri) for r in (await client.list_resources()).resources)
        assert uris == ["fid+mem://blob", "fid+mem://notes/readme", "web+mem://blob", "web+mem://notes/readme"]
        templates = sorted(t.uri_template for t in (await client.list_resource_templates()).resource_templates)
        assert templates == ["fid+mem://notes/{name}", "web+mem://notes/{name}"]

        for upstream in ("fid", "web"):
            readme = (await client.read_resource(f"{upstream}+mem://notes/readme")).contents[0]
            assert (str(readme.uri), readme.text) == (f"{upstream}+mem://notes/readme", f"readme of {upstream}")
            blob = (await client.read_resource(f"{upstream}+mem://blob")).contents[0]
            assert base64.b64decode(blob.blob) == BLOB
            # A URI the template expands to, never listed: still routed by its prefix.
            note = (await client.read_resource(f"{upstream}+mem://notes/todo")).contents[0]
            assert (str(note.uri), note.text) == (f"{upstream}+mem://notes/todo", f"note todo of {upstream}")

        # The operator is told how URIs are exposed (also logged at start-up).
        upstreams = gateway.hub.health()[1]["upstreams"]
        assert (upstreams["fid"]["resourceUris"], upstreams["web"]["names"]) == ("fid+<uri>", "web_<name>")

        with pytest.raises(MCPError) as excinfo:
            await client.read_resource("mem://notes/readme")  # both upstreams have it: ambiguous, never guessed
        assert excinfo.value.error.code == types.INVALID_PARAMS and "Unknown resource" in excinfo.value.error.message


@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_resource_updates_reach_the_subscribing_session_only(transport):
    async with fidelity_gateway() as gateway:
        updates: dict[str, list[str]] = {"a": [], "b": []}

        def collector(name: str):
            async def on_message(message: Any) -> None:
                if isinstance(message, types.ResourceUpdatedNotification):
                    updates[name].append(str(message.params.uri))

            return on_message

        async with (
            gateway.client(transport, cache=None, message_handler=collector("a")) as a,
            gateway.client(transport, cache=None, message_handler=collector("b")) as b,
        ):
            await a.subscribe_resource("web+mem://notes/readme")
            assert text_of(await a.call_tool("web_subscriptions", {})) == "mem://notes/readme"
            await a.call_tool("web_touch", {"uri": "mem://notes/readme"})
            await b.call_tool("web_touch", {"uri": "mem://notes/readme"})
            await wait_until(lambda: len(updates["a"]) == 2)
            assert updates["a"] == ["web+mem://notes/readme"] * 2
            assert updates["b"] == []

            await a.unsubscribe_resource("web+mem://notes/readme")
            assert text_of(await a.call_tool("web_subscriptions", {})) == ""  # released upstream too


# -- prompts and completions -------------------------------------------------------------


@pytest.mark.parametrize("transport", ALL)
async def test_prompts_are_namespaced_and_keep_arguments_resources_and_images(transport):
    async with fidelity_gateway() as gateway, gateway.client(transport, cache=None) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {"fid_review", "fid_illustrated", "web_review", "web_illustrated"} <= set(prompts)
        assert [a.name for a in prompts["web_review"].arguments] == ["code", "style"]

        review = await client.get_prompt("web_review", {"code": "x = 1", "style": "kind"})
        assert review.messages[0].content.text == "Review this (kind): x = 1"
        illustrated = await client.get_prompt("fid_illustrated", {})
        embedded, image = (m.content for m in illustrated.messages)
        assert (embedded.type, embedded.resource.text) == ("resource", "the readme")
        assert (image.type, image.data) == ("image", PNG)


@pytest.mark.parametrize("transport", ALL)
async def test_completions_reach_the_upstream_owning_the_prompt_or_template(transport):
    async with fidelity_gateway() as gateway, gateway.client(transport, cache=None) as client:
        prompt_ref = types.PromptReference(type="ref/prompt", name="web_review")
        result = await client.complete(prompt_ref, {"name": "code", "value": "p"})
        assert result.completion.values == ["python", "pascal", "perl"]
        template_ref = types.ResourceTemplateReference(type="ref/resource", uri="fid+mem://notes/{name}")
        result = await client.complete(template_ref, {"name": "name", "value": "g"})
        assert result.completion.values == ["gamma"]


# -- logging, progress, cancellation -----------------------------------------------------


@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_logs_reach_only_the_calling_session_at_its_level(transport):
    async with fidelity_gateway() as gateway:
        logs: dict[str, list[str]] = {"a": [], "b": []}

        def collector(name: str):
            async def on_log(params: types.LoggingMessageNotificationParams) -> None:
                logs[name].append(str(params.data))

            return on_log

        async with (
            gateway.client(transport, cache=None, logging_callback=collector("a")) as a,
            gateway.client(transport, cache=None, logging_callback=collector("b")) as b,
        ):
            await a.set_logging_level("info")
            await b.set_logging_level("debug")
            for upstream in ("fid", "web"):
                await a.call_tool(f"{upstream}_chatter", {"text": f"a-{upstream}"})
                await b.call_tool(f"{upstream}_chatter", {"text": f"b-{upstream}"})
            await wait_until(lambda: len(logs["a"]) == 4 and len(logs["b"]) == 6)
            assert logs["a"] == ["info a-fid", "warning a-fid", "info a-web", "warning a-web"]
            assert all("b-" in line for line in logs["b"]) and "debug b-web" in logs["b"]


@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_two_sessions_with_the_same_progress_token_see_only_their_own(transport):
    async with fidelity_gateway() as gateway:
        seen: dict[str, list[tuple[float, str | None]]] = {"a": [], "b": []}

        async def run(name: str, steps: int) -> None:
            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                seen[name].append((progress, message))

            async with gateway.client(transport, cache=None) as client:
                # The SDK numbers its requests from the same start in every session: same tokens.
                assert text_of(await client.call_tool("web_count", {"steps": steps}, progress_callback=on_progress))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "a", 3)
            tg.start_soon(run, "b", 5)
        assert seen["a"] == [(s, f"step {s}") for s in (1, 2, 3)]
        assert seen["b"] == [(s, f"step {s}") for s in (1, 2, 3, 4, 5)]


@pytest.mark.parametrize("upstream", ["fid", "web"])
@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_a_cancelled_call_stops_the_upstream_request(transport, upstream):
    async with fidelity_gateway() as gateway, gateway.client(transport, cache=None) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(client.call_tool, f"{upstream}_slow", {"tag": "first"}))
            await wait_until(lambda: in_flight(gateway.hub, upstream) > 0)
            tg.cancel_scope.cancel()  # the client gives up: the SDK sends notifications/cancelled
        await wait_until_cancelled(client, upstream, "first")
        assert in_flight(gateway.hub, upstream) == 0


async def wait_until_cancelled(client: Any, upstream: str, tag: str) -> None:
    with anyio.fail_after(10):
        while tag not in text_of(await client.call_tool(f"{upstream}_cancellations", {})).split(","):
            await anyio.sleep(0.02)


# -- requests from the upstream to the client ---------------------------------------------


def sampler(name: str, asked: list[str]):
    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=f"{name} answers"), model="test-model"
        )

    return sampling


def elicitor(colour: str, asked: list[str]):
    async def elicitation(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        if getattr(params, "mode", "form") == "url":
            return types.ElicitResult(action="accept")
        return types.ElicitResult(action="accept", content={"colour": colour})

    return elicitation


@pytest.mark.parametrize("upstream", ["fid", "web"])
@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_sampling_elicitation_and_roots_go_to_the_calling_client(transport, upstream):
    asked: list[str] = []

    async def roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])

    completed: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ElicitCompleteNotification):
            completed.append(message.params.elicitation_id)

    async with (
        fidelity_gateway() as gateway,
        gateway.client(
            transport,
            cache=None,
            sampling_callback=sampler("alice", asked),
            elicitation_callback=elicitor("teal", asked),
            list_roots_callback=roots,
            message_handler=on_message,
        ) as client,
    ):
        assert text_of(await client.call_tool(f"{upstream}_sample", {"prompt": "hi"})) == "model said: alice answers"
        assert text_of(await client.call_tool(f"{upstream}_ask", {"question": "Colour?"})) == "accept: teal"
        assert text_of(await client.call_tool(f"{upstream}_visit", {})) == "accept"
        assert text_of(await client.call_tool(f"{upstream}_roots", {})) == "file:///work/project"
        assert asked == ["hi", "Colour?", "Sign in, please"]
        await wait_until(lambda: completed == [f"login-{upstream}"])  # the URL elicitation's completion notice


@pytest.mark.parametrize("upstream", ["fid", "web"])
@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_an_upstream_withdrawing_its_request_cancels_it_at_the_client(transport, upstream):
    withdrawn = anyio.Event()

    async def never_answers(context: Any, params: Any) -> types.CreateMessageResult:
        try:
            await anyio.sleep_forever()
        finally:
            withdrawn.set()  # the client's dispatcher cancelled us: notifications/cancelled arrived

    async with (
        fidelity_gateway() as gateway,
        gateway.client(transport, cache=None, sampling_callback=never_answers) as client,
    ):
        assert text_of(await client.call_tool(f"{upstream}_impatient", {})) == "gave up"
        with anyio.fail_after(10):
            await withdrawn.wait()


@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_a_client_without_the_capability_gets_the_refusal_not_a_hang(transport):
    async with fidelity_gateway() as gateway, gateway.client(transport, cache=None) as client:
        # The upstream (SDK) turns the refusal into its tool call's JSON-RPC error.
        with pytest.raises(MCPError) as excinfo:
            await client.call_tool("web_sample", {"prompt": "hi"})
        assert "did not declare the sampling capability" in excinfo.value.error.message


@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_concurrent_sessions_never_see_each_others_sampling_or_elicitation(transport):
    asked = {"a": [], "b": []}
    async with fidelity_gateway() as gateway:

        async def session(name: str, colour: str) -> None:
            async with gateway.client(
                transport,
                cache=None,
                sampling_callback=sampler(name, asked[name]),
                elicitation_callback=elicitor(colour, asked[name]),
            ) as client:
                for round_ in range(5):
                    said = text_of(await client.call_tool("web_sample", {"prompt": f"{name}{round_}"}))
                    assert said == f"model said: {name} answers"
                    answer = text_of(await client.call_tool("web_ask", {"question": f"{name}?{round_}"}))
                    assert answer == f"accept: {colour}"

        async with anyio.create_task_group() as tg:
            tg.start_soon(session, "a", "red")
            tg.start_soon(session, "b", "blue")
        assert all(q.startswith("a") for q in asked["a"]) and len(asked["a"]) == 10
        assert all(q.startswith("b") for q in asked["b"]) and len(asked["b"]) == 10


# -- lists: changes, capabilities, pagination ---------------------------------------------


@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_prompt_and_resource_list_changes_reach_other_sessions_and_lists_refresh(transport):
    async with fidelity_gateway() as gateway:
        heard: list[str] = []

        async def on_message(message: Any) -> None:
            if isinstance(message, types.PromptListChangedNotification | types.ResourceListChangedNotification):
                heard.append(message.method)

        async with (
            gateway.client(transport, cache=None) as a,
            gateway.client(transport, cache=None, message_handler=on_message) as b,
        ):
            await a.call_tool("web_grow", {"kind": "prompt", "name": "hello"})
            await wait_until(lambda: "notifications/prompts/list_changed" in heard)
            assert "web_hello" in {p.name for p in (await b.list_prompts()).prompts}

            await a.call_tool("fid_grow", {"kind": "resource", "name": "fresh"})
            await wait_until(lambda: "notifications/resources/list_changed" in heard)
            assert "fid+mem://grown/fresh" in {str(r.uri) for r in (await b.list_resources()).resources}
            assert (await b.read_resource("fid+mem://grown/fresh")).contents[0].text == "grown fresh"


async def initialize_raw(gateway: Gateway) -> dict[str, Any]:
    async with gateway.http() as http:
        response = await http.post(
            "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}},
            },
            headers={"accept": "application/json, text/event-stream"},
        )
        return response.json()["result"]["capabilities"]


async def test_capabilities_are_the_honest_union_of_the_upstreams():
    tools_only = {"command": sys.executable, "args": [str(TESTS / "upstreams" / "tools_only_server.py")]}
    async with running_gateway({"mcpServers": {"plain": tools_only}}) as gateway:
        assert await initialize_raw(gateway) == {"tools": {"listChanged": True}}
        assert (await gateway.hub.upstreams["plain"].request("tools/call", {"name": "ping_back"}))["content"]

    async with fidelity_gateway() as gateway:
        capabilities = await initialize_raw(gateway)
        assert capabilities == {
            "tools": {"listChanged": True},
            "prompts": {"listChanged": True},
            "resources": {"listChanged": True, "subscribe": True},
            "completions": {},
            "logging": {},
        }


@pytest.mark.parametrize("transport", ALL)
async def test_every_merged_list_pages_with_cursors_that_span_upstreams(transport):
    async with fidelity_gateway(pageSize=3) as gateway, gateway.client(transport, cache=None) as client:
        catalog = gateway.hub.catalog
        for method, attribute, key, everything in (
            (client.list_tools, "tools", "name", catalog.tools),
            (client.list_prompts, "prompts", "name", catalog.prompts),
            (client.list_resources, "resources", "uri", catalog.resources),
        ):
            names, cursor, pages = [], None, 0
            while True:
                result = await method(cursor=cursor)
                pages += 1
                names += [str(getattr(entry, key)) for entry in getattr(result, attribute)]
                cursor = result.next_cursor
                if cursor is None:
                    break
            assert names == [entry[key] for entry in everything]
            assert pages == -(-len(everything) // 3)
        with pytest.raises(MCPError) as excinfo:
            await client.list_tools(cursor="not-a-cursor")
        assert excinfo.value.error.code == types.INVALID_PARAMS


# -- a client that goes away ----------------------------------------------------------------

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
ACCEPT = {"accept": "application/json, text/event-stream"}


def slow_call(upstream: str, tag: str) -> dict[str, Any]:
    params = {"name": f"{upstream}_slow", "arguments": {"tag": tag}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


@pytest.mark.parametrize("upstream", ["fid", "web"])
async def test_a_streamable_http_client_hanging_up_cancels_its_upstream_call(upstream):
    async with fidelity_gateway() as gateway, gateway.client("streamable_http", cache=None) as probe:
        async with gateway.http() as http:
            opened = await http.post("/mcp", json=INIT, headers=ACCEPT)
            headers = {**ACCEPT, "mcp-session-id": opened.headers["mcp-session-id"]}
            await http.post("/mcp", json=INITIALIZED, headers=headers)

            async def call() -> None:
                await http.post("/mcp", json=slow_call(upstream, "hung-up"), headers=headers)

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await wait_until(lambda: in_flight(gateway.hub, upstream) == 1)
                tg.cancel_scope.cancel()  # drops the connection mid-request
        await wait_until_cancelled(probe, upstream, "hung-up")  # the same upstream session: neither declares anything
        await wait_until(lambda: in_flight(gateway.hub, upstream) == 0)


async def test_an_sse_client_hanging_up_cancels_its_upstream_call():
    async with fidelity_gateway() as gateway, gateway.client("streamable_http", cache=None) as probe:
        async with gateway.http() as http, http.stream("GET", "/sse") as stream:
            lines = stream.aiter_lines()
            async for line in lines:
                if line.startswith("data: "):
                    endpoint = line.removeprefix("data: ")
                    break
            await http.post(endpoint, json=INIT)
            await http.post(endpoint, json=INITIALIZED)
            await http.post(endpoint, json=slow_call("fid", "sse-gone"))
            await wait_until(lambda: in_flight(gateway.hub, "fid") == 1)
        # The stream is closed: the session ends and takes its in-flight call with it.
        await wait_until_cancelled(probe, "fid", "sse-gone")
        await wait_until(lambda: in_flight(gateway.hub, "fid") == 0)


# -- 2026-07-28 ------------------------------------------------------------------------------


async def test_a_2026_client_gets_logs_at_its_per_request_level_only():
    async with fidelity_gateway() as gateway:
        for level, expected in ((None, []), ("warning", ["warning w"])):
            logs: list[str] = []

            async def on_log(params: types.LoggingMessageNotificationParams) -> None:
                logs.append(str(params.data))  # noqa: B023 - consumed before the loop moves on

            async with gateway.client("stateless", cache=None, logging_callback=on_log, log_level=level) as client:
                for upstream in ("fid", "web"):
                    await client.call_tool(f"{upstream}_chatter", {"text": "w"})
            assert logs == expected * 2, (level, logs)


@pytest.mark.parametrize("transport", HANDSHAKE)
async def test_a_per_session_stdio_upstream_gives_concurrent_sessions_exact_routing(transport):
    asked: dict[str, list[str]] = {"a": [], "b": []}
    logs: dict[str, list[str]] = {"a": [], "b": []}
    async with fidelity_gateway(fid={"perSession": True}) as gateway:

        async def session(name: str, colour: str) -> None:
            async def on_log(params: types.LoggingMessageNotificationParams) -> None:
                logs[name].append(str(params.data))

            async with gateway.client(
                transport,
                cache=None,
                sampling_callback=sampler(name, asked[name]),
                elicitation_callback=elicitor(colour, asked[name]),
                logging_callback=on_log,
            ) as client:
                await client.set_logging_level("info")
                for round_ in range(5):
                    said = text_of(await client.call_tool("fid_sample", {"prompt": f"{name}{round_}"}))
                    assert said == f"model said: {name} answers"
                    answer = text_of(await client.call_tool("fid_ask", {"question": f"{name}?{round_}"}))
                    assert answer == f"accept: {colour}"
                    await client.call_tool("fid_chatter", {"text": f"{name}{round_}"})

        async with anyio.create_task_group() as tg:
            tg.start_soon(session, "a", "red")
            tg.start_soon(session, "b", "blue")
        for name in ("a", "b"):
            assert len(asked[name]) == 10 and all(q.startswith(name) for q in asked[name])
            expected = [f"{level} {name}{r}" for r in range(5) for level in ("info", "warning")]
            assert logs[name] == expected, logs[name]
        await wait_until(lambda: not gateway.hub.children.of_sessions)  # each child ended with its session


async def test_a_2026_client_answers_upstream_requests_through_input_required_rounds():
    # fid is a handshake-era stdio child: the gateway turns its sampling/elicitation/roots
    # requests into input_required rounds. (An upstream that speaks 2026-07-28 itself has its
    # input_required passed through intact: the conformance suite's input-required scenarios.)
    upstream = "fid"
    asked: list[str] = []

    async def roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///work/project", name="project")])

    async with (
        fidelity_gateway() as gateway,
        gateway.client(
            "stateless",
            cache=None,
            sampling_callback=sampler("modern", asked),
            elicitation_callback=elicitor("green", asked),
            list_roots_callback=roots,
        ) as client,
    ):
        assert text_of(await client.call_tool(f"{upstream}_sample", {"prompt": "hi"})) == "model said: modern answers"
        assert text_of(await client.call_tool(f"{upstream}_ask", {"question": "Colour?"})) == "accept: green"
        assert text_of(await client.call_tool(f"{upstream}_roots", {})) == "file:///work/project"
        assert asked == ["hi", "Colour?"]


async def test_a_forged_request_state_is_refused():
    async with fidelity_gateway() as gateway, gateway.client("stateless", cache=None) as client:
        with pytest.raises(MCPError) as excinfo:
            await client.call_tool("fid_ask", {"question": "?"}, input_responses={}, request_state="forged")
        assert excinfo.value.error.code == types.INVALID_PARAMS and "requestState" in excinfo.value.error.message


async def test_a_2026_listen_stream_is_acknowledged_filtered_and_tagged():
    envelope = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    listen = {
        "jsonrpc": "2.0",
        "id": 77,
        "method": "subscriptions/listen",
        "params": {"_meta": envelope, "notifications": {"promptsListChanged": True}},
    }
    headers = {**ACCEPT, "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen"}
    async with fidelity_gateway() as gateway, gateway.client("streamable_http", cache=None) as client:
        async with gateway.http() as http, http.stream("POST", "/mcp", json=listen, headers=headers) as stream:
            frames = (json.loads(line[6:]) async for line in stream.aiter_lines() if line.startswith("data: "))
            ack = await anext(frames)
            assert ack["method"] == "notifications/subscriptions/acknowledged"
            assert ack["params"]["notifications"] == {"promptsListChanged": True}
            assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 77
            await client.call_tool("fid_grow", {"kind": "resource", "name": "unwanted"})  # not asked for
            await client.call_tool("fid_grow", {"kind": "prompt", "name": "wanted"})
            with anyio.fail_after(10):
                change = await anext(frames)
            assert change["method"] == "notifications/prompts/list_changed"
            assert change["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 77
