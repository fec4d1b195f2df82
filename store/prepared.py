"""Statements built once per shape, for the paths every turn and every poll take.

Building a Core statement and generating its cache key costs more CPU than SQLite takes to run it:
measured on a run's start and end (7 statements, 2 transactions), 1.2 of 1.65 ms went to
``sa.update(...).where(...).values(...)``, coercions and cache-key generation, 0.3 ms to SQLite. A
statement object built once keeps its cache key memoized, so executing it again only binds values.

Shapes vary only by which columns are set (a closed set in this code base), so they are cached by
that set. Values are bound to parameters named ``v_<column>`` (a parameter may not share its
column's name in a SET clause) with the column's own type, so JSON and UTC datetimes are processed
exactly as when the value is given to ``.values()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa


def set_clause(table: sa.Table, columns: Iterable[str]) -> dict[str, sa.BindParameter[Any]]:
    """``{column: bindparam('v_<column>')}`` for ``.values()``."""
    return {name: sa.bindparam(f"v_{name}", type_=table.c[name].type) for name in columns}


def bound(values: Mapping[str, Any], **where: Any) -> dict[str, Any]:
    """The parameters of a statement from :func:`set_clause`: the values, then the WHERE clause's."""
    return {**{f"v_{name}": value for name, value in values.items()}, **where}


def shape(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The cache key of a SET clause: its column names, in a stable order."""
    return tuple(sorted(values))
