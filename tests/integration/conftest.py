"""The integration tier: real SQLite and PostgreSQL databases, real Redis, live servers, worker processes,
Node and the Trigger.dev SDK. Fakes only where we cannot reach: model providers and the Trigger.dev cloud
(local HTTP servers in ``tests/support``). Real model requests are off unless a test opens them to a stub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pydantic_ai.models
import pytest

from tests.support.harness import PROVIDER_KEY
from tests.support.provider import Provider, provider
from tests.support.workers import WorkerPool

pydantic_ai.models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture
async def workers(tmp_path: Path, redis_url: str, database_url: str) -> AsyncIterator[WorkerPool]:
    """Real ``campaign-chat worker`` processes on a queue of the test's own, on the test's database."""
    pool = WorkerPool(tmp_path=tmp_path, redis_url=redis_url, database_url=database_url)
    yield pool
    await pool.cleanup()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    """An OpenAI-compatible provider that holds every answer until the test releases it."""
    monkeypatch.setenv("OPENAI_API_KEY", PROVIDER_KEY)
    with provider("held") as model:
        yield model
