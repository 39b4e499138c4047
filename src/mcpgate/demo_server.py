"""The bundled demo upstream: a small stdio MCP server so `make run` is useful at once.

Run it on its own with `python -m mcpgate.demo_server`; the default gateway config starts
it as the upstream `demo`. Its tools are deliberately boring and dependable: echo, the
current time in any IANA time zone, and exact arithmetic.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from mcpgate import __version__

server = MCPServer("mcpgate-demo", version=__version__, instructions="Demo tools bundled with mcpgate.")

Operation = Literal["add", "subtract", "multiply", "divide", "power"]


@server.tool()
def echo(text: str) -> str:
    """Return the given text unchanged. Handy to check that a client reaches the gateway."""
    return text


@server.tool()
def current_time(timezone: str = "UTC") -> str:
    """The current date and time in an IANA time zone such as 'Europe/Paris' (ISO 8601)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(f"unknown time zone {timezone!r}; use an IANA name such as 'America/New_York'") from exc
    return dt.datetime.now(zone).isoformat(timespec="seconds")


@server.tool()
def calculate(operation: Operation, a: float, b: float) -> str:
    """Exact decimal arithmetic on two numbers: add, subtract, multiply, divide or power."""
    x, y = Decimal(str(a)), Decimal(str(b))
    try:
        result = {
            "add": lambda: x + y,
            "subtract": lambda: x - y,
            "multiply": lambda: x * y,
            "divide": lambda: x / y,
            "power": lambda: x**y,
        }[operation]()
    except (DivisionByZero, InvalidOperation) as exc:
        raise ToolError(f"cannot {operation} {a} and {b}: {type(exc).__name__}") from exc
    return format(result.normalize(), "f")


def main() -> None:
    server.run("stdio")


if __name__ == "__main__":
    main()
