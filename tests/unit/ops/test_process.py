"""Process set-up: what start-up loaded is kept out of the cyclic collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ops.process import settled


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_settled_freezes_what_is_alive_and_collects_garbage_first() -> None:
    class Node:
        pass

    cycle = Node()
    cycle.me = cycle  # type: ignore[attr-defined]
    dead = Node()
    dead.me = dead  # type: ignore[attr-defined]
    del dead  # cyclic garbage: collected by settled(), not frozen
    settled()
    assert gc.get_freeze_count() > 1000  # the interpreter's modules and classes, at least
    assert not any(type(o) is Node and o is not cycle for o in gc.get_objects())
    assert all(o is not cycle for o in gc.get_objects())  # frozen objects leave the collector's lists
