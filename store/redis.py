"""The one place Redis clients are made (for ARQ, wake-ups, rate limits, probes).

A client opens connections on demand (no start-up ping: the API must start, and answer
``500 dispatch_failed``, while Redis is down), fails fast when Redis is unreachable, and reconnects
per command, so a process that saw Redis go away works again as soon as it is back. It is an
``ArqRedis`` (a ``redis.asyncio.Redis`` that can also enqueue ARQ jobs), so one client serves a
process's every use of Redis.
"""

from __future__ import annotations

from typing import Any

CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 10.0


def redis_client(url: str) -> Any:
    from arq.connections import ArqRedis
    from redis.asyncio import ConnectionPool

    pool = ConnectionPool.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                   socket_timeout=COMMAND_TIMEOUT_SECONDS, health_check_interval=30)
    return ArqRedis(connection_pool=pool)
