"""Every error this service raises on purpose, in one hierarchy.

    CampaignChatError
    ├── ConfigError                 a setting is unknown or invalid (start-up stops)
    ├── ApiError                    maps 1:1 to an HTTP response {"error", "code", ...details}
    │   ├── BadRequest              400 validation_error / bad_request / no_framework
    │   ├── Unauthorized            401 unauthorized
    │   ├── Forbidden               403 forbidden
    │   ├── NotFound                404 not_found
    │   ├── SessionBusy             409 session_busy (+ task_status, run_id)
    │   ├── IdempotencyInProgress   409 idempotency_in_progress (+ Retry-After)
    │   ├── IdempotencyKeyReused    422 idempotency_key_reused
    │   ├── PayloadTooLarge         413 payload_too_large
    │   ├── UnsupportedMediaType    415 unsupported_media_type
    │   ├── RateLimited             429 rate_limited (+ Retry-After)
    │   ├── DispatchFailed          500 dispatch_failed (claim already released)
    │   └── Unavailable             503 unavailable
    ├── DispatchError               a bridge could not hand a task over (becomes DispatchFailed)
    └── JobError                    a task failed; carries a stable code for the run and the session
        ├── ClaimLost               the job no longer holds its session's claim: it must stop writing
        ├── ModelOutputRejected     the model never produced output the validators accept
        └── TurnTimedOut            the turn hit its deadline

Codes are part of the published contract: clients branch on ``code``, humans read ``error``.
"""

from __future__ import annotations

from typing import Any


class CampaignChatError(Exception):
    """Base of every deliberate error in this service."""


class ConfigError(CampaignChatError):
    """A setting is unknown or invalid; the message names the variable and what it accepts."""


class ApiError(CampaignChatError):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.details}


class BadRequest(ApiError):
    status, code = 400, "validation_error"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class SessionBusy(ApiError):
    status, code = 409, "session_busy"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class DispatchFailed(ApiError):
    status, code = 500, "dispatch_failed"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


class DispatchError(CampaignChatError):
    """Raised by a bridge backend when the task was not handed over; the caller releases the claim."""


class JobError(CampaignChatError):
    code: str = "job_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ClaimLost(JobError):
    code = "claim_lost"


class ModelOutputRejected(JobError):
    code = "model_output_rejected"


class TurnTimedOut(JobError):
    code = "timed_out"


class IdempotencyKeyReused(ApiError):
    """422: the Idempotency-Key was already used with a different request body."""

    status, code = 422, "idempotency_key_reused"


class IdempotencyInProgress(ApiError):
    """409: the first request with this Idempotency-Key is still dispatching; retry shortly."""

    status, code = 409, "idempotency_in_progress"
