"""Command line: argv → settings → hub → uvicorn.

    mcpgate serve [--config gateway.yaml] [--host H] [--port N] [--log-level L]
    mcpgate wrap [--config gateway.yaml] [--host H] [--port N] [--name NAME] -- <command> [args…]
    mcpgate upstreams|servers|keys|oauth|accounts|preview|import|db …   (see `manage.py`)

Without `--config`, `serve` runs the embedded default: the bundled demo upstream and a
catalog of mcpgate's own management API.
Problems with the configuration (a bad file, an unknown log level) are reported as one line
and exit status 2, before any port is bound; a port that cannot be listened on (in use, not
permitted) as one line and exit status 1, before any upstream starts.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

import anyio
from uvicorn.config import LOG_LEVELS

from mcpgate import __version__
from mcpgate.app import create_app, open_services
from mcpgate.config import load_config, settings_from_mapping
from mcpgate.edge.access_log import redact_query_strings
from mcpgate.edge.http_server import GatewayServer, listening_sockets, server_config
from mcpgate.errors import ConfigError
from mcpgate.manage_commands import add_parsers
from mcpgate.settings import GatewaySettings
from mcpgate.upstream.stdio import CommandNotRunnable, runnable_command

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


_IN_MEMORY = "sqlite+aiosqlite://"


def wrap_settings(command: Sequence[str], name: str, config: Path | None = None) -> GatewaySettings:
    """One stdio server, unprefixed; with `config`, that file's settings (keys, rate limits, edge,
    host and port…) around it, and its database if it names one."""
    server = {name: {"command": command[0], "args": list(command[1:]), "prefix": False}}
    # One server, zero configuration: a registry in memory, never one shared with `serve`.
    wrapped = settings_from_mapping({"mcpServers": server, "database_url": _IN_MEMORY}, source="mcpgate wrap")
    if config is None:
        return wrapped
    settings = load_config(config)
    if settings.upstreams:
        names = ", ".join(repr(upstream.name) for upstream in settings.upstreams)
        raise ConfigError(
            f"{config} declares upstreams ({names}), but `mcpgate wrap` serves only the command after `--`; "
            "use `mcpgate serve --config` for several"
        )
    return settings.model_copy(
        update={"upstreams": wrapped.upstreams, "database_url": settings.database_url or _IN_MEMORY}
    )


_ENVIRONMENT = """\
environment:
  MCPGATE_API_KEY (or MCP_API_KEY)
      with a key set, every endpoint but /health requires it, as `Authorization: Bearer <key>`
      or `x-api-key: <key>` (in the environment, not on the command line: `ps` shows arguments)
  MCPGATE_<SETTING>, MCPGATE_<GROUP>__<SETTING>
      any setting a config file can hold, e.g. MCPGATE_LOG_LEVEL=debug,
      MCPGATE_DATABASE_URL=postgresql://…, MCPGATE_EDGE__MAX_CONNECTIONS=20000;
      a config file's own values take precedence
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcpgate", description="A self-hosted MCP gateway.")
    parser.add_argument("--version", action="version", version=f"mcpgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def listen_flags(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        sub.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
        sub.add_argument("--log-level", default=None, help="critical, error, warning, info (default), debug or trace")

    serve = commands.add_parser(
        "serve",
        help="serve the upstreams of a config file (or the demo)",
        epilog=_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--config", "-c", type=Path, help="YAML or JSON file; accepts the Claude Desktop format")
    listen_flags(serve)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="serving processes on the one port (default 1); more than one needs Redis (MCPGATE_REDIS_URL), "
        "through which they share sessions and changes",
    )

    wrap = commands.add_parser(
        "wrap",
        help="expose one stdio MCP server over SSE and Streamable HTTP",
        description="Expose one stdio MCP server over SSE, Streamable HTTP and REST, its tools unprefixed.",
        epilog=_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wrap.add_argument("--name", default="server", help="the upstream's name in /health and logs")
    wrap.add_argument(
        "--config",
        "-c",
        type=Path,
        help="YAML or JSON file of settings (api_key, rateLimits, edge, host, port, database_url…) "
        "without upstreams: the command after `--` is the one upstream",
    )
    listen_flags(wrap)
    wrap.add_argument("server_command", nargs=argparse.REMAINDER, help="-- <command> [args…]")
    add_parsers(commands)
    return parser


def settings_from_args(args: argparse.Namespace) -> GatewaySettings:
    if args.command == "wrap":
        command = args.server_command[1:] if args.server_command[:1] == ["--"] else args.server_command
        if not command:
            raise ConfigError("mcpgate wrap needs the server's command after `--`, e.g. mcpgate wrap -- npx my-server")
        settings = wrap_settings(command, args.name, args.config)
        try:  # the one upstream of `wrap`: nothing to serve if its command cannot run
            runnable_command(settings.upstreams[0])  # type: ignore[arg-type]
        except CommandNotRunnable as exc:
            raise ConfigError(f"mcpgate wrap: {exc.message}") from None
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
    if overrides:
        settings = settings.model_copy(update=overrides)
    if settings.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {settings.log_level!r}; use one of {', '.join(LOG_LEVELS)}")
    return settings


def listen(settings: GatewaySettings, *, reuse_port: bool = False) -> list[socket.socket]:
    """The bound sockets to serve on; one `mcpgate: error:` line and exit status 1 when the port
    cannot be had (2 when the host does not resolve: that is the configuration)."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    try:
        return listening_sockets(settings.host, settings.port, reuse_port=reuse_port)
    except socket.gaierror as exc:
        _fail(2, f"cannot listen on {host}: {exc.strerror}")
    except OSError as exc:
        hint = "; stop what uses it or choose another --port" if exc.errno == errno.EADDRINUSE else ""
        _fail(1, f"cannot listen on {host}:{settings.port}: {(exc.strerror or str(exc)).lower()}{hint}")


def _fail(status: int, message: str) -> NoReturn:
    print(f"mcpgate: error: {message}", file=sys.stderr)
    raise SystemExit(status) from None


class HeldSignals:
    """SIGINT and SIGTERM, held for the whole run.

    uvicorn re-raises the signal that stopped it as soon as it has stopped serving; under SIGTERM's
    default action the process ended right there, before `open_services` had stopped the upstreams,
    and stdio children were left running with PPID 1. Held, a signal stops the server (or ends
    start-up early), and takes its course only once everything is closed.
    """

    def __init__(self) -> None:
        self.caught: list[int] = []
        self.server: GatewayServer | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> HeldSignals:
        self._previous = {sig: signal.signal(sig, self._note) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _note(self, sig: int, frame: FrameType | None) -> None:
        self.caught.append(sig)
        if self.server is not None:
            self.server.handle_exit(sig, frame)

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self.caught:
            signal.raise_signal(self.caught[0])


async def serve(
    settings: GatewaySettings, sockets: list[socket.socket] | None = None, held: HeldSignals | None = None
) -> None:
    async with open_services(settings) as services:
        _tune_garbage_collector()
        for name, connection in services.hub.upstreams.items():
            if not connection.is_ready:
                logger.warning("upstream %s is not available yet: %s", name, connection.status.error or "connecting")
        config = server_config(
            create_app(settings, services),
            settings.edge,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            # Above INFO the access log shows nothing, yet uvicorn would format each line anyway.
            access_log=settings.log_level.upper() in ("TRACE", "DEBUG", "INFO"),
            lifespan="on",
            timeout_graceful_shutdown=3,
        )
        redact_query_strings()  # the access log's request lines: /messages?sessionId=*** (a session's capability)
        server = GatewayServer(config)
        if held is not None:
            held.server = server
            if held.caught:
                return  # asked to stop while starting
        await server.serve(sockets)


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
        _fail(2, str(exc))
    workers = getattr(args, "workers", 1)
    process = " [%(process)d]" if workers != 1 else ""  # which worker said it
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s{process} %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _raise_open_file_limit()
    if workers != 1:
        _serve_workers(settings, workers)
    sockets = listen(settings)
    try:
        with HeldSignals() as held:
            anyio.run(serve, settings, sockets, held, backend_options={"use_uvloop": _uvloop_available()})
    except ConfigError as exc:
        _fail(2, str(exc))
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()


def _serve_workers(settings: GatewaySettings, workers: int) -> NoReturn:
    from mcpgate.workers import prepare_shared_files, serve_workers

    if workers < 1:
        _fail(2, f"--workers must be 1 or more, not {workers}")
    if settings.redis_url is None:
        _fail(
            2,
            f"--workers {workers} needs Redis, through which workers share sessions and changes: "
            "set MCPGATE_REDIS_URL (or `redis:` in the config file), or run one process",
        )
    # Each worker its own socket on the one port (SO_REUSEPORT); port 0 picks one for all.
    first = listen_shared(settings, settings.port)
    port = first[0].getsockname()[1]
    sockets = [first, *(listen_shared(settings, port) for _ in range(workers - 1))]
    try:
        prepare_shared_files(settings)
    except ValueError as exc:
        _fail(2, str(exc))
    except ConfigError as exc:
        _fail(2, str(exc))
    sig = serve_workers(settings, sockets, _serve_one)
    for group in sockets:
        for sock in group:
            sock.close()
    signal.raise_signal(sig)  # stopped by a signal: end as a single gateway does (handlers restored)
    raise SystemExit(128 + sig)


def listen_shared(settings: GatewaySettings, port: int) -> list[socket.socket]:
    return listen(settings.model_copy(update={"port": port}), reuse_port=True)


def _serve_one(settings: GatewaySettings, sockets: list[socket.socket]) -> None:
    """One worker's gateway (in its own process)."""
    try:
        with HeldSignals() as held:
            anyio.run(serve, settings, sockets, held, backend_options={"use_uvloop": _uvloop_available()})
    except KeyboardInterrupt:
        pass


def _raise_open_file_limit() -> None:
    """Each client connection is a file: the soft limit (often 1,024) goes up to the hard one (at
    most 2**20), and the connection cap is derived from it (`edge.maxConnections`)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, 1 << 20) if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # macOS refuses more than kern.maxfilesperproc
            logger.debug("open-file limit stays %d: %s", soft, exc)


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
