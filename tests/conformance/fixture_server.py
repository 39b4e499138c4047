#!/usr/bin/env python3
"""Conformance fixture MCP server for mcpgate tests.

Implements every server-side fixture that ``@modelcontextprotocol/conformance``
0.1.x (the pinned stable in tools/package.json) expects, plus the fixtures the
pre-release 0.2.x suite (``conformance-next``) adds for protocol 2026-07-28: the
SEP-2322 ``input_required`` tools and prompt, the server-stateless diagnostic tools
and an ``x-mcp-header`` tool (see SCENARIOS.md in this directory for the
scenario -> fixture map). Built on the official SDK's low-level ``mcp.server.Server``
so that every tool schema and every result is exactly what the suite specifies
(e.g. the JSON Schema 2020-12 keywords on ``json_schema_2020_12_tool`` survive
verbatim, which MCPServer's signature-derived schemas would not produce).

The tools that need client input (elicitation, sampling, roots) are written once
and work on both protocol eras: on a 2026-07-28 request they return an
``input_required`` result and finish when the client retries with
``inputResponses``/``requestState``; on a handshake-era connection (<= 2025-11-25,
e.g. a gateway talking to this server over stdio) they send the classic
server->client requests on the call's own stream instead (see ``ClientInputs``).

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
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, PromptsListChanged, ToolsListChanged
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

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


def _is_modern(ctx: ServerRequestContext[Any, Any]) -> bool:
    """True for a 2026-07-28 (stateless, per-request ``_meta``) request; False on a handshake-era connection."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


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
        # What subscriptions/listen streams hear (2026-07-28): the trigger tools' list changes.
        self.bus = InMemorySubscriptionBus()
        self.dynamic_tool = False  # test_dynamic_tool listed (test_trigger_tool_change toggles it)
        self.dynamic_prompt = False  # test_dynamic_prompt listed (test_trigger_prompt_change toggles it)

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


# The suite's own definition of this tool (0.2.x; 0.1.x checks a subset): JSON Schema
# 2020-12 with ``$schema``, ``$defs`` and ``additionalProperties: false`` (SEP-1613), plus
# the broader 2020-12 vocabulary SEP-2106 spells out - an ``$anchor`` inside ``$defs``,
# ``allOf``/``anyOf`` and ``if``/``then``/``else``. The same schema on every protocol
# version: these are standard 2020-12 keywords (the 0.2.x suite just skips checking them
# below 2026-07-28), and a gateway that lists tools over the handshake era must see what a
# 2026-07-28 client expects. The fixture does not validate arguments, so callers sending
# just ``{"name": ...}`` still get the echo.
JSON_SCHEMA_2020_12_TOOL_SCHEMA: dict[str, Any] = {
    "$schema": JSON_SCHEMA_2020_12,
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


@tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features", JSON_SCHEMA_2020_12_TOOL_SCHEMA)
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
# Client input across protocol eras (SEP-2322 input_required / server->client requests)
# ---------------------------------------------------------------------------

# The client capability each kind of input request needs, as the SDK's own capability
# check (``ServerSession.check_client_capability``) and the -32021 error data spell it.
_REQUIRED_CAPABILITY: dict[str, types.ClientCapabilities] = {
    "elicitation/create": types.ClientCapabilities(elicitation=types.ElicitationCapability()),
    "sampling/createMessage": types.ClientCapabilities(sampling=types.SamplingCapability()),
    "roots/list": types.ClientCapabilities(roots=types.RootsCapability()),
}

# The result model that answers each kind of input request.
_ANSWER_TYPE: dict[str, type[types.ElicitResult | types.CreateMessageResult | types.ListRootsResult]] = {
    "elicitation/create": types.ElicitResult,
    "sampling/createMessage": types.CreateMessageResult,
    "roots/list": types.ListRootsResult,
}


class InputRequired(Exception):
    """Raised by ``ClientInputs.ask`` on a 2026-07-28 request whose answers are not all in yet.

    ``call_tool``/``get_prompt`` catch it and return ``result`` (an ``input_required``
    result) in place of the normal one.
    """

    def __init__(self, result: types.InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


class ClientInputs:
    """Asks the client for input (elicitation, sampling, roots) the way the request's protocol era wants it.

    * Handshake era (<= 2025-11-25): each request goes to the client as a classic
      server->client request (``elicitation/create``, ``sampling/createMessage``,
      ``roots/list``) on the calling request's own stream (``related_request_id``),
      and the answer comes back in-call.
    * 2026-07-28 (SEP-2322; no back-channel): answers are taken from the retry's
      ``inputResponses``. While any is missing, ``ask`` raises ``InputRequired`` with
      the unanswered requests as ``inputRequests`` and a ``requestState`` recording
      the answers gathered so far and the keys just asked.

    So a handler is written once, sequentially, for both eras: on 2026-07-28 its body
    simply re-runs from the top each round and earlier answers are replayed from the
    state. ``requestState`` is plaintext JSON here; the SDK's ``RequestStateBoundary``
    middleware (installed by ``build_server``) seals it on the way out and verifies it
    on the way back in, so a tampered or foreign state never reaches this class (the
    client gets -32602 instead).

    A fresh answer counts only for a key this server asked: when the request echoes a
    state, for the keys that state recorded as asked; without one, for any key being
    asked (the basic flows let a client answer in its first retry without state). With
    ``state_bound=True`` answers count only together with the echoed state, i.e. a
    retry that drops the ``requestState`` starts over. Unrecognised keys are ignored.
    """

    def __init__(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: types.CallToolRequestParams | types.GetPromptRequestParams,
        *,
        state_bound: bool = False,
    ) -> None:
        self._ctx = ctx
        self.modern = _is_modern(ctx)
        # Whether this 2026-07-28 request echoed a requestState (already verified by the boundary).
        self.resumed = self.modern and params.request_state is not None
        saved: dict[str, Any] = json.loads(params.request_state) if self.resumed else {}
        # Wire-shaped answers from earlier rounds, by key.
        self._answers: dict[str, dict[str, Any]] = saved.get("answers", {})
        fresh = dict(params.input_responses or {}) if self.modern else {}
        if self.resumed:
            fresh = {key: answer for key, answer in fresh.items() if key in saved.get("asked", ())}
        elif state_bound:
            fresh = {}
        self._fresh = fresh

    def declares(self, method: str) -> bool:
        """Whether the client declared the capability an input request of this method needs."""
        return self._ctx.session.check_client_capability(_REQUIRED_CAPABILITY[method])

    async def ask(self, requests: dict[str, types.InputRequest]) -> dict[str, Any]:
        """Answers to ``requests`` (key -> ElicitResult / CreateMessageResult / ListRootsResult).

        Raises:
            MCPError: -32021 (MissingRequiredClientCapability) when the client did not
                declare a capability one of the requests needs.
            InputRequired: on 2026-07-28, while any of ``requests`` is unanswered.
        """
        for request in requests.values():
            self._require_capability(request.method)
        if not self.modern:
            return {key: await self._send(request) for key, request in requests.items()}
        answers: dict[str, Any] = {}
        missing: dict[str, types.InputRequest] = {}
        for key, request in requests.items():
            answer = self._answer(key, request.method)
            if answer is None:
                missing[key] = request
            else:
                answers[key] = answer
        if missing:
            state = {"answers": self._answers, "asked": sorted(missing)}
            raise InputRequired(
                types.InputRequiredResult(input_requests=missing, request_state=json.dumps(state, sort_keys=True))
            )
        return answers

    def _require_capability(self, method: str) -> None:
        if self.declares(method):
            return
        required = _REQUIRED_CAPABILITY[method]
        data = types.MissingRequiredClientCapabilityErrorData(required_capabilities=required)
        raise MCPError(
            code=types.MISSING_REQUIRED_CLIENT_CAPABILITY,
            message=f"Client did not declare the {method.split('/')[0]} capability required by {method}",
            data=data.model_dump(by_alias=True, mode="json", exclude_none=True),
        )

    async def _send(self, request: types.InputRequest) -> Any:
        """Handshake era: the classic server->client request, on the calling request's stream."""
        return await self._ctx.session.send_request(
            request,
            _ANSWER_TYPE[request.method],
            metadata=ServerMessageMetadata(related_request_id=self._ctx.request_id),
        )

    def _answer(self, key: str, method: str) -> Any | None:
        """2026-07-28: the answer to ``key`` from an earlier round or this retry, else None."""
        answer_type = _ANSWER_TYPE[method]
        if key in self._answers:
            return answer_type.model_validate(self._answers[key])
        answer = self._fresh.get(key)
        if not isinstance(answer, answer_type):
            # Missing, or an answer of the wrong kind: ask (again).
            return None
        self._answers[key] = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
        return answer


def _elicit_request(message: str, properties: dict[str, Any]) -> types.ElicitRequest:
    """A form-mode ``elicitation/create`` whose every property is required."""
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return types.ElicitRequest(params=types.ElicitRequestFormParams(message=message, requested_schema=schema))


def _sampling_request(prompt: str, max_tokens: int) -> types.CreateMessageRequest:
    return types.CreateMessageRequest(
        params=types.CreateMessageRequestParams(
            messages=[types.SamplingMessage(role="user", content=_text(prompt))], max_tokens=max_tokens
        )
    )


ROOTS_REQUEST = types.ListRootsRequest(params=types.RequestParams())

# The input requests of the input-required-result-* scenarios, verbatim.
NAME_REQUEST = _elicit_request("What is your name?", {"name": {"type": "string"}})
CAPITAL_REQUEST = _sampling_request("What is the capital of France?", 100)
CONFIRM_REQUEST = _elicit_request("Please confirm", {"ok": {"type": "boolean"}})
GREETING_REQUEST = _sampling_request("Generate a greeting", 50)
STEP1_REQUEST = _elicit_request("Step 1: What is your name?", {"name": {"type": "string"}})
STEP2_REQUEST = _elicit_request("Step 2: What is your favorite color?", {"color": {"type": "string"}})
CONTEXT_REQUEST = _elicit_request("What context should the prompt use?", {"context": {"type": "string"}})


def _elicited(answer: types.ElicitResult, field: str) -> str:
    """The accepted value of ``field``, or a marker saying why there is none."""
    if answer.action != "accept":
        return f"<{answer.action}>"
    value = (answer.content or {}).get(field, "<missing>")
    return value if isinstance(value, str) else json.dumps(value)


def _sampled(answer: types.CreateMessageResult) -> str:
    content = answer.content
    return content.text if isinstance(content, types.TextContent) else f"<{content.type} content>"


def _roots(answer: types.ListRootsResult) -> str:
    return ", ".join(f"{root.uri} ({root.name})" if root.name else str(root.uri) for root in answer.roots) or "none"


# ---------------------------------------------------------------------------
# Tools of the pre-release suite (0.2.x, protocol 2026-07-28)
# ---------------------------------------------------------------------------
#
# Kept apart from TOOLS, which is exactly the stable 0.1.x set; tools/list serves both.
# These functions also get the call's ClientInputs.

InputToolFn = Callable[[ServerRequestContext[Any, Any], dict[str, Any], FixtureState, ClientInputs], Any]

NEXT_TOOLS: dict[str, tuple[types.Tool, InputToolFn, bool]] = {}


def next_tool(name: str, description: str, input_schema: dict[str, Any] | None = None, *, state_bound: bool = False):
    """Register a 0.2.x fixture; ``state_bound`` is passed on to its ClientInputs."""

    def register(fn: InputToolFn) -> InputToolFn:
        spec = types.Tool(name=name, description=description, input_schema=input_schema or EMPTY_OBJECT_SCHEMA)
        NEXT_TOOLS[name] = (spec, fn, state_bound)
        return fn

    return register


@next_tool("test_input_required_result_elicitation", "Asks the user's name (input_required elicitation, SEP-2322)")
async def _ir_elicitation(ctx, args, state, inputs):
    answers = await inputs.ask({"user_name": NAME_REQUEST})
    return _result(_text(f"Hello, {_elicited(answers['user_name'], 'name')}!"))


@next_tool("test_input_required_result_sampling", "Asks the client's LLM a question (input_required sampling)")
async def _ir_sampling(ctx, args, state, inputs):
    answers = await inputs.ask({"capital_question": CAPITAL_REQUEST})
    return _result(_text(f"Sampling response: {_sampled(answers['capital_question'])}"))


@next_tool("test_input_required_result_list_roots", "Asks the client for its roots (input_required roots/list)")
async def _ir_list_roots(ctx, args, state, inputs):
    answers = await inputs.ask({"client_roots": ROOTS_REQUEST})
    return _result(_text(f"Client roots: {_roots(answers['client_roots'])}"))


@next_tool(
    "test_input_required_result_request_state",
    "Asks for a confirmation; completes only with the echoed requestState",
    state_bound=True,
)
async def _ir_request_state(ctx, args, state, inputs):
    answers = await inputs.ask({"confirm": CONFIRM_REQUEST})
    ok = _elicited(answers["confirm"], "ok")
    if inputs.resumed:
        return _result(_text(f"Confirmed: ok={ok}; state-ok (requestState round-tripped and verified)"))
    return _result(_text(f"Confirmed: ok={ok} (answered in-call; no requestState on this protocol version)"))


@next_tool(
    "test_input_required_result_multiple_inputs",
    "Asks for a name, an LLM greeting and the client's roots in one round",
    state_bound=True,
)
async def _ir_multiple_inputs(ctx, args, state, inputs):
    answers = await inputs.ask({"user_name": NAME_REQUEST, "greeting": GREETING_REQUEST, "client_roots": ROOTS_REQUEST})
    name = _elicited(answers["user_name"], "name")
    greeting = _sampled(answers["greeting"])
    return _result(_text(f"{greeting} (for {name}; client roots: {_roots(answers['client_roots'])})"))


@next_tool(
    "test_input_required_result_multi_round",
    "Asks for a name, then (next round) a favorite color",
    state_bound=True,
)
async def _ir_multi_round(ctx, args, state, inputs):
    name = _elicited((await inputs.ask({"step1": STEP1_REQUEST}))["step1"], "name")
    color = _elicited((await inputs.ask({"step2": STEP2_REQUEST}))["step2"], "color")
    return _result(_text(f"{name}'s favorite color is {color}."))


@next_tool(
    "test_input_required_result_tampered_state",
    "Asks for a confirmation under an integrity-protected requestState (tampering -> -32602)",
    state_bound=True,
)
async def _ir_tampered_state(ctx, args, state, inputs):
    # Tampering never gets this far: RequestStateBoundary rejects the request first.
    answers = await inputs.ask({"confirm": CONFIRM_REQUEST})
    ok = _elicited(answers["confirm"], "ok")
    if inputs.resumed:
        return _result(_text(f"Confirmed: ok={ok}; requestState integrity verified"))
    return _result(_text(f"Confirmed: ok={ok} (answered in-call; no requestState on this protocol version)"))


@next_tool(
    "test_input_required_result_capabilities",
    "Asks only for the kinds of input the client declared (elicitation, sampling, roots)",
)
async def _ir_capabilities(ctx, args, state, inputs):
    wanted = {"user_name": NAME_REQUEST, "capital_question": CAPITAL_REQUEST, "client_roots": ROOTS_REQUEST}
    requests = {key: request for key, request in wanted.items() if inputs.declares(request.method)}
    if not requests:
        return _result(_text("The client declared none of elicitation, sampling, roots: nothing to ask"))
    answers = await inputs.ask(requests)
    parts = []
    if "user_name" in answers:
        parts.append(f"name={_elicited(answers['user_name'], 'name')}")
    if "capital_question" in answers:
        parts.append(f"capital={_sampled(answers['capital_question'])}")
    if "client_roots" in answers:
        parts.append(f"roots={_roots(answers['client_roots'])}")
    return _result(_text("Received: " + "; ".join(parts)))


@next_tool(
    "test_missing_capability",
    "Needs the sampling capability: -32021 (MissingRequiredClientCapability) when the client did not declare it",
)
async def _missing_capability(ctx, args, state, inputs):
    answers = await inputs.ask({"capital_question": CAPITAL_REQUEST})
    return _result(_text(f"Sampling response: {_sampled(answers['capital_question'])}"))


@next_tool(
    "test_streaming_elicitation",
    "Elicits the user's name: input_required on 2026-07-28, elicitation/create on the call's stream before",
)
async def _streaming_elicitation(ctx, args, state, inputs):
    answers = await inputs.ask({"user_name": NAME_REQUEST})
    return _result(_text(f"Hello, {_elicited(answers['user_name'], 'name')}!"))


@next_tool("test_logging_tool", "Sends info log notifications while running (subject to the request's log level)")
async def _logging_tool(ctx, args, state, inputs):
    # On 2026-07-28 the SDK delivers these only if the request's _meta opted in to a
    # log level; on handshake-era connections logging/setLevel filters them.
    for message in ("Logging tool started", "Logging tool completed"):
        if state.should_log(ctx, "info"):
            await ctx.session.send_log_message(
                level="info", data=message, logger="conformance-fixture", related_request_id=ctx.request_id
            )
    return _result(_text("Logging tool executed successfully"))


# server-stateless's diagnostic hooks: a server that declares tools/prompts listChanged (this one
# does on 2026-07-28, because it serves subscriptions/listen) is asked to change its lists, and
# the change must reach an open listen stream that asked for it (SEP-2575).
DYNAMIC_TOOL = types.Tool(
    name="test_dynamic_tool",
    description="Listed only while test_trigger_tool_change has added it",
    input_schema=EMPTY_OBJECT_SCHEMA,
)
DYNAMIC_PROMPT = types.Prompt(
    name="test_dynamic_prompt", description="Listed only while test_trigger_prompt_change has added it"
)


@next_tool("test_trigger_tool_change", "Adds or removes test_dynamic_tool and announces the tool list change")
async def _trigger_tool_change(ctx, args, state, inputs):
    state.dynamic_tool = not state.dynamic_tool
    await state.bus.publish(ToolsListChanged())
    return _result(_text(f"test_dynamic_tool {'added' if state.dynamic_tool else 'removed'}"))


@next_tool("test_trigger_prompt_change", "Adds or removes test_dynamic_prompt and announces the prompt list change")
async def _trigger_prompt_change(ctx, args, state, inputs):
    state.dynamic_prompt = not state.dynamic_prompt
    await state.bus.publish(PromptsListChanged())
    return _result(_text(f"test_dynamic_prompt {'added' if state.dynamic_prompt else 'removed'}"))


@next_tool(
    "test_custom_headers",
    "Echoes its arguments; region/priority/verbose are mirrored into Mcp-Param-* headers (x-mcp-header, SEP-2243)",
    {
        "type": "object",
        "properties": {
            "region": {"type": "string", "description": "Plain ASCII string value", "x-mcp-header": "Region"},
            "priority": {"type": "integer", "description": "Integer numeric value", "x-mcp-header": "Priority"},
            "verbose": {"type": "boolean", "description": "Boolean value", "x-mcp-header": "Verbose"},
            "query": {"type": "string", "description": "No x-mcp-header annotation - not mirrored"},
        },
        "required": ["region"],
    },
)
async def _custom_headers(ctx, args, state, inputs):
    # The SDK's 2026-07-28 HTTP transport has already checked every Mcp-Param-* header
    # against these arguments (rejecting mismatches with -32020) before this runs.
    return _result(_text(f"Received: {json.dumps(args, sort_keys=True)}"))


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
    # 0.2.x (input-required-result-non-tool-request): input_required works on prompts/get too.
    types.Prompt(
        name="test_input_required_result_prompt",
        description="A prompt that first asks the client what context to use (input_required elicitation)",
    ),
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


async def _input_required_prompt(inputs: ClientInputs) -> types.GetPromptResult:
    """``test_input_required_result_prompt``: elicits ``user_context``, then renders the prompt with it."""
    answers = await inputs.ask({"user_context": CONTEXT_REQUEST})
    context = _elicited(answers["user_context"], "context")
    description = next(p.description for p in PROMPTS if p.name == "test_input_required_result_prompt")
    return types.GetPromptResult(
        description=description, messages=[_user(_text(f"Answer using this context: {context}"))]
    )


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
        specs = [spec for spec, _ in TOOLS.values()] + [spec for spec, _, _ in NEXT_TOOLS.values()]
        return types.ListToolsResult(tools=specs + ([DYNAMIC_TOOL] if state.dynamic_tool else []))

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult | types.InputRequiredResult:
        args = dict(params.arguments or {})
        if params.name in TOOLS:
            return await TOOLS[params.name][1](ctx, args, state)
        if params.name in NEXT_TOOLS:
            _, fn, state_bound = NEXT_TOOLS[params.name]
            try:
                return await fn(ctx, args, state, ClientInputs(ctx, params, state_bound=state_bound))
            except InputRequired as pending:
                return pending.result
        if params.name == DYNAMIC_TOOL.name and state.dynamic_tool:
            return _result(_text("The dynamic tool is here."))
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")

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
        return types.ListPromptsResult(prompts=PROMPTS + ([DYNAMIC_PROMPT] if state.dynamic_prompt else []))

    async def get_prompt(
        ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult | types.InputRequiredResult:
        if params.name == "test_input_required_result_prompt":
            try:
                return await _input_required_prompt(ClientInputs(ctx, params))
            except InputRequired as pending:
                return pending.result
        if params.name == DYNAMIC_PROMPT.name and state.dynamic_prompt:
            return types.GetPromptResult(
                description=DYNAMIC_PROMPT.description, messages=[_user(_text("The dynamic prompt is here."))]
            )
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

    server = Server(
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
        on_subscriptions_listen=ListenHandler(state.bus),
    )
    # SEP-2322 requestState integrity: seals every outgoing requestState (AES-256-GCM
    # under a key held only by this process) and verifies every echoed one before the
    # handler runs, answering -32602 to anything tampered with, expired, or minted for
    # another request. Handlers only ever see the plaintext they produced.
    server.middleware.append(RequestStateBoundary(RequestStateSecurity.ephemeral(), default_audience=SERVER_NAME))
    return server


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
