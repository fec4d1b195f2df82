"""Two workers handed the same run at once: exactly one applies it, and the model is paid for once.

The API dispatches to a queue nobody listens on; the test then enqueues the run's stored payload on
two queues, each served by its own worker process, so both workers execute the same run concurrently.

Protection proved: ``runtime.begin``'s conditional update (run PENDING → EXECUTING, once). Verified by
dropping the ``status == "PENDING"`` condition: both workers then start the turn, call the model
twice and append two ``done`` events to the one run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from arq.jobs import Job

from bridge.arq_queue import JOB_FUNCTION
from store.redis import redis_client
from tests.support.harness import events_of, provider_env, run_row, start_turn, start_worker, wait_for
from tests.support.provider import provider
from tests.support.workers import WorkerPool, new_queue

pytestmark = pytest.mark.timeout(90)


async def test_the_same_run_executed_by_two_workers_is_applied_exactly_once(
    api_factory: Any, workers: WorkerPool, tmp_path: Path, pg_url: str
) -> None:
    (tmp_path / "second").mkdir()
    other = WorkerPool(tmp_path=tmp_path / "second", redis_url=workers.redis_url, database_url=pg_url)
    redis = redis_client(workers.redis_url)
    nowhere = new_queue()
    job_ids: list[str] = []
    try:
        with provider("held") as held:
            pair = await asyncio.gather(start_worker(workers, **provider_env(held.url)),
                                        start_worker(other, **provider_env(held.url)))
            api = await api_factory(task_backend="arq", redis_url=workers.redis_url, arq_queue_name=nowhere)
            session = await api.create_session()
            run_id = await start_turn(api, session["id"], "We sell payroll software to restaurant owners")
            job_ids += [run_id, f"{run_id}-a", f"{run_id}-b"]
            payload = (await run_row(pg_url, run_id))["payload"]

            jobs = await asyncio.gather(
                redis.enqueue_job(JOB_FUNCTION, payload, _job_id=f"{run_id}-a", _queue_name=workers.queue),
                redis.enqueue_job(JOB_FUNCTION, payload, _job_id=f"{run_id}-b", _queue_name=other.queue),
            )
            assert all(jobs)
            # Both have decided (one runs the turn, held at the model; the other must have stood down).
            await wait_for(lambda: asyncio.sleep(0, all(decided(w.logs(), run_id) for w in pair)),
                           "both workers to take up the run", timeout=30)
            held.gate.set()
            results = [await Job(j, redis, _queue_name=q).result(timeout=30)
                       for j, q in ((f"{run_id}-a", workers.queue), (f"{run_id}-b", other.queue))]
            done = await api.wait_idle(session["id"], timeout=30)
            model_calls = held.requests
    finally:
        await other.cleanup(job_ids)
        keys = [k async for k in redis.scan_iter(match=f"{nowhere}*")] + [f"arq:job:{run_id}" for run_id in job_ids[:1]]
        await redis.delete(*keys) if keys else None
        await redis.aclose()
        workers.run_ids += job_ids

    assert sorted(results) == [False, True]  # one ran it, the other found it already started
    assert sum("turn started" in w.logs() for w in pair) == 1
    assert model_calls == 1  # the user's LLM spend is not doubled
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]
    assert done["last_run"]["status"] == "succeeded"
    run = await run_row(pg_url, run_id)
    assert (run["status"], run["attempts"]) == ("COMPLETED_SUCCESSFULLY", 1)
    assert [e["type"] for e in await events_of(pg_url, run_id)].count("done") == 1


def decided(logs: str, run_id: str) -> bool:
    return any(run_id in line and ("turn started" in line or "task not started" in line) for line in logs.splitlines())
