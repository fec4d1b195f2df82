"""SQLite writers take turns on a lock file beside the database (``store.db._WriterTurns``): a write
transaction holds it from BEGIN to COMMIT or ROLLBACK, a read never takes it, a writer in another
process waits for it, and a turn that is never given back only delays a writer, it does not hang it."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from store import db as store_db
from store.db import Database

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("taken", flush=True)
sys.stdin.readline()
"""


def _lock_file(tmp_path: Path) -> str:
    return str(tmp_path / "cc.db") + ".writer-lock"


def _held_elsewhere(path: str) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing the descriptor gives back a lock it took
    return False


def _create(conn: sa.Connection) -> None:
    conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")


def _count(conn: sa.Connection) -> int:
    return conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one()


async def test_a_write_holds_the_turn_until_it_ends_and_a_read_never_takes_it(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    lock = _lock_file(tmp_path)
    seen: dict[str, bool] = {}

    def write(conn: sa.Connection) -> None:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        seen["while writing"] = _held_elsewhere(lock)

    def read(conn: sa.Connection) -> int:
        seen["while reading"] = _held_elsewhere(lock)
        return _count(conn)

    def fail(conn: sa.Connection) -> None:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        raise RuntimeError("the unit of work failed")

    try:
        await db.run(_create)
        await db.run(write)
        assert await db.run_read(read) == 1
        assert seen == {"while writing": True, "while reading": False}
        assert not _held_elsewhere(lock), "the turn was not given back after the commit"
        with pytest.raises(RuntimeError):
            await db.run(fail)
        assert not _held_elsewhere(lock), "the turn was not given back after the rollback"
        assert await db.run_read(_count) == 1
    finally:
        await db.dispose()


async def test_a_writer_waits_while_another_process_has_the_turn_and_goes_once_it_is_given_back(
        tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await db.run(_create)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, _lock_file(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "taken"
        write = asyncio.create_task(db.run(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (1)")))
        await asyncio.sleep(0.3)  # SQLite itself is free: without turns the write would be long done
        assert not write.done(), "the write did not wait for the other process's turn"
        holder.stdin.write("release\n")
        holder.stdin.flush()
        await asyncio.wait_for(write, 10)
        assert await db.run_read(_count) == 1
    finally:
        holder.kill()
        holder.wait()
        await db.dispose()


async def test_a_turn_never_given_back_delays_a_writer_but_does_not_hang_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(store_db, "WRITER_TURN_WAIT_S", 0.3)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await db.run(_create)
    stuck = os.open(_lock_file(tmp_path), os.O_RDWR)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # a process stopped while holding its turn
    try:
        with caplog.at_level(logging.WARNING, logger="campaign_chat.store"):
            await asyncio.wait_for(db.run(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (1)")), 10)
        assert await db.run_read(_count) == 1
        assert "writing without it" in caplog.text
    finally:
        os.close(stuck)
        await db.dispose()
