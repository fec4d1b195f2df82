"""Every error this service raises on purpose, in one hierarchy.

    CampaignChatError
    ├── ConfigError                 a setting is unknown or invalid (start-up stops)
    ├── ApiError                    maps 1:1 to an HTTP response {"error", "code", ...fields}
    │   ├── BadRequest              400 validation_error / invalid_json / no_framework (+ field)
    │   ├── Unauthorized            401 unauthorized
    │   ├── NotFound                404 not_found
    │   ├── SessionBusy             409 session_busy (+ task_status, run_id)
    │   ├── IdempotencyInProgress   409 idempotency_in_progress (Retry-After)
    │   ├── PayloadTooLarge         413 payload_too_large
    │   ├── UnsupportedMediaType    415 unsupported_media_type
    │   ├── IdempotencyKeyReused    422 idempotency_key_reused
    │   ├── RateLimited             429 rate_limited / spend_limit_reached (Retry-After)
    │   ├── DispatchFailed          500 dispatch_failed (+ reason; the claim is already released)
    │   └── Unavailable             503 unavailable / not_migrated (+ failing, checks)
    ├── NotMigrated                 the database schema is not the one this release needs (run `migrate`)
    ├── RealtimeError               a Trigger.dev-shaped error on the realtime routes {"error", …}
    ├── TokenError                  a public access token cannot be trusted (becomes a RealtimeError)
    ├── DispatchError               a bridge could not hand a task over (becomes DispatchFailed)
    ├── RunNotStartable             a delivered run must not execute (already started, session gone)
    └── JobError                    a task failed; a stable code for the run and the session (+ usage)
        ├── ClaimLost               the job no longer holds its session's claim: it must stop writing
        ├── ModelOutputRejected     the model never produced output the validators accept
        └── TurnTimedOut            the task hit its deadline

Codes are part of the published contract: clients branch on ``code``, humans read ``error``. The
extra fields an error adds to its body are declared attributes, listed in ``fields``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from core.usage import Usage


class CampaignChatError(Exception):
    """Base of every deliberate error in this service."""


class ConfigError(CampaignChatError):
    """A setting is unknown or invalid; the message names the variable and what it accepts."""


class ApiError(CampaignChatError):
    status: ClassVar[int] = 500
    code: str = "internal_error"
    fields: ClassVar[tuple[str, ...]] = ()  # attributes always added to the body (null when None)
    optional_fields: ClassVar[tuple[str, ...]] = ()  # attributes added to the body when not None

    def __init__(self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        extra = {name: getattr(self, name) for name in self.fields}
        extra.update({name: getattr(self, name) for name in self.optional_fields if getattr(self, name) is not None})
        return {"error": self.message, "code": self.code, **extra}


class BadRequest(ApiError):
    status, code = 400, "validation_error"
    optional_fields = ("field",)

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class NotFound(ApiError):
    status, code = 404, "not_found"


class SessionBusy(ApiError):
    status, code = 409, "session_busy"
    fields = ("task_status", "run_id")

    def __init__(self, message: str, *, task_status: str | None, run_id: str | None, retry_after: int = 2) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.task_status = task_status
        self.run_id = run_id


class IdempotencyInProgress(ApiError):
    """409: the first request with this Idempotency-Key is still dispatching; retry shortly."""

    status, code = 409, "idempotency_in_progress"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "1"})


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class IdempotencyKeyReused(ApiError):
    """422: the Idempotency-Key was already used with a different request body."""

    status, code = 422, "idempotency_key_reused"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class DispatchFailed(ApiError):
    status, code = 500, "dispatch_failed"
    fields = ("reason",)

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Unavailable(ApiError):
    status, code = 503, "unavailable"
    optional_fields = ("failing", "checks")

    def __init__(self, message: str, *, code: str | None = None, failing: list[str] | None = None,
                 checks: dict[str, str] | None = None) -> None:
        super().__init__(message, code=code)
        self.failing = failing
        self.checks = checks


class NotMigrated(CampaignChatError):
    """The database has no schema, or another migration than this release's; the message says what to run."""


class RealtimeError(CampaignChatError):
    """An error on the Trigger.dev-compatible routes, in Trigger.dev's shape (the SDK reads ``error``)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("error", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


class TokenError(CampaignChatError):
    """The token cannot be trusted (bad format, signature, issuer, audience, expired, not public)."""


class DispatchError(CampaignChatError):
    """Raised by a bridge backend when the task was not handed over; the caller releases the claim."""


class RunNotStartable(CampaignChatError):
    """The delivered run must not execute (already started elsewhere, session gone, claim lost).

    ``status`` and ``code`` say how the run was ended because of it (None: it was not this delivery's
    to end, e.g. a duplicate of a run that already started)."""

    def __init__(self, message: str, *, status: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class JobError(CampaignChatError):
    code: str = "job_failed"

    def __init__(self, message: str, *, code: str | None = None, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.usage = usage  # tokens the failed task spent; recorded on the run and the session


class ClaimLost(JobError):
    code = "claim_lost"


class ModelOutputRejected(JobError):
    code = "model_output_rejected"


class TurnTimedOut(JobError):
    code = "timed_out"
