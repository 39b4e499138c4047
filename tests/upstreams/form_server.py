"""An upstream whose tools have rich input schemas, for the web UI's "try a tool" form
(low-level SDK server, so each schema is exactly as written here, not as pydantic would write it).

    python tests/upstreams/form_server.py --stdio

`echo_args` answers the arguments it received (structuredContent, and the same as JSON text),
so a test sees what the form sent; `picture` answers an image; `refuse` answers isError;
`files/read` has a `/` in its name (the spec allows it), and answers the path it was given.
"""

from __future__ import annotations

import argparse
import base64
import json
import struct
import zlib
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.stdio import stdio_server

ECHO_ARGS = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "title": "Title", "description": "What to call the trip.", "maxLength": 80},
        "mode": {"type": "string", "enum": ["train", "bus", "plane"], "default": "train", "description": "How."},
        "count": {"type": "integer", "minimum": 1, "maximum": 10, "description": "How many travellers."},
        "budget": {"type": "number", "minimum": 0, "description": "Euros."},
        "confirm": {"type": "boolean", "description": "Book it for real."},
        "urgent": {"type": "boolean", "description": "Unset, true or false."},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Labels."},
        "sizes": {"type": "array", "items": {"type": "integer"}, "description": "Bag sizes."},
        "days": {"type": "array", "items": {"enum": ["mon", "tue", "wed", "thu", "fri"]}, "uniqueItems": True},
        "leave": {"type": "string", "format": "date"},
        "contact": {"type": "string", "format": "email"},
        "notes": {"type": "string", "maxLength": 2000},
        "address": {
            "type": "object",
            "title": "Address",
            "properties": {
                "city": {"type": "string"},
                "zip": {"type": "string"},
                "geo": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                    "required": ["lat", "lon"],
                },
            },
            "required": ["city"],
        },
        "extra": {"anyOf": [{"type": "string"}, {"type": "integer"}], "description": "Anything else."},
        "stops": {
            "type": "array",
            "items": {"type": "object", "properties": {"city": {"type": "string"}, "nights": {"type": "integer"}}},
        },
    },
    "required": ["title", "confirm"],
}

TOOLS = [
    types.Tool(name="echo_args", description="Answer the arguments received, as JSON.", input_schema=ECHO_ARGS),
    types.Tool(
        name="picture",
        description="Answer a small picture (PNG).",
        input_schema={"type": "object", "properties": {"size": {"type": "integer", "minimum": 1, "maximum": 64}}},
    ),
    types.Tool(
        name="files/read",
        description="Answer the path given.",
        input_schema={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    types.Tool(
        name="refuse",
        description="Always answers with isError: true.",
        input_schema={"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
    ),
]


def png(size: int) -> bytes:
    """A size×size PNG: a blue-to-green gradient (no imaging library needed)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((20, 80 + 150 * x // size, 200 - 150 * y // size)) for x in range(size))
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def build_server() -> Server[Any]:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = params.arguments or {}
        if params.name == "echo_args":
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=json.dumps(arguments))], structured_content=arguments
            )
        if params.name == "picture":
            data = base64.b64encode(png(int(arguments.get("size", 32)))).decode()
            return types.CallToolResult(
                content=[
                    types.TextContent(type="text", text="a gradient"),
                    types.ImageContent(type="image", data=data, mime_type="image/png"),
                ]
            )
        if params.name == "files/read":
            return types.CallToolResult(content=[types.TextContent(type="text", text=f"read {arguments.get('path')}")])
        reason = str(arguments.get("reason", ""))
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"refused: {reason}")], is_error=True)

    return Server("test-forms", version="1.0", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    server = build_server()
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stdio", action="store_true", help="the only transport (the default)")
    parser.parse_args()
    anyio.run(main)
