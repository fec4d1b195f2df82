"""Realtime fixtures: several apps on the run's PostgreSQL database act as instances of one deployment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.conftest import app_factory


@pytest.fixture
async def pg_api_factory(pg_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Apps on the run's PostgreSQL database: several of them are several instances of one deployment."""
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, log_format="json", embedded_worker=False,
                        public_token_secret="test-public-token-secret-0123456789abcdef")
    async with app_factory(settings) as start:
        yield start
