"""A real MCP server (official SDK) with one of everything, for the protocol-fidelity tests.

    python tests/upstreams/fidelity_server.py --stdio [--label L]
    python tests/upstreams/fidelity_server.py --http --port N

Tools of every content type and with structured output; logging, progress, sampling,
elicitation (form and URL), roots; what its client declared; a slow tool that records being cancelled; resources
(text, binary, a template) with subscriptions; prompts with arguments, an embedded
resource and an image; completions for both.
"""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

import anyio
import mcp_types as types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.prompts.base import Message, UserMessage
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import BaseModel

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA"
BLOB = bytes(range(256))


class Weather(BaseModel):
    city: str
    celsius: float
    sky: str


class Answer(BaseModel):
    colour: str


def build_server(label: str = "fid") -> MCPServer:
    server = MCPServer(f"fidelity-{label}", version="1.0")
    cancelled: list[str] = []
    subscribed: set[str] = set()

    @server.tool()
    def mixed() -> types.CallToolResult:
        """Every content type in one result."""
        return types.CallToolResult.model_validate(
            {
                "content": [
                    {"type": "text", "text": f"from {label}"},
                    {"type": "image", "data": PNG, "mimeType": "image/png"},
                    {"type": "audio", "data": WAV, "mimeType": "audio/wav"},
                    {
                        "type": "resource",
                        "resource": {"uri": "mem://notes/readme", "mimeType": "text/plain", "text": "embedded"},
                    },
                    {"type": "resource_link", "uri": "mem://notes/linked", "name": "linked", "mimeType": "text/plain"},
                ]
            }
        )

    @server.tool()
    def weather(city: str) -> Weather:
        """Structured output: an outputSchema and structuredContent."""
        return Weather(city=city, celsius=21.5, sky="clear")

    @server.tool()
    async def chatter(text: str, ctx: Context) -> str:
        """Log `text` at debug, info and warning."""
        await ctx.debug(f"debug {text}")
        await ctx.info(f"info {text}")
        await ctx.warning(f"warning {text}")
        return f"logged {text}"

    @server.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Report progress `steps` times, then answer."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step}")
        return f"counted {steps}"

    @server.tool()
    async def sample(prompt: str, ctx: Context) -> str:
        """Ask the client's model (sampling/createMessage) and return its text."""
        result = await ctx.session.create_message(
            [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
            max_tokens=20,
            related_request_id=ctx.request_id,
        )
        return f"model said: {result.content.text}"

    @server.tool()
    async def impatient(ctx: Context) -> str:
        """Ask for sampling, then withdraw the request (notifications/cancelled) after 0.3 s."""
        with anyio.move_on_after(0.3):
            await ctx.session.create_message(
                [types.SamplingMessage(role="user", content=types.TextContent(type="text", text="never mind"))],
                max_tokens=20,
                related_request_id=ctx.request_id,
            )
            return "answered"
        return "gave up"

    @server.tool()
    async def ask(question: str, ctx: Context) -> str:
        """Ask the user a question (form elicitation)."""
        result = await ctx.elicit(question, Answer)
        return f"{result.action}: {result.data.colour}" if result.action == "accept" else result.action

    @server.tool()
    async def visit(ctx: Context) -> str:
        """Send the user to a URL (URL elicitation)."""
        result = await ctx.elicit_url("Sign in, please", "https://example.com/login", f"login-{label}")
        # The out-of-band step is done: say so, unrelated to any request (as a real server would, later).
        await ctx.session.send_elicit_complete(f"login-{label}")
        return result.action

    @server.tool()
    async def roots(ctx: Context) -> str:
        """The client's roots."""
        listed = await ctx.session.list_roots()
        return ",".join(str(root.uri) for root in listed.roots)

    @server.tool()
    def declared(ctx: Context) -> str:
        """The capabilities the client of the session answering this call declared, as JSON."""
        capabilities = ctx.client_capabilities
        return json.dumps(capabilities.model_dump(by_alias=True, exclude_none=True) if capabilities else {})

    @server.tool()
    async def slow(tag: str, seconds: float = 30.0) -> str:
        """Answer after `seconds`; records `tag` if cancelled first."""
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            cancelled.append(tag)
            raise
        return f"slept {tag}"

    @server.tool()
    def cancellations() -> str:
        """Tags of the `slow` calls that were cancelled, comma-separated."""
        return ",".join(cancelled)

    @server.tool()
    async def touch(uri: str, ctx: Context) -> str:
        """Announce notifications/resources/updated for `uri`."""
        await ctx.session.send_resource_updated(uri)
        return f"touched {uri}"

    @server.resource("mem://notes/readme", name="readme", mime_type="text/plain")
    def readme() -> str:
        return f"readme of {label}"

    @server.resource("mem://blob", name="blob", mime_type="application/octet-stream")
    def blob() -> bytes:
        return BLOB

    @server.resource("mem://notes/{name}", name="note", mime_type="text/plain")
    def note(name: str) -> str:
        return f"note {name} of {label}"

    @server.prompt()
    def review(code: str, style: str = "terse") -> str:
        """Review some code."""
        return f"Review this ({style}): {code}"

    @server.prompt()
    def illustrated() -> list[Message]:
        """A prompt with an embedded resource and an image."""
        return [
            UserMessage(
                types.EmbeddedResource.model_validate(
                    {"type": "resource", "resource": {"uri": "mem://notes/readme", "text": "the readme"}}
                )
            ),
            UserMessage(types.ImageContent.model_validate({"type": "image", "data": PNG, "mimeType": "image/png"})),
        ]

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> types.Completion:
        if isinstance(ref, types.PromptReference):
            options = ["python", "pascal", "perl"]
        else:
            options = ["alpha", "beta", "gamma"]
        return types.Completion(values=[o for o in options if o.startswith(argument.value)])

    async def on_subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscribed.add(str(params.uri))
        return types.EmptyResult()

    async def on_unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscribed.discard(str(params.uri))
        return types.EmptyResult()

    async def on_set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, on_subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, on_unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, on_set_level)

    @server.tool()
    async def grow(kind: str, name: str, ctx: Context) -> str:
        """Add a prompt or a resource `name` at run time and announce the list change."""
        if kind == "prompt":
            server.prompt(name=name, description=f"added at run time as {name}")(lambda: f"hello from {name}")
            await ctx.session.send_prompt_list_changed()
        else:
            server.resource(f"mem://grown/{name}", name=name)(lambda: f"grown {name}")
            await ctx.session.send_resource_list_changed()
        return f"added {kind} {name}"

    @server.tool()
    def subscriptions() -> str:
        """URIs this server holds subscriptions for, comma-separated."""
        return ",".join(sorted(subscribed))

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stdio", action="store_true")
    mode.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--label", default="fid")
    args = parser.parse_args()
    server = build_server(args.label)
    if args.stdio:
        server.run("stdio")
        return
    import uvicorn

    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
