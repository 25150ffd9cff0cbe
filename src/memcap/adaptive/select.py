"""``adaptive`` as a candidate of :func:`memcap.select.choose_method` (the options and precisions it
takes there; :func:`memcap.select.adaptive_candidate` builds it).

Its size is known only after training, so it is built first (within its time budget) and ranked by
its actual parameter count among the predicted sizes of the worst-case methods; it wins whenever
it is smaller than every method that is also certified at the precision.
"""

from __future__ import annotations

__all__ = ["ADAPTIVE_OPTIONS", "PRECISIONS"]

#: options only adaptive takes (removed from the options every other candidate gets)
ADAPTIVE_OPTIONS = ("max_seconds", "min_width", "max_width", "steps", "repair_steps", "max_repair", "lr")
#: precisions adaptive takes part in: it certifies float32 (which its float64 evaluation then also is
#: in practice, but choose_method only ranks it where that is its claim)
PRECISIONS = ("float32",)
