"""Run statuses, and the one place that maps them to what each audience sees.

Runs are stored with Trigger.dev's ``TaskRunStatus`` names, so the realtime layer serves them as
they are and Trigger.dev-backed runs need no translation. Three audiences read a status:

* the Trigger.dev SDK and API (``runs.retrieve``): :func:`public_status` (QUEUED, COMPLETED, FAILED…);
* the session row a poller reads (``last_run.status``): :class:`Outcome` (succeeded, failed, canceled);
* operators (logs, the ``turns_total`` metric): :attr:`RunStatus.outcome_label`.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How a run ended, as the session's ``last_run.status`` and the ``done`` event say it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RunStatus(StrEnum):
    PENDING = "PENDING"  # claimed and dispatched, not started
    EXECUTING = "EXECUTING"
    COMPLETED_SUCCESSFULLY = "COMPLETED_SUCCESSFULLY"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"  # the task failed (model, validation, …)
    CANCELED = "CANCELED"  # asked for (API cancel), or the session was deleted
    INTERRUPTED = "INTERRUPTED"  # the worker shut down during the task
    CRASHED = "CRASHED"  # its executor vanished: the lease ran out
    SYSTEM_FAILURE = "SYSTEM_FAILURE"  # dispatch failed, claim lost, refused (version skew), released by hand
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        return self not in (RunStatus.PENDING, RunStatus.EXECUTING)

    @property
    def outcome(self) -> Outcome:
        """What the session's ``last_run`` says about a run that ended with this status."""
        if self is RunStatus.COMPLETED_SUCCESSFULLY:
            return Outcome.SUCCEEDED
        return Outcome.CANCELED if self is RunStatus.CANCELED else Outcome.FAILED

    @property
    def outcome_label(self) -> str:
        """The ``outcome`` label of logs and metrics (finer than :attr:`outcome`)."""
        return _LABELS.get(self, self.value.lower())

    @property
    def public(self) -> str:
        """Trigger.dev's public run status (``run.status`` in the SDK)."""
        return _PUBLIC[self]


TERMINAL_STATUSES = frozenset(s for s in RunStatus if s.terminal)
ACTIVE_STATUSES = frozenset(s for s in RunStatus if not s.terminal)

_LABELS = {
    RunStatus.COMPLETED_SUCCESSFULLY: "succeeded",
    RunStatus.COMPLETED_WITH_ERRORS: "failed",
    RunStatus.SYSTEM_FAILURE: "system_failure",
}
_PUBLIC = {
    RunStatus.PENDING: "QUEUED",
    RunStatus.EXECUTING: "EXECUTING",
    RunStatus.COMPLETED_SUCCESSFULLY: "COMPLETED",
    RunStatus.COMPLETED_WITH_ERRORS: "FAILED",
    RunStatus.INTERRUPTED: "FAILED",
    RunStatus.CANCELED: "CANCELED",
    RunStatus.CRASHED: "CRASHED",
    RunStatus.SYSTEM_FAILURE: "SYSTEM_FAILURE",
    RunStatus.TIMED_OUT: "TIMED_OUT",
}


# runs.retrieve's boolean helpers, by public status (Trigger.dev's ApiRetrieveRunPresenter): CANCELED
# counts as completed here, unlike in the realtime SDK's helpers; a shape row carries no booleans.
_RETRIEVE_COMPLETED = frozenset({"COMPLETED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "CANCELED"})
_RETRIEVE_FAILED = frozenset({"FAILED", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"})


def retrieve_flags(status: RunStatus) -> dict[str, bool]:
    """``isQueued`` … ``isCancelled`` of a ``runs.retrieve`` body for a run in ``status``."""
    public = status.public
    return {
        "isQueued": public == "QUEUED",
        "isExecuting": public == "EXECUTING",
        "isWaiting": False,
        "isCompleted": public in _RETRIEVE_COMPLETED,
        "isSuccess": status is RunStatus.COMPLETED_SUCCESSFULLY,
        "isFailed": public in _RETRIEVE_FAILED,
        "isCancelled": status is RunStatus.CANCELED,
    }


def public_status(stored: str) -> str:
    """Trigger.dev's public status for a stored status; an unknown one reads as QUEUED, as in the SDK."""
    try:
        return RunStatus(stored).public
    except ValueError:
        return "QUEUED"
