"""ARQ backend, dispatch side (``TASK_BACKEND=arq``): the task becomes a job on Redis for a worker.

The run id is the ARQ job id, so a repeated dispatch of one run is refused by ARQ itself (it checks
the job and its kept result) and a turn never runs twice. The Redis client is the process's one
client (:func:`store.redis.redis_client`): connections are made on demand, so while Redis is down
every dispatch raises :class:`DispatchError` (the caller releases the claim), and dispatching works
again as soon as Redis is back. The execute side is :mod:`bridge.arq_worker`.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from arq.constants import job_key_prefix, result_key_prefix

from bridge.base import Dispatched
from bridge.tokens import TokenSigner
from core.errors import DispatchError
from core.payloads import TaskPayload

log = logging.getLogger("campaign_chat.bridge.arq")

JOB_FUNCTION = "run_task"
CANCEL_MARK_TTL_SECONDS = 3_600


def cancel_mark_key(queue_name: str, run_id: str) -> str:
    """Set before aborting a job so the worker records CANCELED (asked for) rather than INTERRUPTED."""
    return f"{queue_name}:cancel:{run_id}"


def health_check_key(queue_name: str) -> str:
    return f"{queue_name}:health-check"


class ArqBridge:
    name = "arq"

    def __init__(self, *, redis: Any, queue_name: str, signer: TokenSigner) -> None:
        self._redis = redis
        self._queue = queue_name
        self._signer = signer
        self._closing = False

    async def start(self) -> None:
        return None

    async def dispatch(self, payload: TaskPayload) -> Dispatched:
        if self._closing:
            raise DispatchError("the service is shutting down")
        from redis.exceptions import RedisError

        try:
            job = await self._redis.enqueue_job(
                JOB_FUNCTION, msgspec.to_builtins(payload), _job_id=payload.run_id, _queue_name=self._queue
            )
        except (RedisError, OSError) as exc:
            raise DispatchError(f"Redis is unreachable: {type(exc).__name__}: {exc}") from exc
        if job is None:
            # ARQ refused the id: this run is already queued, running or finished. Never enqueue it twice.
            log.info("run %s was already enqueued; not enqueuing it again", payload.run_id)
        return Dispatched(run_id=payload.run_id, public_access_token=self._signer.for_run(payload.run_id))

    async def cancel(self, run_id: str) -> bool:
        """Stop the run's job. A queued job is marked and ends as CANCELED when a worker picks it up; a
        running one is aborted through ARQ. True when the job was found queued or running."""
        from arq.jobs import Job, JobStatus
        from redis.exceptions import RedisError

        job = Job(run_id, self._redis, _queue_name=self._queue)
        try:
            status = await job.status()
            if status not in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress):
                return False
            await self._redis.set(cancel_mark_key(self._queue, run_id), b"1", ex=CANCEL_MARK_TTL_SECONDS)
            if status != JobStatus.in_progress:
                return True  # ARQ would drop an aborted queued job without running our bookkeeping
            return await job.abort(timeout=10, poll_delay=0.1)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not cancel run %s: %s", run_id, exc)
            return False

    async def forget(self, run_ids: list[str]) -> None:
        """Delete the jobs' records: ARQ keeps a job (with its arguments, the payload) while it is queued
        and its result (with the arguments again) for an hour after it ran. A job deleted while queued
        is skipped; one running now finds its run gone and the worker drops its result (arq_worker)."""
        from redis.exceptions import RedisError

        keys = [f"{prefix}{run_id}" for run_id in run_ids for prefix in (job_key_prefix, result_key_prefix)]
        if not keys:
            return
        try:
            await self._redis.delete(*keys)
        except (RedisError, OSError) as exc:
            log.warning("could not drop the ARQ records of %d erased run(s): %s", len(run_ids), exc)

    async def close(self) -> None:
        self._closing = True  # the Redis client belongs to the process's container, which closes it
