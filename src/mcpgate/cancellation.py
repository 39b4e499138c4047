"""Work in the current task that another task (or a timer) may call off: a scope for one task.

    with CallOff() as call_off:          # elsewhere: call_off.cancel()
        await work()
    if call_off.cancelled_caught: ...    # it was called off, and nothing else cancelled the task

What `anyio.CancelScope` does for one task, as asyncio's own `Timeout` does it (the task's
cancel count, 3.11+): `cancel()` cancels the task once, and leaving the scope swallows that
one cancellation only, so a cancellation from outside (shutdown, an enclosing scope) still
propagates. Three per call sat on the gateway's hottest path, where anyio's scope (4.5 µs to
enter and leave, against 0.8 µs) was a measurable share of the CPU (docs/benchmarks.md).

Unlike anyio's, the cancellation is delivered once, not at every later await: cleanup that
awaits runs, and work that must survive a cancel is shielded the asyncio way (`kept`), since
an anyio shield does not stop a task's own cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")

_keeping: set[asyncio.Future[object]] = set()  # shielded work still running: the loop holds tasks weakly


class CallOff:
    __slots__ = ("_task", "_cancelling", "_called", "_issued", "cancelled_caught")

    def __init__(self) -> None:
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._called = False  # cancel() was asked for
        self._issued = False  # ...and the task's cancel was requested, inside the scope
        self.cancelled_caught = False

    def __enter__(self) -> CallOff:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("CallOff must be entered in an asyncio task")
        self._task = task
        self._cancelling = task.cancelling()
        if self._called:  # called off before it started
            asyncio.get_running_loop().call_soon(self._issue)
        return self

    def cancel(self) -> None:
        """Call the work off (once; later calls, and calls after it ended, do nothing)."""
        if self._called:
            return
        self._called = True
        if self._task is None:
            return
        if asyncio.current_task() is self._task:
            # From inside: a cancel the task never awaits again in the scope would stay
            # pending (3.11 keeps it past uncancel) and hit it later. Issue it once the task
            # has stopped, at an await in the scope (delivered there) or past the scope (dropped).
            asyncio.get_running_loop().call_soon(self._issue)
        else:
            self._issue()  # the task is stopped at an await in the scope: delivered there

    def _issue(self) -> None:
        if self._task is not None and not self._issued:
            self._issued = True
            self._task.cancel()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        task, self._task = self._task, None
        if self._issued and task is not None and task.uncancel() <= self._cancelling:
            if exc_type is asyncio.CancelledError:  # ours was the only cancellation: swallow it
                self.cancelled_caught = True
                return True
        return False


async def kept(work: Awaitable[T]) -> T:
    """`work`'s result; if this task is cancelled meanwhile, `work` still runs to its end."""
    future = asyncio.ensure_future(work)
    _keeping.add(future)
    future.add_done_callback(_keeping.discard)
    return await asyncio.shield(future)
