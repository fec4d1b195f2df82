"""The lease reaper on a database that is not migrated yet: `serve` says so once and /health/ready
answers 503 not_migrated; the reaper, which sweeps every couple of seconds, must not add a traceback
per tick (it did once its interval dropped to 2 s)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from core.settings import Settings
from services.reaper import Reaper


class Unmigrated:
    """A database whose every unit of work finds no tables; counts the sweeps."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.sweeps = 0

    async def run(self, *_args: Any, **_kwargs: Any) -> Any:
        self.sweeps += 1
        raise self.error


async def _tick(db: Unmigrated, times: int) -> None:
    reaper = Reaper(db, Settings())  # type: ignore[arg-type]
    reaper.interval = 0.001
    task = asyncio.create_task(reaper.run_forever())
    try:
        async with asyncio.timeout(10):
            while db.sweeps < times:
                await asyncio.sleep(0.005)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_sweeps_of_an_unmigrated_database_log_no_error(caplog: pytest.LogCaptureFixture) -> None:
    missing = OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: sessions"))
    with caplog.at_level(logging.DEBUG, logger="campaign_chat.reaper"):
        await _tick(Unmigrated(missing), 3)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_any_other_failed_sweep_is_still_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    broken = OperationalError("SELECT …", {}, sqlite3.OperationalError("disk I/O error"))
    with caplog.at_level(logging.DEBUG, logger="campaign_chat.reaper"):
        await _tick(Unmigrated(broken), 2)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None
