"""CallOff: one task's work called off from elsewhere, and nothing more cancelled than that."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from mcpgate.cancellation import CallOff, kept

pytestmark = pytest.mark.anyio


async def test_work_called_off_from_another_task_ends_and_the_task_goes_on() -> None:
    call_off = CallOff()
    reached = []

    async def work() -> str:
        with call_off:
            await asyncio.Event().wait()
            reached.append("after the wait")
        await asyncio.sleep(0)  # no cancellation is left pending for later
        return "went on"

    task = asyncio.ensure_future(work())
    await asyncio.sleep(0)
    call_off.cancel()
    assert await asyncio.wait_for(task, 5) == "went on"
    assert call_off.cancelled_caught and reached == []
    assert task.cancelling() == 0


async def test_a_cancel_of_the_task_itself_still_ends_the_task() -> None:
    call_off = CallOff()

    async def work() -> None:
        with call_off:
            await asyncio.Event().wait()
        await asyncio.Event().wait()  # must not be reached: the task was cancelled too

    task = asyncio.ensure_future(work())
    await asyncio.sleep(0)
    call_off.cancel()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert not call_off.cancelled_caught


async def test_called_off_from_inside_without_another_await_leaves_nothing_pending() -> None:
    async def work() -> str:
        with CallOff() as call_off:
            call_off.cancel()  # e.g. a handler that closes its own session, then returns
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "not cancelled later"

    assert await asyncio.wait_for(work(), 5) == "not cancelled later"


async def test_called_off_from_inside_is_delivered_at_the_next_await_in_the_scope() -> None:
    async def work() -> bool:
        with CallOff() as call_off:
            call_off.cancel()
            await asyncio.Event().wait()
        return call_off.cancelled_caught

    assert await asyncio.wait_for(work(), 5) is True


async def test_called_off_before_it_started_ends_at_the_first_await() -> None:
    call_off = CallOff()
    call_off.cancel()

    async def work() -> bool:
        with call_off:
            await asyncio.Event().wait()
        return call_off.cancelled_caught

    assert await asyncio.wait_for(work(), 5) is True


async def test_called_off_after_it_ended_changes_nothing() -> None:
    async def work() -> CallOff:
        with CallOff() as call_off:
            await asyncio.sleep(0)
        call_off.cancel()
        await asyncio.sleep(0)
        return call_off

    call_off = await asyncio.wait_for(work(), 5)
    assert not call_off.cancelled_caught


async def test_an_anyio_deadline_inside_and_outside_keeps_its_meaning() -> None:
    async def inner_deadline() -> str:
        with CallOff() as call_off:
            with anyio.move_on_after(0.01) as inner:
                await asyncio.Event().wait()
        return f"{inner.cancelled_caught} {call_off.cancelled_caught}"

    assert await asyncio.wait_for(inner_deadline(), 5) == "True False"

    async def outer_deadline() -> str:
        with anyio.move_on_after(0.01) as outer:
            with CallOff() as call_off:
                await asyncio.Event().wait()
        return f"{outer.cancelled_caught} {call_off.cancelled_caught}"

    assert await asyncio.wait_for(outer_deadline(), 5) == "True False"


async def test_kept_work_finishes_though_its_caller_is_cancelled() -> None:
    release, done = asyncio.Event(), asyncio.Event()

    async def record() -> None:
        await release.wait()
        done.set()

    call_off = CallOff()

    async def call() -> None:
        with call_off:
            await kept(record())

    task = asyncio.ensure_future(call())
    await asyncio.sleep(0)
    call_off.cancel()
    await asyncio.wait_for(task, 5)
    assert call_off.cancelled_caught and not done.is_set()
    release.set()
    await asyncio.wait_for(done.wait(), 5)
