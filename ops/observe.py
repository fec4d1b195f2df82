"""Domain instrumentation: one call per thing operators care about, each a log line and metrics.

The service, bridge and job code call these one-liners; they never log message bodies, lead data,
keys or tokens — only ids, names, counts, durations and error codes.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from core.status import RunStatus
from ops import metrics, tracing
from ops.logs import bound

log = logging.getLogger("campaign_chat.ops")

def _task(payload: Any) -> str:
    return type(payload).__struct_config__.tag


def dispatch_outcome(payload: Any, backend: str, outcome: str, *, reason: str | None = None) -> None:
    """A dispatch attempt ended: ``accepted``, ``busy`` (claim conflict), ``spend_limited`` (the user's
    daily token limit) or ``dispatch_failed``."""
    task = _task(payload)
    metrics.DISPATCHES.labels(task, backend, outcome).inc()
    fields = {"outcome": outcome, "task": task, "backend": backend, "session_id": payload.session_id}
    # The access line of the request carries these ids already (at INFO): these are detail.
    if outcome == "accepted":
        log.debug("task dispatched", extra={**fields, "run_id": payload.run_id})
    elif outcome == "busy":
        log.debug("claim conflict: session busy", extra={**fields, "held_by_run_id": reason})
    elif outcome == "spend_limited":
        log.info("daily token limit reached", extra={**fields, "spent": reason})
    else:
        log.warning("dispatch failed", extra={**fields, "run_id": payload.run_id, "cause": reason})


def lease_takeover(session_id: str, run_id: str | None) -> None:
    """The reaper freed a claim whose lease ended without a release (a lost worker)."""
    metrics.LEASE_TAKEOVERS.inc()
    log.warning("lease expired: claim taken over", extra={"session_id": session_id, "run_id": run_id})


def job_context(payload: Any, backend: str | None = None) -> contextlib.ExitStack:
    """Log context + trace continuation + the job span, for the whole of one task execution."""
    stack = contextlib.ExitStack()
    task = _task(payload)
    stack.enter_context(bound(run_id=payload.run_id, session_id=payload.session_id, task=task, backend=backend,
                              request_id=getattr(payload, "request_id", None)))
    stack.enter_context(tracing.continued(payload.trace))
    stack.enter_context(tracing.span(f"job {task}", kind="consumer", run_id=payload.run_id,
                                     session_id=payload.session_id))
    return stack


def not_started(payload: Any, reason: str) -> None:
    log.info("task not started", extra={"run_id": payload.run_id, "reason": reason})


def turn_started(started: Any) -> None:
    log.info("turn started", extra={"run_id": started.run_id, "task": started.task})


def turn_finished(started: Any, status: RunStatus, *, model: str, usage: Any = None, code: str | None = None) -> None:
    """A task reached its outcome: log it with duration, tokens and cost; count it."""
    outcome = status.outcome_label
    seconds = max(0.0, time.time() - started.started_at)
    metrics.TURNS.labels(started.task, outcome, code or "").inc()
    metrics.TURN_DURATION.labels(started.task, outcome).observe(seconds)
    fields: dict[str, Any] = {"run_id": started.run_id, "task": started.task, "outcome": outcome,
                              "status": status.value,
                              "duration_s": round(seconds, 3), "model": model}
    if code:
        fields["error_code"] = code
    if usage is not None:
        metrics.TOKENS.labels(model, "input").inc(usage.input_tokens)
        metrics.TOKENS.labels(model, "output").inc(usage.output_tokens)
        metrics.COST.labels(model).inc(usage.cost_usd)
        fields.update(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cost_usd=usage.cost_usd)
    (log.info if status is RunStatus.COMPLETED_SUCCESSFULLY else log.warning)("turn finished", extra=fields)


def claim_lost(started: Any, status: RunStatus, *, model: str, usage: Any = None, code: str = "claim_lost") -> None:
    """The task finished but its claim had moved on (taken over, the session deleted, or the run already
    ended by the reaper): the result was discarded, though its tokens were spent. ``status`` is what
    the run ended as."""
    metrics.CLAIM_LOST.labels(started.task).inc()
    log.warning("claim lost: result discarded", extra={"run_id": started.run_id, "task": started.task,
                                                        "error_code": code})
    turn_finished(started, status, model=model, usage=usage, code=code)


def model_retries(model: str, retries: int) -> None:
    if retries:
        metrics.MODEL_RETRIES.labels(model).inc(retries)


@contextlib.contextmanager
def model_call(model: str, call: str) -> Iterator[None]:
    """Time one model call (histogram) inside its own child span."""
    began = time.perf_counter()
    with tracing.span(f"model {call}", kind="client", model=model) as span:
        try:
            yield
        except BaseException as exc:
            span.record_error(exc)
            raise
        finally:
            metrics.MODEL_TIME.labels(model, call).observe(time.perf_counter() - began)
