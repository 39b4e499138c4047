"""Child processes of a fleet test: each in a process group of its own, its output in a file.

    child = Child("r0", tmp_path / "r0.log")
    await child.spawn(["mcpgate", "serve", "--port", "8123"], env)
    await child.kill()        # SIGKILL to the whole group: the process and whatever it started
    await child.terminate()   # SIGTERM to the process, a bounded wait, then SIGKILL to what is left
    child.log()               # everything it wrote to stdout and stderr, across restarts

A kill is a crash of the machine the process runs on: SIGKILL to its group and to every process
it started, wherever they are (`mcpgate serve` starts each stdio upstream in a group of its own;
SIGKILL to the gateway alone would leave them running with PPID 1). A terminate lets the process
stop what it started, then kills whatever of it is still there. It is not a supervisor: nothing
is restarted unless a test asks.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import Process

STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A loopback port nothing listens on now, chosen up front so that a process can be restarted
    on the same one (and the balancer still finds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Running:
    """A process seen in /proc: its start time tells it from a later one given the same pid."""

    pid: int
    ppid: int
    pgid: int
    started: int
    zombie: bool

    @classmethod
    def read(cls, pid: int) -> Running | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        # After the command's closing parenthesis: state, ppid, pgrp, … (starttime is field 22).
        fields = stat.rpartition(")")[2].split()
        return cls(pid, int(fields[1]), int(fields[2]), int(fields[19]), fields[0] == "Z")

    def alive(self) -> bool:
        """Still this process, and not a zombie."""
        now = Running.read(self.pid)
        return now is not None and now.started == self.started and not now.zombie


def descendants(pid: int) -> list[Running]:
    """The processes `pid` started, and theirs, as they are now."""
    table = [
        entry for path in Path("/proc").iterdir() if path.name.isdigit() and (entry := Running.read(int(path.name)))
    ]
    found: list[Running] = []
    parents = {pid}
    while True:
        children = [entry for entry in table if entry.ppid in parents and entry not in found]
        if not children:
            return found
        found += children
        parents = {entry.pid for entry in children}


class Child:
    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.process: Process | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def spawn(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._note(f"started: {shlex.join(command)}")
        # Appended to, so that a restarted process's output follows the one before it; the child
        # holds its own copy of the descriptor.
        with self.log_path.open("ab") as log:
            self.process = await anyio.open_process(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
            )

    def family(self) -> list[Running]:
        """The process and every process it started (and they started), as they are now."""
        if self.process is None or (itself := Running.read(self.process.pid)) is None:
            return []
        return [itself, *descendants(itself.pid)]

    async def kill(self) -> None:
        """SIGKILL to the process and all it started, as a crash of the machine it runs on would be."""
        if self.process is None:
            return
        self._signal_group(signal.SIGSTOP)  # frozen, it starts nothing while its family is listed
        family = self.family()
        self._kill(family)
        await self._reap("killed (SIGKILL)", family)

    async def terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, up to `timeout` seconds to exit, then SIGKILL to whatever of its family is left."""
        if self.process is None:
            return
        family = self.family()
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            with anyio.move_on_after(timeout):
                await self.process.wait()
        self._kill(family)
        await self._reap("stopped (SIGTERM)", family)

    def kill_now(self) -> None:
        """The synchronous last resort of a fixture's finalizer: SIGKILL to the family, no waiting."""
        if self.process is not None:
            self._kill(self.family())

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def _kill(self, family: list[Running]) -> None:
        self._signal_group(signal.SIGKILL)
        for member in family:
            if member.alive():  # checked first: its pid may be another process's by now
                with suppress(ProcessLookupError):
                    if member.pgid == member.pid:  # a group leader: what it started in its group too
                        os.killpg(member.pid, signal.SIGKILL)
                    os.kill(member.pid, signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)  # the group's id is the child's pid (start_new_session)
        except ProcessLookupError:
            pass  # the group is gone: the process has exited and left nothing behind

    async def _reap(self, how: str, family: list[Running]) -> None:
        """Wait for the process's exit, and for the end of every process of its family (SIGKILL is
        delivered when the kernel next schedules them, not when it is sent)."""
        assert self.process is not None
        process, self.process = self.process, None
        with anyio.fail_after(STOP_TIMEOUT, shield=True):  # a cancelled test still reaps its children
            await process.aclose()
            while any(member.alive() for member in family):
                await anyio.sleep(0.01)
        self._note(f"{how}, exit status {process.returncode}")

    def _note(self, line: str) -> None:
        with self.log_path.open("a") as log:
            log.write(f"--- {self.name} {line}\n")
