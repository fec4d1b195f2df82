"""Handling a cancellation without tripping over it: one helper for every ``except CancelledError``
block that goes on awaiting (to record a run's outcome, ask Redis why, close connections) before it
re-raises or carries on.

Why it exists: a caught ``CancelledError`` leaves the task's cancel request counted
(``Task.cancelling() > 0``). ``asyncio.timeout()`` decides whether its own expiry became a
``TimeoutError`` from that count, and Python 3.11.0-3.11.2 (Debian 12's ``python3``) compare it
with zero where 3.11.3+ compare it with the count at entry. So on 3.11.2, inside a handler that did
not withdraw the request, every ``asyncio.timeout`` that expires raises ``CancelledError`` instead
of ``TimeoutError``: redis-py's zero-second "anything to read?" probe, run before each command,
then aborts the command, and the handler dies before it records anything. Withdrawing the request
(:meth:`asyncio.Task.uncancel`, the documented way to say "handled") makes every later await
behave the same on every 3.11+; the handler re-raises ``CancelledError`` itself when it means to.
"""

from __future__ import annotations

import asyncio


def withdraw_cancel() -> int:
    """Withdraw every cancel request pending on the current task; how many there were.

    Call it first thing in an ``except asyncio.CancelledError`` block that awaits anything. A cancel
    that arrives later is counted (and delivered) afresh.
    """
    task = asyncio.current_task()
    withdrawn = 0
    while task is not None and task.cancelling() > 0:
        task.uncancel()
        withdrawn += 1
    return withdrawn


async def cancel_until_done(task: asyncio.Future[object], every: float = 1.0) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling it again every ``every`` seconds.

    One cancel is not always enough: on Python 3.11 ``asyncio.wait_for`` returns the result of the call
    it wraps, instead of raising, when the cancel lands just as that call completes, and redis-py wraps
    every command it sends in one. A loop that talks to Redis can so swallow a cancel and run on."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every)
    if not task.cancelled():
        task.exception()  # ended some other way: retrieved, as gather(return_exceptions=True) did
