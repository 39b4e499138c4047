"""A stdio MCP server (official SDK) that is hard to stop, for the shutdown tests.

    python tests/upstreams/stubborn_server.py [--ignore-term]

It starts a helper process in its own process group (as `npx` starts the real server), and its
`block` tool, after saying so with a progress notification, waits on a blocking sleep in a
thread that nothing can cancel: closing its stdin no longer ends the process. With
`--ignore-term` both ignore SIGTERM: only SIGKILL stops them; with `--stubborn-helper` only
the helper does (the server itself ends when its stdin closes, leaving the helper behind).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

_HELPER = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN) if {ignore} else None\ntime.sleep(3600)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--stubborn-helper", action="store_true")
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stubborn_helper = args.ignore_term or args.stubborn_helper
    helper = subprocess.Popen([sys.executable, "-c", _HELPER.format(ignore=stubborn_helper)])
    server = MCPServer("stubborn", version="1.0")

    @server.tool()
    def family() -> list[int]:
        """This server's pid and its helper's."""
        return [os.getpid(), helper.pid]

    @server.tool()
    async def block(seconds: float, ctx: Context) -> str:
        """Say so (progress), then hold the process for `seconds`, deaf to cancellation."""
        await ctx.report_progress(0, 1, "blocking")
        await anyio.to_thread.run_sync(time.sleep, seconds)  # not abandoned on cancel: exiting waits for it
        return "unblocked"

    server.run("stdio")


if __name__ == "__main__":
    main()
