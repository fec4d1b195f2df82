"""Prometheus metrics: the definitions, and rendering ``/metrics`` with the scrape-time gauges.

Several processes (the API and ARQ workers) each count their own work. With
``PROMETHEUS_MULTIPROC_DIR`` set (the client library's own variable; one empty directory shared by
every process on the host, wiped before they start), each process writes its samples to files
there and whichever process serves ``/metrics`` aggregates them all: counters and histograms are
summed, live gauges summed over living processes. Without it, each process's numbers are its own.

Two gauges are computed when scraped instead of being kept up to date: sessions currently busy is
a ``COUNT`` on the sessions table (the database is the source of truth, shared by every process and
right after a crash, where an in-memory gauge would drift), and the ARQ queue depth is ``ZCARD`` of
the queue in Redis.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("campaign_chat.metrics")

_NS = "campaign_chat"
_TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 240, 600)

HTTP_REQUESTS = Counter(f"{_NS}_http_requests_total", "HTTP requests by route template, method and status.",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram(f"{_NS}_http_request_duration_seconds", "HTTP request latency by route template.",
                          ["route", "method"])
DISPATCHES = Counter(f"{_NS}_dispatches_total",
                     "Task dispatch attempts by task, backend and outcome (accepted, busy, spend_limited, dispatch_failed).",
                     ["task", "backend", "outcome"])
TURNS = Counter(f"{_NS}_turns_total", "Finished tasks by task, outcome and error code.", ["task", "outcome", "code"])
TURN_DURATION = Histogram(f"{_NS}_turn_duration_seconds", "Task duration from start to outcome.",
                          ["task", "outcome"], buckets=_TURN_BUCKETS)
MODEL_TIME = Histogram(f"{_NS}_model_call_seconds", "Time spent in one model call.", ["model", "call"],
                       buckets=_TURN_BUCKETS)
MODEL_RETRIES = Counter(f"{_NS}_model_validation_retries_total",
                        "Model outputs rejected by the validators and retried.", ["model"])
TOKENS = Counter(f"{_NS}_model_tokens_total", "Model tokens by model and direction (input, output).",
                 ["model", "direction"])
COST = Counter(f"{_NS}_model_cost_usd_total", "Model cost in USD by model.", ["model"])
LEASE_TAKEOVERS = Counter(f"{_NS}_lease_takeovers_total",
                          "Claims whose lease ended without a release and were freed by the reaper.")
CLAIM_LOST = Counter(f"{_NS}_claim_lost_total", "Tasks that finished after their claim was taken over.", ["task"])
SESSIONS_BUSY = Gauge(f"{_NS}_sessions_busy", "Sessions with a task running (read from the database at scrape).",
                      multiprocess_mode="mostrecent")
QUEUE_DEPTH = Gauge(f"{_NS}_arq_queue_depth", "Jobs waiting in the ARQ queue (read from Redis at scrape).",
                    multiprocess_mode="mostrecent")
REALTIME_SUBSCRIBERS = Gauge(f"{_NS}_realtime_subscribers", "Realtime subscriptions currently connected.",
                             multiprocess_mode="livesum")
DB_STATEMENTS = Counter(f"{_NS}_db_statements_total",
                        "SQL statements sent to the database, by the kind of process that sent them (api, worker). "
                        "BEGIN/COMMIT count only where we send them ourselves (SQLite's BEGIN IMMEDIATE).",
                        ["process"])
SCRAPE_ERRORS = Counter(f"{_NS}_metrics_scrape_errors_total",
                        "Scrape-time gauges that could not be read, by source.", ["source"])


def subscriber_connected() -> None:
    """Call when a realtime subscription opens."""
    REALTIME_SUBSCRIBERS.inc()


def subscriber_disconnected() -> None:
    """Call when a realtime subscription ends (always, in a ``finally``)."""
    REALTIME_SUBSCRIBERS.dec()


def count_statements(engines: list[Any], process: str) -> None:
    """Count every statement ``engines`` send (``DB_STATEMENTS``): the soak divides it by the turns, so a
    change that adds round trips to a turn shows up as a number."""
    from sqlalchemy import event

    counter = DB_STATEMENTS.labels(process)

    def _counted(*_args: Any) -> None:
        counter.inc()

    for engine in engines:
        event.listen(engine, "before_cursor_execute", _counted)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_exited(pid: int | None = None) -> None:
    """Drop a finished process's live gauges from the shared directory (call at worker shutdown)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


async def _scrape_gauges(busy_sessions: Any, redis: Any, queue_name: str | None) -> None:
    try:
        async with asyncio.timeout(2):
            SESSIONS_BUSY.set(await busy_sessions())
    except Exception as exc:  # noqa: BLE001 - a scrape must still answer; the error counter says why
        SCRAPE_ERRORS.labels("database").inc()
        log.warning("metrics: could not count busy sessions: %s", type(exc).__name__)
    if redis is not None and queue_name:
        try:
            async with asyncio.timeout(2):
                QUEUE_DEPTH.set(await redis.zcard(queue_name))
        except Exception as exc:  # noqa: BLE001
            SCRAPE_ERRORS.labels("redis").inc()
            log.warning("metrics: could not read the ARQ queue depth: %s", type(exc).__name__)


async def render(busy_sessions: Any, *, redis: Any = None, queue_name: str | None = None) -> tuple[bytes, str]:
    """The exposition text (aggregated over processes in multiprocess mode) and its content type.
    ``busy_sessions`` is a coroutine function counting busy sessions (read at scrape time)."""
    await _scrape_gauges(busy_sessions, redis, queue_name)
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
