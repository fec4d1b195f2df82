"""An ARQ worker dies (``kill -9``) or freezes mid-turn: nothing is lost and nothing lands late.

The turn is held mid-flight at the model provider (a local stub that answers only when told), so the
run is EXECUTING and the user's message is stored when the worker is killed or frozen.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core.ids import utcnow
from core.settings import Settings
from tests.support.harness import (FAST_LEASE, FAST_LEASE_ENV, LEASE_SECONDS, database, events_of, provider_env,
                                  run_row, session_row, start_turn, start_worker, wait_for)
from tests.support.provider import provider
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.timeout(90)

FIRST = "We sell payroll software to restaurant owners"
SECOND = "Make it about saving four hours a week"
REAPED_WITHIN = LEASE_SECONDS + 4  # the lease, one reaper tick (lease/4) and slack for a loaded machine
# A frozen worker may be stopped inside a transaction: its row locks hold the reaper's writes until
# PostgreSQL ends that transaction (idle_in_transaction_session_timeout, also the lease). Locally the
# session is free 4-5 s after the freeze, under load too; one CI run saw more than 8 s, so the bound
# allows both waits end to end, and a miss prints what the database was doing (who waits, who holds).
FROZEN_REAPED_WITHIN = 2 * LEASE_SECONDS + 4


async def arq_api(api_factory: Any, workers: WorkerPool) -> Any:
    return await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue, **FAST_LEASE)


async def turn_in_flight(api: Any, workers: WorkerPool, held: Any, session_id: str) -> tuple[str, Any, Any]:
    """Start a turn on one of two ready workers; return once it waits on the model (user message stored),
    with (run id, the worker running it, the other worker)."""
    pair = await asyncio.gather(*(start_worker(workers, **FAST_LEASE_ENV, **provider_env(held.url)) for _ in range(2)))
    run_id = await start_turn(api, session_id, FIRST)
    workers.run_ids.append(run_id)
    await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the model request", timeout=30)
    running = [w for w in pair if started_in_logs(w.logs(), run_id)]
    assert len(running) == 1, "exactly one worker took the turn"
    return run_id, running[0], next(w for w in pair if w is not running[0])


async def test_a_killed_worker_loses_the_lease_the_run_is_crashed_and_the_session_freed(
    api_factory: Any, workers: WorkerPool, pg_url: str
) -> None:
    """Protection: the API's lease reaper (``SessionService.reap_expired``, every lease/4) fails a run
    whose lease ended without a release and frees its session. Verified by making ``reap_expired``
    return 0 without doing anything: the run then stays EXECUTING and ``last_run`` never says why."""
    with provider("held") as held:
        api = await arq_api(api_factory, workers)
        session = await api.create_session()
        run_id, worker, _survivor = await turn_in_flight(api, workers, held, session["id"])

        worker.process.kill()  # SIGKILL: no handler runs, nothing is released
        await asyncio.to_thread(worker.process.wait)
        busy = await api.turn(session["id"], SECOND)
        assert busy.status_code == 409 and busy.json()["run_id"] == run_id  # the lease still holds it
        held.gate.set()  # the provider answers normally from now on
        freed = await api.wait_idle(session["id"], timeout=REAPED_WITHIN)

        assert freed["messages"] == [{"role": "user", "content": FIRST}]  # what the user said is kept
        assert freed["last_run"]["id"] == run_id and freed["last_run"]["status"] == "failed"
        assert freed["last_run"]["error"]["code"] == "lease_expired"
        crashed = await run_row(pg_url, run_id)
        assert crashed["status"] == "CRASHED" and crashed["completed_at"] is not None
        assert crashed["error"]["name"] == "lease_expired" and crashed["error"]["message"]

        # Claimable again: the next turn runs on the surviving worker.
        next_run = await start_turn(api, session["id"], SECOND)
        workers.run_ids.append(next_run)
        done = await api.wait_idle(session["id"], timeout=30)
        assert done["last_run"]["id"] == next_run and done["last_run"]["status"] == "succeeded", done["last_run"]
        assert [m["role"] for m in done["messages"]] == ["user", "user", "assistant"]
        assert (await run_row(pg_url, run_id))["status"] == "CRASHED"  # a redelivery never reopens it


async def test_with_default_settings_a_killed_workers_session_is_free_within_the_lease(
    api_factory: Any, workers: WorkerPool, pg_url: str, record_property: Any
) -> None:
    """The recovery time after ``kill -9`` with the shipped defaults (no test lease): the claim is
    takeable once its lease ends, at most ``CAMPAIGN_CHAT_CLAIM_LEASE_SECONDS`` (15 s) after the kill,
    since the heartbeat renewed it at most a third of a lease before; the reaper's next sweep then
    writes ``last_run`` and clears ``task_status``. Measured from the kill to each of the two."""
    lease = Settings().claim_lease_seconds
    assert lease <= 15
    with provider("held") as held:
        api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=workers.queue)
        reaper_interval = api.app.state.container.reaper.interval
        worker = await start_worker(workers, **provider_env(held.url))
        session = await api.create_session()
        run_id = await start_turn(api, session["id"], FIRST)
        workers.run_ids.append(run_id)
        await wait_for(lambda: asyncio.sleep(0, held.requests >= 1), "the model request", timeout=30)

        killed_at, killed = utcnow(), time.monotonic()
        worker.process.kill()
        await asyncio.to_thread(worker.process.wait)
        claimable_at = (await session_row(pg_url, session["id"]))["lease_expires_at"]
        freed = await api.wait_idle(session["id"], timeout=lease + reaper_interval + 15)
        recovered = time.monotonic() - killed

    claimable = (claimable_at - killed_at).total_seconds()
    record_property("claimable_after_kill_seconds", round(claimable, 2))
    record_property("freed_after_kill_seconds", round(recovered, 2))
    assert claimable_at - killed_at <= timedelta(seconds=lease)  # a new turn may claim it from then on
    # The sweep after the lease ended; a second of slack for the sweep and this loop's polling.
    assert recovered <= lease + reaper_interval + 1.0, (claimable, recovered)
    assert freed["last_run"]["id"] == run_id and freed["last_run"]["error"]["code"] == "lease_expired"
    assert freed["messages"] == [{"role": "user", "content": FIRST}]  # what the user said is kept
    assert (await run_row(pg_url, run_id))["status"] == "CRASHED"


async def test_a_frozen_worker_that_wakes_after_its_lease_cannot_land_a_late_write(
    api_factory: Any, workers: WorkerPool, pg_url: str
) -> None:
    """Protection: every job write is conditional — session writes on ``claim_run_id`` (store.sessions
    ``update_if_holding``/``release``), run status on the run being active (``runs.finish``), progress
    events on the run being active (``RunReporter.flush``). Verified by dropping the ``claim_run_id``
    condition from ``update_if_holding`` (the woken turn's failure then overwrites ``last_run``) and by
    dropping ``only_active`` from the reporter's update (its events then land on the crashed run)."""
    with provider("held") as held:
        api = await arq_api(api_factory, workers)
        session = await api.create_session()
        run_id, frozen, _survivor = await turn_in_flight(api, workers, held, session["id"])

        frozen.process.send_signal(signal.SIGSTOP)  # a GC pause, a frozen VM: alive but silent
        held.gate.set()  # the provider answers the survivor's turns, and the frozen turn once it wakes
        try:
            freed = await wait_idle_or_explain(api, pg_url, session["id"], timeout=FROZEN_REAPED_WITHIN)
            assert freed["last_run"]["error"]["code"] == "lease_expired"
            next_run = await start_turn(api, session["id"], SECOND)
            workers.run_ids.append(next_run)
            before = await api.wait_idle(session["id"], timeout=30)
            assert before["last_run"]["id"] == next_run and before["last_run"]["status"] == "succeeded"
            crashed, crashed_events = await run_row(pg_url, run_id), await events_of(pg_url, run_id)
            assert crashed["status"] == "CRASHED"
        finally:
            frozen.process.send_signal(signal.SIGCONT)

        await wait_for(lambda: asyncio.sleep(0, finished_in_logs(frozen.logs(), run_id)),
                       "the woken worker to finish its turn", timeout=30)

    assert await api.get_session(session["id"]) == before
    after = await run_row(pg_url, run_id)
    assert (after["status"], after["version"], after["error"]) == ("CRASHED", crashed["version"], crashed["error"])
    assert await events_of(pg_url, run_id) == crashed_events


async def wait_idle_or_explain(api: Any, pg_url: str, session_id: str, timeout: float) -> dict[str, Any]:
    """``api.wait_idle``; when it times out, the failure also shows the session's lease and the
    database's backends that are inside a transaction or waiting, so a slow reap can be told apart
    from a held lock."""
    try:
        return await api.wait_idle(session_id, timeout=timeout)
    except AssertionError as exc:
        row = await session_row(pg_url, session_id)
        lease = {k: row[k] for k in ("task_status", "claim_run_id", "lease_expires_at")} if row else None
        raise AssertionError(f"{exc}; now {utcnow()}, session {lease}; backends {await backends(pg_url)}") from exc


async def backends(pg_url: str) -> list[dict[str, Any]]:
    """PostgreSQL's backends that are in a transaction or waiting, with what they run and wait on."""
    async with database(pg_url) as db, db.read() as conn:
        rows = await conn.execute(sa.text(
            "SELECT pid, application_name, state, wait_event_type, wait_event, pg_blocking_pids(pid) AS blocked_by,"
            " now() - xact_start AS in_transaction_for, left(query, 120) AS query FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND (xact_start IS NOT NULL OR wait_event_type = 'Lock')"))
        return [dict(r._mapping) for r in rows]


def started_in_logs(logs: str, run_id: str) -> bool:
    return any("turn started" in line and run_id in line for line in logs.splitlines())


def finished_in_logs(logs: str, run_id: str) -> bool:
    return any("turn finished" in line and run_id in line for line in logs.splitlines())
