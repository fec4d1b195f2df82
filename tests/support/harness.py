"""What the fault tests share: provider settings, short leases, and direct reads of the rows.

The API runs in the test's loop (``api_factory``, called over HTTP through httpx's ASGI transport);
workers, Redis and PostgreSQL are real processes. Assertions read the rows the processes wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from store import runs
from store.db import Database
from store.tables import run_events, sessions as sessions_table

PROVIDER_KEY = "sk-test-local-0123456789abcdef"
# A short lease and deadline make the crash paths observable in seconds (the reaper runs every lease/4).
LEASE_SECONDS, DEADLINE_SECONDS = 4, 2
FAST_LEASE_ENV = {"CAMPAIGN_CHAT_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
                  "CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS": str(DEADLINE_SECONDS)}
FAST_LEASE = {"claim_lease_seconds": LEASE_SECONDS, "job_timeout_seconds": DEADLINE_SECONDS}


def provider_env(url: str) -> dict[str, str]:
    """The variables an operator sets to use an OpenAI-compatible server as the framework LLM."""
    return {"LLM_MODEL": "openai:gpt-4o-mini", "OPENAI_BASE_URL": url, "OPENAI_API_KEY": PROVIDER_KEY}


def provider_settings(url: str) -> dict[str, str]:
    """The same, as Settings overrides for an in-loop app (``OPENAI_API_KEY`` comes from the environment)."""
    return {"llm_model": "openai:gpt-4o-mini", "openai_base_url": url}


@asynccontextmanager
async def database(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()


async def run_row(url: str, run_id: str) -> Any:
    """The stored run as plain values (status, error, usage, timestamps), or None."""
    async with database(url) as db:
        row = await db.run_read(runs.get, run_id)
    return msgspec.to_builtins(row, builtin_types=(datetime,)) if row else None


async def session_row(url: str, session_id: str) -> Any:
    async with database(url) as db, db.read() as conn:
        row = (await conn.execute(sa.select(sessions_table).where(sessions_table.c.id == session_id))).first()
        return dict(row._mapping) if row else None


async def events_of(url: str, run_id: str) -> list[dict[str, Any]]:
    async with database(url) as db, db.read() as conn:
        rows = await conn.execute(sa.select(run_events.c.event).where(run_events.c.run_id == run_id)
                                  .order_by(run_events.c.seq))
        return [row[0] for row in rows]


async def wait_for(check: Any, what: str, timeout: float = 20, interval: float = 0.05) -> Any:
    """Poll ``await check()`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(interval)


async def wait_run_status(url: str, run_id: str, *statuses: str, timeout: float = 20) -> Any:
    async def reached() -> Any:
        row = await run_row(url, run_id)
        return row if row is not None and row["status"] in statuses else None

    return await wait_for(reached, f"run {run_id} to reach {statuses}", timeout)


async def start_turn(api: Any, session_id: str, message: str) -> str:
    """POST /turn and return the accepted run's id."""
    response = await api.turn(session_id, message)
    assert response.status_code == 202, response.text
    return response.json()["runId"]


async def start_worker(workers: Any, **env: str) -> Any:
    """A worker process that is ready to take jobs. (The queue's health key alone is not proof: a
    killed worker's key outlives it by up to a health-check interval.)"""
    worker = await workers.start(**env)
    await wait_for(lambda: asyncio.sleep(0, "worker ready" in worker.logs()), "the worker to be ready", timeout=30)
    return worker
