"""core.cancel.withdraw_cancel: after it, a handler's own timeouts read as timeouts on every 3.11+."""

from __future__ import annotations

import asyncio

from core.cancel import withdraw_cancel


async def test_a_handled_cancellation_leaves_timeouts_working_and_later_cancels_counted() -> None:
    results: list[object] = []
    started = asyncio.Event()

    async def handler() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            results.append(withdraw_cancel())
            results.append(asyncio.current_task().cancelling())  # type: ignore[union-attr]
            try:
                async with asyncio.timeout(0):
                    await asyncio.sleep(1)
            except TimeoutError:
                results.append("timeout")
            raise

    task = asyncio.create_task(handler())
    await started.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()  # re-raising still ends the task as cancelled
    assert results == [1, 0, "timeout"]


async def test_nothing_to_withdraw_outside_a_cancellation() -> None:
    assert withdraw_cancel() == 0
