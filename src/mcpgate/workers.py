"""`mcpgate serve --workers N`: N serving processes on one port, kept running.

    status = serve_workers(settings, 4, serve_one)   # returns when stopped (SIGTERM, SIGINT)

One gateway process uses about one core; workers are how one host uses more. Each worker is a
replica like any other — its own upstream connections and stdio children, its sessions found
by the others through Redis (`fleet/`) — so workers need Redis, and `cli.py` refuses N > 1
without it rather than start an embedded broker: the sharing would then work on one host and
differently on two, and Redis is what a fleet runs on anyway.

Each worker has its own listening socket bound with SO_REUSEPORT, so the kernel spreads new
connections evenly over them (one socket shared by all wakes every worker for each connection
and lets the busiest take most). The supervisor (this process) binds them all before any
worker starts, so a port in use is one error line, migrates the database once so workers do
not race, then forks; a worker that dies is started again (after a pause that grows while
they keep dying). SIGTERM or SIGINT is passed to every worker, which stops as a single
gateway does; one still running after `_STOP_SECONDS` is killed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

import anyio

from mcpgate.app import prepare_database
from mcpgate.settings import GatewaySettings
from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import Database, database_url

logger = logging.getLogger("mcpgate.workers")

ServeOne = Callable[[GatewaySettings, list[socket.socket]], None]

_STOP_SECONDS = 15.0  # a worker asked to stop has this long before it is killed
_RESTART_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # pauses before restarting a worker that keeps dying
_STAYED_UP_SECONDS = 30.0  # a worker that ran this long before dying is restarted at once


@dataclass
class _Worker:
    number: int
    sockets: list[socket.socket]
    process: BaseProcess | None = None
    started_at: float = 0.0
    deaths: int = 0
    restart_at: float | None = None
    exits: list[int | None] = field(default_factory=list)


def prepare_shared_files(settings: GatewaySettings) -> None:
    """What workers would otherwise race to create: the schema at head, the generated secret key."""
    database = Database(database_url(settings.database_url, settings.data_dir))
    if database.ephemeral:
        raise ValueError("workers cannot share an in-memory database: set MCPGATE_DATABASE_URL or a data dir")

    async def migrate() -> None:
        try:
            await prepare_database(database, settings.migrate_on_start)
        finally:
            await database.aclose()

    anyio.run(migrate)
    if not settings.secret_key:
        SecretBox.from_settings(None, settings.data_dir)


def serve_workers(settings: GatewaySettings, sockets: list[list[socket.socket]], serve_one: ServeOne) -> int:
    """Run one worker per entry of `sockets` until a signal asks to stop; that signal."""
    context = multiprocessing.get_context("fork")  # nothing runs yet but this thread: fork is safe and quick
    workers = [_Worker(number, own) for number, own in enumerate(sockets, 1)]
    stopping: list[int] = []

    def note(sig: int, frame: FrameType | None) -> None:
        stopping.append(sig)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for worker in workers:
            _start(context, worker, settings, serve_one)
        logger.info("%d workers serving (pids %s)", len(workers), ", ".join(str(w.process.pid) for w in workers))  # type: ignore[union-attr]
        while not stopping:
            running = [w.process.sentinel for w in workers if w.process is not None and w.process.is_alive()]
            wait(running, timeout=0.5)  # wakes on a worker's exit; bounded so a signal is seen soon
            now = time.monotonic()
            for worker in workers:
                process = worker.process
                if process is not None and not process.is_alive() and not stopping:
                    _died(worker, now)
                if worker.restart_at is not None and now >= worker.restart_at and not stopping:
                    _start(context, worker, settings, serve_one)
        return _stop(workers, stopping[0])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _start(
    context: multiprocessing.context.BaseContext, worker: _Worker, settings: GatewaySettings, serve_one: ServeOne
) -> None:
    process = context.Process(  # type: ignore[attr-defined]
        target=_run_worker, args=(serve_one, settings, worker.sockets), name=f"mcpgate-worker-{worker.number}"
    )
    process.start()
    worker.process = process
    worker.started_at = time.monotonic()
    worker.restart_at = None


def _run_worker(serve_one: ServeOne, settings: GatewaySettings, sockets: list[socket.socket]) -> None:
    # Not the supervisor's handlers, inherited: until `serve_one` holds them, a signal stops the worker.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    serve_one(settings, sockets)


def _died(worker: _Worker, now: float) -> None:
    assert worker.process is not None
    code = worker.process.exitcode
    worker.process.close()
    worker.process = None
    worker.deaths = 0 if now - worker.started_at >= _STAYED_UP_SECONDS else worker.deaths + 1
    pause = 0.0 if worker.deaths == 0 else _RESTART_SECONDS[min(worker.deaths, len(_RESTART_SECONDS)) - 1]
    worker.restart_at = now + pause
    how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
    logger.error("worker %d %s; starting it again in %gs", worker.number, how, pause)


def _stop(workers: list[_Worker], sig: int) -> int:
    """Stop every worker (SIGTERM, then SIGKILL after `_STOP_SECONDS`); `sig`, for the caller to re-raise."""
    processes = [w.process for w in workers if w.process is not None and w.process.is_alive()]
    for process in processes:
        os.kill(process.pid, signal.SIGTERM)  # type: ignore[arg-type]
    deadline = time.monotonic() + _STOP_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            logger.error("worker %s did not stop within %gs; killing it", process.pid, _STOP_SECONDS)
            process.kill()
            process.join(5)
    return sig
