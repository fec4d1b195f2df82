"""The fast tier: pure code, in seconds, with no database server, Redis, live server or Node running.

``pytest -m "not integration"`` runs it. A unit test that asks for a service fixture fails here at once:
it belongs in tests/integration.
"""

from __future__ import annotations

import pytest

SERVICE_FIXTURES = ("service_env", "pg_url", "redis_url", "database_url", "db", "api", "api_factory",
                    "live_server_factory", "workers")


def _refused(request: pytest.FixtureRequest) -> None:
    raise pytest.UsageError(f"{request.node.nodeid} asks for `{request.fixturename}`: unit tests run without "
                            "services; move it to tests/integration")


for _name in SERVICE_FIXTURES:
    globals()[_name] = pytest.fixture(name=_name)(_refused)
