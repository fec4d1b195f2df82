"""Spend repository: tokens and estimated cost per user per UTC day (``daily_usage``).

:func:`add` is called where a run's usage is recorded (:func:`store.lifecycle.end_run`), in the same
transaction; :func:`tokens_on` is the one primary-key read the daily cap costs a dispatch.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core.usage import Usage
from store.tables import daily_usage as t


def _upsert(insert: Any) -> Any:
    """The upsert, built once per dialect (store.prepared): add the values to the day's row, or create it."""
    stmt = insert(t).values(user_id=sa.bindparam("uid"), day=sa.bindparam("day"),
                            input_tokens=sa.bindparam("inp"), output_tokens=sa.bindparam("out"),
                            cost_usd=sa.bindparam("cost"))
    return stmt.on_conflict_do_update(index_elements=[t.c.user_id, t.c.day], set_={
        "input_tokens": t.c.input_tokens + stmt.excluded.input_tokens,
        "output_tokens": t.c.output_tokens + stmt.excluded.output_tokens,
        "cost_usd": t.c.cost_usd + stmt.excluded.cost_usd,
    })


_UPSERT = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


def add(conn: sa.Connection, *, user_id: str, day: date, usage: Usage) -> None:
    """Count ``usage`` towards ``user_id``'s spend on ``day`` (one upsert)."""
    if usage.total_tokens == 0 and usage.cost_usd == 0:
        return
    conn.execute(_UPSERT[conn.dialect.name], {"uid": user_id, "day": day, "inp": usage.input_tokens,
                                              "out": usage.output_tokens, "cost": usage.cost_usd})


_TOKENS_ON = sa.select(t.c.input_tokens + t.c.output_tokens).where(t.c.user_id == sa.bindparam("uid"),
                                                                     t.c.day == sa.bindparam("day"))


def tokens_on(conn: sa.Connection, *, user_id: str, day: date) -> int:
    """Input plus output tokens ``user_id`` spent on ``day`` (0 when nothing was recorded)."""
    return int((conn.execute(_TOKENS_ON, {"uid": user_id, "day": day})).scalar_one_or_none() or 0)


def purge_before(conn: sa.Connection, day: date) -> int:
    """Forget the days before ``day``; how many rows went."""
    return (conn.execute(sa.delete(t).where(t.c.day < day))).rowcount or 0
