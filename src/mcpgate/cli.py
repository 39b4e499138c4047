"""Command line: argv → settings → hub → uvicorn.

    mcpgate serve [--config gateway.yaml] [--host H] [--port N]
    mcpgate wrap [--host H] [--port N] [--name NAME] -- <command> [args…]
    mcpgate upstreams|servers|preview|import|db …   (see `manage.py`)

Without `--config`, `serve` runs the embedded default: the bundled demo upstream and a
catalog of mcpgate's own management API.
Problems with the configuration are reported as one line and exit status 2, before
any port is bound.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import uvicorn

from mcpgate import __version__
from mcpgate.app import create_app, open_services
from mcpgate.config import load_config, settings_from_mapping
from mcpgate.edge.http_server import server_config
from mcpgate.errors import ConfigError
from mcpgate.manage_commands import add_parsers
from mcpgate.settings import GatewaySettings

logger = logging.getLogger("mcpgate")


def default_settings() -> GatewaySettings:
    """The zero-configuration gateway on 127.0.0.1:8080: the bundled demo upstream, and a catalog of
    mcpgate's own management API (its guides: the checkout's docs/, when run from one)."""
    own_api: dict[str, object] = {"type": "openapi", "spec": "self"}
    if _DOCS.is_dir():
        own_api["guides"] = str(_DOCS)
    return settings_from_mapping(
        {
            "mcpServers": {
                "demo": {"command": sys.executable, "args": ["-m", "mcpgate.demo_server"]},
                "mcpgate": own_api,
            }
        },
        source="embedded default",
    )


_DOCS = Path(__file__).resolve().parents[2] / "docs"


def wrap_settings(command: Sequence[str], name: str) -> GatewaySettings:
    return settings_from_mapping(
        {
            "mcpServers": {name: {"command": command[0], "args": list(command[1:]), "prefix": False}},
            # One server, zero configuration: a registry in memory, never one shared with `serve`.
            "database_url": "sqlite+aiosqlite://",
        },
        source="mcpgate wrap",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcpgate", description="A self-hosted MCP gateway.")
    parser.add_argument("--version", action="version", version=f"mcpgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def listen_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        sub.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
        sub.add_argument("--log-level", default=None, help="debug, info, warning or error")

    serve = commands.add_parser("serve", help="serve the upstreams of a config file (or the demo)")
    serve.add_argument("--config", "-c", type=Path, help="YAML or JSON file; accepts the Claude Desktop format")
    listen_flags(serve)

    wrap = commands.add_parser("wrap", help="expose one stdio MCP server over SSE and Streamable HTTP")
    wrap.add_argument("--name", default="server", help="the upstream's name in /health and logs")
    listen_flags(wrap)
    wrap.add_argument("server_command", nargs=argparse.REMAINDER, help="-- <command> [args…]")
    add_parsers(commands)
    return parser


def settings_from_args(args: argparse.Namespace) -> GatewaySettings:
    if args.command == "wrap":
        command = args.server_command[1:] if args.server_command[:1] == ["--"] else args.server_command
        if not command:
            raise ConfigError("mcpgate wrap needs the server's command after `--`, e.g. mcpgate wrap -- npx my-server")
        settings = wrap_settings(command, args.name)
    elif args.config is not None:
        settings = load_config(args.config)
    else:
        settings = default_settings()
    overrides = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.log_level is not None:
        overrides["log_level"] = args.log_level
    return settings.model_copy(update=overrides) if overrides else settings


async def serve(settings: GatewaySettings) -> None:
    async with open_services(settings) as services:
        _tune_garbage_collector()
        for name, connection in services.hub.upstreams.items():
            if not connection.is_ready:
                logger.warning("upstream %s is not available yet: %s", name, connection.status.error or "connecting")
        config = server_config(
            create_app(settings, services),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            # Above INFO the access log shows nothing, yet uvicorn would format each line anyway.
            access_log=settings.log_level.upper() in ("TRACE", "DEBUG", "INFO"),
            lifespan="on",
            timeout_graceful_shutdown=3,
        )
        server = uvicorn.Server(config)
        await server.serve()


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is a server's own command line; argparse's subcommands mishandle it.
    tail: list[str] = []
    if "--" in argv:
        argv, tail = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = build_parser().parse_args(argv)
    if tail:
        if not hasattr(args, "server_command"):
            build_parser().error(f"`mcpgate {args.command}` takes no command after `--`")
        args.server_command = tail
    if args.command not in ("serve", "wrap"):
        logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        from mcpgate import manage  # the management client: not needed to serve

        raise SystemExit(manage.run(args))
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"mcpgate: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        anyio.run(serve, settings, backend_options={"use_uvloop": _uvloop_available()})
    except ConfigError as exc:
        print(f"mcpgate: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


def _tune_garbage_collector() -> None:
    """Full collections walk every object; with 10,000 SSE sessions (~1.5 M objects) one takes
    ~0.8 s and stalls whatever runs then (a broadcast: docs/benchmarks.md). What start-up built
    lives as long as the process, so it leaves the collector's view (`freeze`), and the larger
    thresholds make full passes rare; reference counting still frees almost everything at once."""
    gc.collect()  # start-up's garbage goes first, so what is frozen is what stays
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _uvloop_available() -> bool:
    if os.environ.get("MCPGATE_NO_UVLOOP"):
        return False
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
