#!/usr/bin/env python3
"""Conformance fixture MCP server for mcpgate tests.

Implements every server-side fixture that ``@modelcontextprotocol/conformance``
0.1.x (the pinned stable in tools/package.json) expects; see SCENARIOS.md in this
directory for the scenario -> fixture map. Built on the official SDK's low-level
``mcp.server.Server`` so that every tool schema and every result is exactly what
the suite specifies (e.g. the JSON Schema 2020-12 keywords on
``json_schema_2020_12_tool`` survive verbatim, which MCPServer's signature-derived
schemas would not produce).

Run it as:

    python tests/conformance/fixture_server.py --stdio
    python tests/conformance/fixture_server.py --http --port 8765          # http://127.0.0.1:8765/mcp
    python tests/conformance/fixture_server.py --http --port 0             # ephemeral port
    python tests/conformance/fixture_server.py --sse --port 0              # legacy SSE: /sse + /messages/

In the HTTP modes, once the listening socket is bound the server prints exactly one
line to stdout::

    READY http://127.0.0.1:<port>/mcp          (or .../sse with --sse)

so a parent process can learn the (possibly ephemeral) port without guessing.

Everything can also be imported: ``build_server()`` returns the low-level Server,
``build_http_app()`` the Starlette ASGI app (Streamable HTTP at /mcp),
``build_sse_app()`` the legacy SSE app (GET /sse, POST /messages/).
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import warnings
from collections.abc import Callable
from itertools import count
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

# The 2025-era features this fixture must serve (logging/setLevel, server-initiated
# sampling, log notifications) are deprecated as of the 2026-07-28 revision. The
# conformance suite still tests them for 2025-06-18/2025-11-25, so silence the noise.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

logger = logging.getLogger("mcpgate.conformance.fixture")

SERVER_NAME = "mcpgate-conformance-fixture"
SERVER_VERSION = "0.1.0"

# 1x1 red PNG and a minimal 8 kHz mono 16-bit WAV (8 silent frames), as the suite suggests.
PNG_1X1_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV_BASE64 = "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA"

# The suite's fixture descriptions say "wait ~50ms" between the log / progress
# notifications of test_tool_with_logging / test_tool_with_progress. This is the
# fixture's specified pacing, not a synchronisation wait; the notifications are
# sent before the tool result either way.
STEP_DELAY_S = 0.05

JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"

EMPTY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}

LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


# ---------------------------------------------------------------------------
# Event store (SEP-1699 resumability: priming events, Last-Event-ID replay)
# ---------------------------------------------------------------------------


class InMemoryEventStore(EventStore):
    """Unbounded in-memory event store; fine for a short-lived test fixture."""

    def __init__(self) -> None:
        self._events: list[tuple[StreamId, EventId, types.JSONRPCMessage | None]] = []
        self._ids = count(1)

    async def store_event(self, stream_id: StreamId, message: types.JSONRPCMessage | None) -> EventId:
        event_id = str(next(self._ids))
        self._events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        stream_id = next((s for s, e, _ in self._events if e == last_event_id), None)
        if stream_id is None:
            return None
        after = int(last_event_id)
        for s, e, message in list(self._events):
            if s == stream_id and int(e) > after and message is not None:
                await send_callback(EventMessage(message, e))
        return stream_id


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _text(text: str) -> types.TextContent:
    return types.TextContent(type="text", text=text)


def _result(*content: Any, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), is_error=is_error)


def _session_key(ctx: ServerRequestContext[Any, Any]) -> str:
    """Per-connection key for state such as the logging level (HTTP session id, or stdio)."""
    headers = getattr(ctx.request, "headers", None)
    if headers is not None:
        sid = headers.get("mcp-session-id")
        if sid:
            return sid
    return "stdio"


class FixtureState:
    def __init__(self) -> None:
        self.log_levels: dict[str, str] = {}
        self.subscriptions: dict[str, set[str]] = {}

    def should_log(self, ctx: ServerRequestContext[Any, Any], level: str) -> bool:
        minimum = self.log_levels.get(_session_key(ctx), "debug")
        return LOG_LEVELS.index(level) >= LOG_LEVELS.index(minimum)


# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

ToolFn = Callable[[ServerRequestContext[Any, Any], dict[str, Any], FixtureState], Any]

TOOLS: dict[str, tuple[types.Tool, ToolFn]] = {}


def tool(name: str, description: str, input_schema: dict[str, Any] | None = None):
    def register(fn: ToolFn) -> ToolFn:
        spec = types.Tool(name=name, description=description, input_schema=input_schema or EMPTY_OBJECT_SCHEMA)
        TOOLS[name] = (spec, fn)
        return fn

    return register


@tool("test_simple_text", "Returns a simple text response")
async def _simple_text(ctx, args, state):
    return _result(_text("This is a simple text response for testing."))


@tool("test_image_content", "Returns image content (1x1 PNG)")
async def _image(ctx, args, state):
    return _result(types.ImageContent(type="image", data=PNG_1X1_BASE64, mime_type="image/png"))


@tool("test_audio_content", "Returns audio content (minimal WAV)")
async def _audio(ctx, args, state):
    return _result(types.AudioContent(type="audio", data=WAV_BASE64, mime_type="audio/wav"))


@tool("test_embedded_resource", "Returns an embedded text resource")
async def _embedded(ctx, args, state):
    return _result(
        types.EmbeddedResource(
            type="resource",
            resource=types.TextResourceContents(
                uri="test://embedded-resource",
                mime_type="text/plain",
                text="This is an embedded resource content.",
            ),
        )
    )


@tool("test_multiple_content_types", "Returns text, image and embedded resource content")
async def _mixed(ctx, args, state):
    return _result(
        _text("Multiple content types test:"),
        types.ImageContent(type="image", data=PNG_1X1_BASE64, mime_type="image/png"),
        types.EmbeddedResource(
            type="resource",
            resource=types.TextResourceContents(
                uri="test://mixed-content-resource",
                mime_type="application/json",
                text=json.dumps({"test": "data", "value": 123}, separators=(",", ":")),
            ),
        ),
    )


@tool("test_tool_with_logging", "Sends three info log notifications while running")
async def _logging(ctx, args, state):
    messages = ["Tool execution started", "Tool processing data", "Tool execution completed"]
    for i, message in enumerate(messages):
        if i:
            await anyio.sleep(STEP_DELAY_S)
        if state.should_log(ctx, "info"):
            await ctx.session.send_log_message(
                level="info", data=message, logger="conformance-fixture", related_request_id=ctx.request_id
            )
    return _result(_text("Tool with logging executed successfully"))


@tool("test_tool_with_progress", "Reports progress 0/100, 50/100, 100/100")
async def _progress(ctx, args, state):
    for i, value in enumerate((0, 50, 100)):
        if i:
            await anyio.sleep(STEP_DELAY_S)
        # A no-op when the caller sent no progressToken.
        await ctx.session.report_progress(value, 100, f"Completed step {value} of 100")
    meta = ctx.meta or {}  # a TypedDict (plain dict) keyed by wire names
    token = meta.get("progressToken")
    return _result(_text(f"Progress test completed (progressToken={token})"))


@tool("test_error_handling", "Always fails with isError: true")
async def _error(ctx, args, state):
    return _result(_text("This tool intentionally returns an error for testing"), is_error=True)


@tool(
    "test_sampling",
    "Requests LLM sampling from the client",
    {
        "type": "object",
        "properties": {"prompt": {"type": "string", "description": "The prompt to send to the LLM"}},
        "required": ["prompt"],
    },
)
async def _sampling(ctx, args, state):
    caps = ctx.session.client_capabilities
    if caps is None or caps.sampling is None:
        return _result(_text("Client does not support sampling"), is_error=True)
    result = await ctx.session.create_message(
        messages=[types.SamplingMessage(role="user", content=_text(str(args.get("prompt", ""))))],
        max_tokens=100,
        related_request_id=ctx.request_id,
    )
    content = result.content
    reply = content.text if isinstance(content, types.TextContent) else json.dumps(content.model_dump(mode="json"))
    return _result(_text(f"LLM response: {reply}"))


async def _elicit(ctx, message: str, schema: dict[str, Any]) -> types.ElicitResult | types.CallToolResult:
    caps = ctx.session.client_capabilities
    if caps is None or caps.elicitation is None:
        return _result(_text("Client does not support elicitation"), is_error=True)
    return await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)


@tool(
    "test_elicitation",
    "Requests user input (username, email) from the client",
    {
        "type": "object",
        "properties": {"message": {"type": "string", "description": "The message to show the user"}},
        "required": ["message"],
    },
)
async def _elicitation(ctx, args, state):
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    res = await _elicit(ctx, str(args.get("message", "")), schema)
    if isinstance(res, types.CallToolResult):
        return res
    return _result(_text(f"User response: action={res.action}, content={json.dumps(res.content or {})}"))


@tool("test_elicitation_sep1034_defaults", "Elicitation with defaults for all primitive types (SEP-1034)")
async def _elicitation_defaults(ctx, args, state):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
    }
    res = await _elicit(ctx, "Please provide user information", schema)
    if isinstance(res, types.CallToolResult):
        return res
    return _result(_text(f"Elicitation completed: action={res.action}, content={json.dumps(res.content or {})}"))


@tool("test_elicitation_sep1330_enums", "Elicitation with all five enum schema variants (SEP-1330)")
async def _elicitation_enums(ctx, args, state):
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Untitled single-select",
                "enum": ["option1", "option2", "option3"],
            },
            "titledSingle": {
                "type": "string",
                "description": "Titled single-select",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "description": "Legacy titled enum (deprecated enumNames)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "description": "Untitled multi-select",
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "description": "Titled multi-select",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ]
                },
            },
        },
    }
    res = await _elicit(ctx, "Please select values using different enum schema types", schema)
    if isinstance(res, types.CallToolResult):
        return res
    return _result(_text(f"Elicitation completed: action={res.action}, content={json.dumps(res.content or {})}"))


@tool(
    "json_schema_2020_12_tool",
    "Tool with JSON Schema 2020-12 features",
    {
        "$schema": JSON_SCHEMA_2020_12,
        "type": "object",
        "$defs": {
            "address": {
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "additionalProperties": False,
    },
)
async def _json_schema_2020_12(ctx, args, state):
    return _result(_text(f"Received: {json.dumps(args, sort_keys=True)}"))


@tool("test_reconnection", "Closes the SSE stream mid-call so the client must resume (SEP-1699)")
async def _reconnection(ctx, args, state):
    if state.should_log(ctx, "info"):
        await ctx.session.send_log_message(
            level="info", data="Before disconnect", logger="conformance-fixture", related_request_id=ctx.request_id
        )
    if ctx.close_sse_stream is not None:
        # With an event store the rest of this request's messages are stored and
        # replayed when the client reconnects with Last-Event-ID, so nothing needs
        # to wait for the reconnection here.
        await ctx.close_sse_stream()
    return _result(_text("Reconnection test completed"))


# ---------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------

ResourceContents = types.TextResourceContents | types.BlobResourceContents

STATIC_RESOURCES: dict[str, tuple[types.Resource, Callable[[], ResourceContents]]] = {
    "test://static-text": (
        types.Resource(
            uri="test://static-text",
            name="static-text",
            description="A static text resource for testing",
            mime_type="text/plain",
        ),
        lambda: types.TextResourceContents(
            uri="test://static-text",
            mime_type="text/plain",
            text="This is the content of the static text resource.",
        ),
    ),
    "test://static-binary": (
        types.Resource(
            uri="test://static-binary",
            name="static-binary",
            description="A static binary resource (PNG image) for testing",
            mime_type="image/png",
        ),
        lambda: types.BlobResourceContents(uri="test://static-binary", mime_type="image/png", blob=PNG_1X1_BASE64),
    ),
    "test://watched-resource": (
        types.Resource(
            uri="test://watched-resource",
            name="watched-resource",
            description="A resource that can be subscribed to",
            mime_type="text/plain",
        ),
        lambda: types.TextResourceContents(
            uri="test://watched-resource", mime_type="text/plain", text="Watched resource content"
        ),
    ),
}

TEMPLATE_PREFIX, TEMPLATE_SUFFIX = "test://template/", "/data"
RESOURCE_TEMPLATES = [
    types.ResourceTemplate(
        uri_template="test://template/{id}/data",
        name="template-data",
        description="A resource template with parameter substitution",
        mime_type="application/json",
    )
]


def _read_resource(uri: str) -> ResourceContents | None:
    if uri in STATIC_RESOURCES:
        return STATIC_RESOURCES[uri][1]()
    if uri.startswith(TEMPLATE_PREFIX) and uri.endswith(TEMPLATE_SUFFIX):
        rid = uri[len(TEMPLATE_PREFIX) : -len(TEMPLATE_SUFFIX)]
        if rid and "/" not in rid:
            payload = {"id": rid, "templateTest": True, "data": f"Data for ID: {rid}"}
            return types.TextResourceContents(
                uri=uri, mime_type="application/json", text=json.dumps(payload, separators=(",", ":"))
            )
    return None


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------

PROMPTS = [
    types.Prompt(name="test_simple_prompt", description="A simple prompt without arguments"),
    types.Prompt(
        name="test_prompt_with_arguments",
        description="A prompt with required arguments",
        arguments=[
            types.PromptArgument(name="arg1", description="First test argument", required=True),
            types.PromptArgument(name="arg2", description="Second test argument", required=True),
        ],
    ),
    types.Prompt(
        name="test_prompt_with_embedded_resource",
        description="A prompt that includes an embedded resource",
        arguments=[types.PromptArgument(name="resourceUri", description="URI of the resource to embed", required=True)],
    ),
    types.Prompt(name="test_prompt_with_image", description="A prompt that includes image content"),
]


def _user(content: Any) -> types.PromptMessage:
    return types.PromptMessage(role="user", content=content)


def _get_prompt(name: str, args: dict[str, str]) -> types.GetPromptResult:
    if name == "test_simple_prompt":
        messages = [_user(_text("This is a simple prompt for testing."))]
    elif name == "test_prompt_with_arguments":
        missing = [a for a in ("arg1", "arg2") if a not in args]
        if missing:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Missing required arguments: {', '.join(missing)}")
        messages = [_user(_text(f"Prompt with arguments: arg1='{args['arg1']}', arg2='{args['arg2']}'"))]
    elif name == "test_prompt_with_embedded_resource":
        if "resourceUri" not in args:
            raise MCPError(code=types.INVALID_PARAMS, message="Missing required argument: resourceUri")
        messages = [
            _user(
                types.EmbeddedResource(
                    type="resource",
                    resource=types.TextResourceContents(
                        uri=args["resourceUri"], mime_type="text/plain", text="Embedded resource content for testing."
                    ),
                )
            ),
            _user(_text("Please process the embedded resource above.")),
        ]
    elif name == "test_prompt_with_image":
        messages = [
            _user(types.ImageContent(type="image", data=PNG_1X1_BASE64, mime_type="image/png")),
            _user(_text("Please analyze the image above.")),
        ]
    else:
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt: {name}")
    description = next(p.description for p in PROMPTS if p.name == name)
    return types.GetPromptResult(description=description, messages=messages)


COMPLETIONS: dict[tuple[str, str], list[str]] = {
    ("test_prompt_with_arguments", "arg1"): ["paris", "park", "party", "test", "testValue1"],
    ("test_prompt_with_arguments", "arg2"): ["testValue2", "world"],
    ("test://template/{id}/data", "id"): ["1", "123", "42"],
}


# ---------------------------------------------------------------------------
# Server assembly
# ---------------------------------------------------------------------------


def build_server() -> Server[Any]:
    state = FixtureState()

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[spec for spec, _ in TOOLS.values()])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        entry = TOOLS.get(params.name)
        if entry is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        return await entry[1](ctx, dict(params.arguments or {}), state)

    async def list_resources(ctx, params) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[r for r, _ in STATIC_RESOURCES.values()])

    async def list_resource_templates(ctx, params) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=RESOURCE_TEMPLATES)

    async def read_resource(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        contents = _read_resource(uri)
        if contents is None:
            # SEP-2164: never an empty contents array; -32602 with the uri in data.
            raise MCPError(code=types.INVALID_PARAMS, message="Resource not found", data={"uri": uri})
        return types.ReadResourceResult(contents=[contents])

    async def subscribe(ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        state.subscriptions.setdefault(_session_key(ctx), set()).add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        state.subscriptions.get(_session_key(ctx), set()).discard(str(params.uri))
        return types.EmptyResult()

    async def list_prompts(ctx, params) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=PROMPTS)

    async def get_prompt(ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return _get_prompt(params.name, dict(params.arguments or {}))

    async def complete(ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
        ref = params.ref
        key = getattr(ref, "name", None) or getattr(ref, "uri", None) or ""
        candidates = COMPLETIONS.get((key, params.argument.name), [])
        values = [v for v in candidates if v.startswith(params.argument.value)]
        return types.CompleteResult(completion=types.Completion(values=values, total=len(values), has_more=False))

    async def set_logging_level(ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        state.log_levels[_session_key(ctx)] = params.level
        return types.EmptyResult()

    return Server(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions="Conformance fixture server for mcpgate tests.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_set_logging_level=set_logging_level,
    )


def build_http_app(server: Server[Any] | None = None, *, host: str = "127.0.0.1", retry_interval_ms: int = 100):
    """The Streamable HTTP ASGI app (endpoint /mcp), stateful, with an event store for resumability."""
    server = server or build_server()
    return server.streamable_http_app(
        streamable_http_path="/mcp",
        event_store=InMemoryEventStore(),
        retry_interval=retry_interval_ms,
        host=host,  # loopback hosts get the SDK's DNS-rebinding protection automatically
    )


def build_sse_app(server: Server[Any] | None = None, *, host: str = "127.0.0.1"):
    """The legacy HTTP+SSE ASGI app: GET /sse opens the stream, POST /messages/?session_id=... sends."""
    from mcp.server.sse import SseServerTransport
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    server = server or build_server()
    security = None
    if host in ("127.0.0.1", "localhost", "::1"):  # same DNS-rebinding defaults as the SDK's own apps
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    sse = SseServerTransport("/messages/", security_settings=security)

    async def handle_sse(request):
        async with sse.connect_sse(request.scope, request.receive, request._send) as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
        return Response()

    return Starlette(
        routes=[Route("/sse", endpoint=handle_sse, methods=["GET"]), Mount("/messages/", app=sse.handle_post_message)]
    )


async def _run_stdio() -> None:
    from mcp.server.stdio import stdio_server

    server = build_server()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def _serve(app: Any, host: str, port: int, path: str, log_level: str) -> None:
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(app, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)
    # The socket is already listening, so connections made after this line are queued.
    print(f"READY http://{url_host}:{bound_port}{path}", flush=True)
    server.run(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stdio", action="store_true", help="serve MCP over stdin/stdout")
    mode.add_argument("--http", action="store_true", help="serve Streamable HTTP at http://HOST:PORT/mcp")
    mode.add_argument("--sse", action="store_true", help="serve legacy HTTP+SSE at http://HOST:PORT/sse")
    parser.add_argument("--host", default="127.0.0.1", help="bind address for --http (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port for --http/--sse; 0 = any free (default 8765)")
    parser.add_argument("--log-level", default="warning", help="uvicorn / fixture log level (default warning)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if args.stdio:
        anyio.run(_run_stdio)
    elif args.http:
        _serve(build_http_app(host=args.host), args.host, args.port, "/mcp", args.log_level.lower())
    else:
        _serve(build_sse_app(host=args.host), args.host, args.port, "/sse", args.log_level.lower())
    return 0


if __name__ == "__main__":
    sys.exit(main())
