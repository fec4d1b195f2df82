"""``campaign-chat worker``: run an ARQ worker (``TASK_BACKEND=arq``); ``--check`` reports its health.

More capacity is more worker processes, on this machine or others, on the same Redis and database.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from cli.main import EXTRA_COMMANDS, _with_db
from core.settings import Settings


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.arq_worker import check_health, run_worker

    if args.check:
        healthy, detail = asyncio.run(check_health(settings))
        print(("healthy: " if healthy else "unhealthy: ") + detail, file=sys.stdout if healthy else sys.stderr)
        return 0 if healthy else 1
    if settings.task_backend != "arq":
        logging.getLogger("campaign_chat.worker").warning(
            "TASK_BACKEND=%s: this worker only runs jobs that an API with TASK_BACKEND=arq enqueues", settings.task_backend)
    asyncio.run(_with_db(settings, lambda db: asyncio.sleep(0)))  # a plain message if the database is not migrated
    # The worker is built inside the running loop, so ARQ's signal handlers are bound to it.
    asyncio.run(run_worker(settings))
    return 0


def add_worker_command(sub: Any) -> None:
    worker = sub.add_parser("worker", help="run an ARQ worker on REDIS_URL (for TASK_BACKEND=arq)")
    worker.add_argument("--check", action="store_true",
                        help="exit 0 if a worker on this queue reported recently, else 1 (for health probes)")
    worker.set_defaults(handler=_worker)


if add_worker_command not in EXTRA_COMMANDS:
    EXTRA_COMMANDS.append(add_worker_command)
