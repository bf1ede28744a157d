"""Memory helpers for work that builds many objects at once."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk read or evaluation.

    Reading a cloud snapshot and checking it make an object per resource and per result.
    With a large snapshot in memory, each collection of the oldest generation walks all of
    it again, which took a third of the reading time and more than the checks themselves.
    Snapshots, resources and results hold no reference cycles, so reference counting frees
    them all the same.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
