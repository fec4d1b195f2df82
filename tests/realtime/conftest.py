"""An in-process app on the test's own event loop.

The shared ``api_factory`` runs the app's lifespan on the test client's portal thread (another
event loop), which asyncpg connections cannot cross; realtime tests also share asyncio events
between the app and the test. So here the lifespan runs in a task on the test loop and requests
go through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.realtime.realtime_helpers import LocalApi

from core.settings import Settings


async def _hold_lifespan(app: Any, started: asyncio.Event, stop: asyncio.Event) -> None:
    async with app.lifespan():
        started.set()
        await stop.wait()


async def _factory(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    from api.app import create_app

    running: list[tuple[asyncio.Task[None], asyncio.Event, httpx.AsyncClient]] = []

    async def start(llm: Any = None, **setting_overrides: Any) -> LocalApi:
        app = create_app(replace(settings, **setting_overrides), llm=llm)
        started, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(_hold_lifespan(app, started, stop))
        await asyncio.wait([task, asyncio.ensure_future(started.wait())], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=30)
        running.append((task, stop, client))
        return await LocalApi.start(client, app)

    yield start
    for task, stop, client in reversed(running):
        await client.aclose()
        stop.set()
        await task


@pytest.fixture
async def api_factory(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    async for start in _factory(settings):
        yield start


@pytest.fixture
async def pg_api_factory(pg_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Apps on the run's PostgreSQL database: several of them are several instances of one deployment."""
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, log_format="json",
                        public_token_secret="test-public-token-secret-0123456789abcdef")
    async for start in _factory(settings):
        yield start


@pytest.fixture
async def api(api_factory: Callable[..., Any]) -> LocalApi:
    return await api_factory()
