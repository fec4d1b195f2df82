"""The worker's poll loop ends after a signal even when a cancel is swallowed on the way.

ARQ's signal handler cancels the poll loop once. On Python 3.11, ``asyncio.wait_for`` returns the result of
the call it wraps instead of raising when the cancel lands just as that call completes, and redis-py wraps
every command it sends in one (``send_packed_command`` with a socket timeout): a worker that logged its
shutdown ran on, neither picking jobs nor exiting, until it was killed (seen once in a loaded test run).
``until_stopped`` cancels it again until it ends.
"""

from __future__ import annotations

import asyncio

import pytest

from bridge import arq_worker


async def _send() -> None:  # a Redis command on a live socket: the write completes at once
    await asyncio.sleep(0)


async def _poll_like_redis_py() -> None:
    while True:
        await asyncio.wait_for(_send(), 10)  # noqa: the pattern redis-py uses, which loses cancels on 3.11


@pytest.mark.parametrize("steps", range(6))
async def test_the_poll_loop_ends_after_a_signal_even_when_arqs_cancel_is_swallowed(
        monkeypatch: pytest.MonkeyPatch, steps: int) -> None:
    monkeypatch.setattr(arq_worker, "RECANCEL_SECONDS", 0.01)
    for _ in range(30):  # a cancel is swallowed in about half of these on Python 3.11
        poll = asyncio.ensure_future(_poll_like_redis_py())
        stopped = asyncio.Event()
        waiter = asyncio.ensure_future(arq_worker.until_stopped(poll, stopped))
        for _ in range(steps):
            await asyncio.sleep(0)
        poll.cancel()  # what ARQ's handler does once the running jobs had their grace: cancel, then on_stop
        stopped.set()
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await waiter
        assert poll.cancelled()


async def test_a_poll_loop_that_ends_or_fails_by_itself_is_reported_as_such() -> None:
    async def burst_done() -> None:
        await asyncio.sleep(0)

    async def crashed() -> None:
        raise RuntimeError("poll loop crashed")

    await arq_worker.until_stopped(asyncio.ensure_future(burst_done()), asyncio.Event())
    with pytest.raises(RuntimeError, match="crashed"):
        await arq_worker.until_stopped(asyncio.ensure_future(crashed()), asyncio.Event())


async def test_cancelling_the_waiter_stops_the_poll_loop_too() -> None:
    poll = asyncio.ensure_future(asyncio.sleep(60))
    waiter = asyncio.ensure_future(arq_worker.until_stopped(poll, asyncio.Event()))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    assert poll.cancelled()


async def test_cancel_until_done_ends_a_loop_that_swallows_cancels() -> None:
    """What the wake-up listener's close() now uses (its Redis commands can swallow a cancel the same way)."""
    from core.cancel import cancel_until_done

    for _ in range(30):
        loop = asyncio.ensure_future(_poll_like_redis_py())
        await asyncio.sleep(0)
        async with asyncio.timeout(5):
            await cancel_until_done(loop, every=0.01)
        assert loop.cancelled()
