"""The cyclic garbage collector paused over a block of work that allocates millions of small,
mostly short-lived objects: a run (SimPy events, meter rows, pandas frames) and an LP's build
(Pyomo components and expressions, as Pyomo's own writers pause it, ``pyomo.common.gc_manager``).

Reference counting still frees everything that is not in a cycle; the cycles made meanwhile are
collected once the collector is back. What it saves: with ~2,600 modules imported, the
collector's passes walk large generations while the work runs; ``docs/performance.md`` gives
the measured gain (``benchmarks/run_year.py``, ``benchmarks/sizing.py``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block (or the decorated call) and restore it after,
    on an exception too. Nested pauses leave it to the outermost to re-enable."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
