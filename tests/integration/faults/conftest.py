"""Fault tests run on PostgreSQL (the production database) with real Redis and worker processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic_ai.models import override_allow_model_requests

from tests.support.harness import PROVIDER_KEY
from tests.support.services import OwnRedis
from tests.support.workers import WorkerPool


@pytest.fixture
def database_url(pg_url: str) -> str:
    return pg_url


@pytest.fixture(autouse=True)
def provider_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The key an ``openai:`` model sends (the stub providers accept any). Model requests are allowed:
    here they only ever reach local stub servers (tests/jobs turns them off for its own modules)."""
    monkeypatch.setenv("OPENAI_API_KEY", PROVIDER_KEY)
    with override_allow_model_requests(True):
        yield


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(dir=tmp_path)
    server.start()
    yield server
    server.stop()
