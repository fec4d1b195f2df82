"""The bridge: hand a claimed task to whatever runs it, and give the client a way to follow it.

Three backends implement :class:`Bridge`: ``inline`` (this process's event loop), ``arq`` (a job on
Redis for worker processes) and ``trigger`` (the real Trigger.dev REST API). Each returns a
:class:`Dispatched` with the run id clients follow and a run-scoped public access token.
A backend that cannot hand the task over raises :class:`core.errors.DispatchError`.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from core.payloads import TaskPayload


class Dispatched(msgspec.Struct, frozen=True):
    run_id: str
    public_access_token: str
    external_id: str | None = None


class Bridge(Protocol):
    name: str

    async def start(self) -> None:
        """Open connections; called once at start-up."""

    async def dispatch(self, payload: TaskPayload) -> Dispatched:
        """Hand the task over. The claim is already committed; the caller releases it if this raises."""

    async def cancel(self, run_id: str) -> bool:
        """Ask the backend to stop a run; True if it was found running here."""

    async def forget(self, run_ids: list[str]) -> None:
        """Drop what the backend itself keeps of these (erased) runs, where it keeps anything."""

    async def close(self) -> None:
        """Stop accepting work; running tasks end or are failed cleanly (their claims released)."""
