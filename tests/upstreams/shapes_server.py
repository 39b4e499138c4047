"""A real MCP server (official SDK) whose tools have the schemas that break REST bridges:
`$ref`/`$defs`, `anyOf`, enums, nested arrays of objects, structured output — plus a tool
that fails, a slow one, resources, a resource template and a prompt.

    python tests/upstreams/shapes_server.py            (stdio)
"""

from __future__ import annotations

from enum import StrEnum

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field


class Mode(StrEnum):
    train = "train"
    bus = "bus"
    plane = "plane"


class Stop(BaseModel):
    city: str = Field(min_length=1)
    nights: int = Field(ge=0, le=30)


class Leg(BaseModel):
    mode: Mode
    stops: list[Stop] = Field(min_length=1)
    budget: int | str | None = Field(None, description="Euros, or a phrase like 'cheap'.")


class Plan(BaseModel):
    traveller: str
    legs: int
    nights: int
    modes: list[Mode]


def build_server() -> MCPServer:
    server = MCPServer("test-shapes", version="1.0", log_level="WARNING")

    @server.tool()
    def plan_trip(traveller: str, legs: list[Leg], notes: str | None = None) -> Plan:
        """Plan a trip from legs, each a mode of transport and a list of stops."""
        return Plan(
            traveller=traveller,
            legs=len(legs),
            nights=sum(stop.nights for leg in legs for stop in leg.stops),
            modes=[leg.mode for leg in legs],
        )

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails, with the reason given."""
        raise ToolError(f"failed on purpose: {reason}")

    @server.tool()
    async def slow(seconds: float) -> str:
        """Answer after `seconds`."""
        await anyio.sleep(seconds)
        return "done"

    @server.resource("notes://readme", mime_type="text/plain")
    def readme() -> str:
        """The notes' readme."""
        return "read me first"

    @server.resource("notes://topics/{topic}")
    def topic(topic: str) -> str:
        """A note on one topic."""
        return f"a note on {topic}"

    @server.prompt()
    def summarize(topic: str, style: str = "plain") -> str:
        """Ask for a summary of a topic."""
        return f"Summarize {topic} in a {style} style."

    return server


if __name__ == "__main__":
    build_server().run("stdio")
