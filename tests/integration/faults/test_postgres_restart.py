"""PostgreSQL restarts under traffic: the service recovers by itself and no turn is left half-written.

Runs against a throwaway cluster of the test's own (initdb on a free port), restarted with
``pg_ctl -m fast``. Clients start turns and read sessions before and after; across the restart
itself turns are in flight (held at the model, a local provider stub) and the pool is full of
connections the restart kills; the first requests after it meet those dead connections.

Protections proved: (1) ``store.db`` checks every pooled connection at checkout, locally (asyncpg saw
the close, or the idle socket has the server's goodbye waiting), so connections the restart killed are
replaced before use: no request fails once the database is back and turns that were mid-flight across
the restart complete; (2) every job write is one transaction (user message + run start; outcome +
release) and the lease reaper ends what a failed write left behind. Without the checkout check the
first requests after the restart fail with 500 (SQLAlchemy invalidates the whole pool only after one
disconnect error, so exactly the first users after a restart would pay for it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from store.migrate import upgrade
from core.status import TERMINAL_STATUSES
from store.tables import runs as runs_table, sessions as sessions_table
from tests.support.harness import database, provider_settings, wait_for
from tests.support.provider import GOOD_ANSWER
from tests.support.services import OwnPostgres
from tests.support.openai_stub import openai_stub

pytestmark = pytest.mark.timeout(120)

CLIENTS = 6
MODEL_SECONDS = 0.2
# A turn may wait out the restart (deadline 8s). The long lease keeps the reaper (every lease/4) from
# touching the pool during the test: the first use of the pool after the restart must be a request.
LEASE = {"claim_lease_seconds": 120, "job_timeout_seconds": 8}
OK = {200, 202, 409}


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    cluster = OwnPostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


async def test_a_postgres_restart_under_traffic_is_survived_with_no_half_written_turn(
    api_factory: Any, own_pg: OwnPostgres
) -> None:
    async with database(own_pg.url) as db:
        await upgrade(db)
    flowing = threading.Event()  # the model answers while set, holds requests while clear
    flowing.set()
    held = [0]  # model requests waiting for `flowing`
    lock = threading.Lock()

    def model(body: dict[str, Any]) -> dict[str, Any]:
        with lock:
            held[0] += 1
        flowing.wait(60)
        with lock:
            held[0] -= 1
        time.sleep(MODEL_SECONDS)
        return GOOD_ANSWER

    async def settled_at_the_model() -> bool:
        """Every running turn is held at the model (none is between its answer and its outcome)."""
        return len(await executing(own_pg.url)) == held[0] > 0

    log: list[tuple[str, int, str]] = []  # (phase, status, body) of every client call
    phase = "before"
    running = asyncio.Event()

    async def client(api: Any, session_id: str) -> None:
        while True:
            await running.wait()
            if phase == "done":
                return
            for call in (lambda: api.turn(session_id, "We sell payroll software to restaurant owners"),
                         lambda: api.client.get(f"/api/campaigns/ai-chat-sessions/{session_id}", headers=api.headers)):
                tag = phase
                response = await call()
                log.append((tag, response.status_code, response.text))
            await asyncio.sleep(0.05)

    with openai_stub(model) as stub:
        api = await api_factory(database_url=own_pg.url, **LEASE, **provider_settings(stub.url))
        sessions = [await api.create_session() for _ in range(CLIENTS)]
        traffic = [asyncio.create_task(client(api, s["id"])) for s in sessions]
        running.set()
        # The pool fills with live connections: every client got through a few calls.
        await wait_for(lambda: asyncio.sleep(0, len(log) >= 4 * CLIENTS), "the clients' first calls", timeout=60)

        flowing.clear()  # turns from now on wait at the model...
        await wait_for(lambda: asyncio.sleep(0, held[0] >= CLIENTS // 2), "turns held at the model", timeout=60)
        running.clear()  # ...and the clients pause, so the dead pooled connections stay in the pool
        await wait_for(settled_at_the_model, "every running turn to be held at the model", timeout=60)
        in_flight = await executing(own_pg.url)
        await asyncio.to_thread(own_pg.stop, "fast")
        await asyncio.to_thread(own_pg.start)

        phase = "after"
        running.set()  # clients first: their requests meet the pool of dead connections
        await wait_for(lambda: asyncio.sleep(0, any(p == "after" for p, _, _ in log)), "a call after the restart")
        flowing.set()  # then the turns in flight get their answers and write their outcome
        await wait_for(lambda: asyncio.sleep(0, sum(p == "after" for p, _, _ in log) >= 4 * CLIENTS),
                       "traffic after the restart", timeout=60)
        phase = "done"
        await asyncio.gather(*traffic)
        for s in sessions:
            await api.wait_idle(s["id"], timeout=15)
        runs = await wait_for(lambda: all_ended(own_pg.url), "every run to end", timeout=20)

    after = [(status, body[:300]) for tag, status, body in log if tag == "after"]
    assert after and all(status in OK for status, _ in after), [x for x in after if x[0] not in OK][:3]
    carried = {r["id"]: r["status"] for r in runs if r["id"] in in_flight}
    assert set(carried.values()) == {"COMPLETED_SUCCESSFULLY"}, carried  # mid-flight turns survived the restart

    async with database(own_pg.url) as db, db.read() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(sa.select(sessions_table))]
    assert all(r["error"] and r["error"]["name"] for r in runs if r["status"] != "COMPLETED_SUCCESSFULLY")
    for row in rows:
        mine = [r for r in runs if r["session_id"] == row["id"]]
        roles = [m["role"] for m in row["messages"] or []]
        assert row["task_status"] is None and row["claim_run_id"] is None
        # One user message per turn that started, one assistant message per turn that succeeded,
        # and every assistant message answers the user message just before it.
        assert roles.count("user") == sum(r["started_at"] is not None for r in mine), (roles, mine)
        assert roles.count("assistant") == sum(r["status"] == "COMPLETED_SUCCESSFULLY" for r in mine)
        assert all(roles[i - 1] == "user" for i, role in enumerate(roles) if role == "assistant")


async def executing(url: str) -> set[str]:
    async with database(url) as db, db.read() as conn:
        return {row[0] for row in await conn.execute(sa.select(runs_table.c.id).where(runs_table.c.status == "EXECUTING"))}


async def all_ended(url: str) -> list[dict[str, Any]] | None:
    async with database(url) as db, db.read() as conn:
        runs = [dict(r._mapping) for r in await conn.execute(sa.select(runs_table))]
    return runs if all(r["status"] in TERMINAL_STATUSES for r in runs) else None


async def test_an_outcome_written_while_postgres_is_down_lands_once_it_is_back(
    api_factory: Any, own_pg: OwnPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """Protection: the job retries its outcome write (jobs.guard) while the database is away, for up to
    the claim's lease. Verified by removing the retry: the task crashes on the refused connection and
    the session stays busy until the lease runs out."""
    async with database(own_pg.url) as db:
        await upgrade(db)
    answer = threading.Event()
    with openai_stub(lambda body: (answer.wait(60), GOOD_ANSWER)[1]) as stub:
        api = await api_factory(database_url=own_pg.url, **LEASE, **provider_settings(stub.url))
        session = await api.create_session()
        turn = await api.turn(session["id"], "We sell payroll software to restaurant owners")
        assert turn.status_code == 202
        await wait_for(lambda: asyncio.sleep(0, bool(stub.seen)), "the turn to call its model")
        await asyncio.to_thread(own_pg.stop, "fast")
        answer.set()  # the model answers while the database is down: the outcome cannot be written yet
        await wait_for(lambda: asyncio.sleep(0, "writing the outcome failed" in caplog.text),
                       "a failed attempt to write the outcome")
        await asyncio.to_thread(own_pg.start)
        done = await api.wait_idle(session["id"], timeout=60)
    assert done["last_run"]["status"] == "succeeded" and done["last_run"]["id"] == turn.json()["runId"]
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]
