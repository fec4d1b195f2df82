"""ARQ backend (``TASK_BACKEND=arq``): the task becomes a job on Redis that a worker process runs.

The run id is the ARQ job id, so a repeated dispatch of one run is refused by ARQ itself (it checks
the job and its kept result) and a turn never runs twice. The Redis connection is opened lazily and
re-established per command, so an API that saw Redis go away dispatches again as soon as it is back;
until then every dispatch raises :class:`DispatchError` (the caller releases the claim).
"""

from __future__ import annotations

import logging

import msgspec
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from bridge.base import Dispatched
from bridge.tokens import mint, run_scopes
from core.errors import DispatchError
from core.payloads import TaskPayload

log = logging.getLogger("campaign_chat.bridge.arq")

JOB_FUNCTION = "run_task"
CONNECT_TIMEOUT_SECONDS = 2.0
CANCEL_MARK_TTL_SECONDS = 3_600


def cancel_mark_key(queue_name: str, run_id: str) -> str:
    """Set before aborting a job so the worker records CANCELED (asked for) rather than INTERRUPTED."""
    return f"{queue_name}:cancel:{run_id}"


def redis_client(redis_url: str) -> ArqRedis:
    """A client whose connections are made on demand (no start-up ping) and fail fast when Redis is down."""
    pool = ConnectionPool.from_url(redis_url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                   socket_timeout=CONNECT_TIMEOUT_SECONDS * 5, health_check_interval=30)
    return ArqRedis(connection_pool=pool)


class ArqBridge:
    name = "arq"

    def __init__(self, *, redis_url: str, queue_name: str, token_secret: str, env_id: str, token_ttl: int) -> None:
        self._redis_url = redis_url
        self._queue = queue_name
        self._secret = token_secret
        self._env_id = env_id
        self._ttl = token_ttl
        self._redis: ArqRedis | None = None
        self._closing = False

    async def start(self) -> None:
        # No ping: the API must start (and answer 500 dispatch_failed) even while Redis is down.
        self._redis = redis_client(self._redis_url)

    def _client(self) -> ArqRedis:
        if self._redis is None:
            self._redis = redis_client(self._redis_url)
        return self._redis

    async def dispatch(self, payload: TaskPayload) -> Dispatched:
        if self._closing:
            raise DispatchError("the service is shutting down")
        try:
            job = await self._client().enqueue_job(
                JOB_FUNCTION, msgspec.to_builtins(payload), _job_id=payload.run_id, _queue_name=self._queue
            )
        except (RedisError, OSError) as exc:
            raise DispatchError(f"Redis is unreachable: {type(exc).__name__}: {exc}") from exc
        if job is None:
            # ARQ refused the id: this run is already queued, running or finished. Never enqueue it twice.
            log.info("run %s was already enqueued; not enqueuing it again", payload.run_id)
        token = mint(self._secret, sub=self._env_id, scopes=run_scopes(payload.run_id), ttl_seconds=self._ttl)
        return Dispatched(run_id=payload.run_id, public_access_token=token)

    async def cancel(self, run_id: str) -> bool:
        """Stop the run's job. A queued job is marked and ends as CANCELED when a worker picks it up; a
        running one is aborted through ARQ. True when the job was found queued or running."""
        redis = self._client()
        job = Job(run_id, redis, _queue_name=self._queue)
        try:
            status = await job.status()
            if status not in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress):
                return False
            await redis.set(cancel_mark_key(self._queue, run_id), b"1", ex=CANCEL_MARK_TTL_SECONDS)
            if status != JobStatus.in_progress:
                return True  # ARQ would drop an aborted queued job without running our bookkeeping
            return await job.abort(timeout=10, poll_delay=0.1)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not cancel run %s: %s", run_id, exc)
            return False

    async def close(self) -> None:
        self._closing = True
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
