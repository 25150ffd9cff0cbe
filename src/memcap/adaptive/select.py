"""``adaptive`` as a candidate of :func:`memcap.precision.choose_method`.

Its size is known only after training, so it is built first (within its time budget) and ranked by
its actual parameter count among the predicted sizes of the worst-case methods; it wins whenever
it is smaller than every method that is also certified at the precision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memcap.constructions.base import Construction
from memcap.data.dataset import Dataset
from memcap.errors import ConditionError, ConstructionError, OptionError

__all__ = ["adaptive_candidate", "ADAPTIVE_OPTIONS", "PRECISIONS"]

#: options only adaptive takes (removed from the options every other candidate gets)
ADAPTIVE_OPTIONS = ("max_seconds", "min_width", "max_width", "steps", "repair_steps", "max_repair", "lr")
#: precisions adaptive takes part in: it certifies float32 (which its float64 evaluation then also is
#: in practice, but choose_method only ranks it where that is its claim)
PRECISIONS = ("float32",)


def adaptive_candidate(ds: Dataset, precision: str, tolerance: float | None, methods: list[str] | None,
                       max_parameters: int | None, progress: Callable[[str], None] | None,
                       options: dict[str, Any], attempts: list[Any]) -> Construction | None:
    """The built and verified adaptive network, or None (not applicable, not asked for, or refused:
    the refusal is recorded in ``attempts``)."""
    import memcap
    from memcap.precision import Attempt

    if precision not in PRECISIONS or (methods is not None and "adaptive" not in methods):
        return None
    opts = {k: v for k, v in options.items() if k in ADAPTIVE_OPTIONS or k == "seed"}
    try:
        c = memcap.construct(ds, "adaptive", tol=tolerance, progress=progress, **opts)
    except (ConditionError, ConstructionError, OptionError) as exc:
        attempts.append(Attempt("adaptive", {}, 0, False, f"not built/certified: {exc}"))
        return None
    if max_parameters is not None and c.network.parameters > max_parameters:
        attempts.append(Attempt("adaptive", {}, c.network.parameters, False,
                                f"{c.network.parameters} parameters > max_parameters={max_parameters}"))
        return None
    return c
