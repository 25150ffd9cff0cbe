"""The public entry points: `construct` (build + certify, escalating precision) and `methods`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memcap.certify import verify
from memcap.constructions.base import (
    ConditionError,
    Construction,
    ConstructionError,
    Method,
    all_methods,
    get_method,
)
from memcap.data.dataset import Dataset
from memcap.errors import NeedsExactArithmetic

__all__ = ["construct", "methods"]


def methods() -> list[Method]:
    """Every registered construction (name, theorem, condition, sizes)."""
    return all_methods()


def construct(ds: Dataset, method: str = "yun-3layer", *, arithmetic: str = "auto",
              tol: float | None = None, progress: Callable[[str], None] | None = None,
              max_seconds: float | None = None, workers: int | None = None, ray: bool | str | None = None,
              **options: Any) -> Construction:
    """Build ``method``'s network for ``ds`` and certify it with :func:`memcap.verify`.

    ``arithmetic="auto"`` builds in float64 first and, if the certified check fails (or float64
    cannot separate the data along the projection), rebuilds in exact rational arithmetic. A network
    that is not certified to memorize is never returned: :class:`ConstructionError` is raised with
    the numbers. ``options`` go to the construction (``widths``, ``activation``, ``seed`` ...).
    ``max_seconds`` bounds the whole call (build and certification); when certification is cut short
    the points left undecided make it a :class:`ConstructionError`. ``workers`` / ``ray`` go to
    :func:`memcap.verify`.
    """
    import time

    t_end = None if max_seconds is None else time.monotonic() + float(max_seconds)
    m = get_method(method)
    if ds.task not in m.tasks:
        raise ConditionError(f"{method} ({m.theorem}) applies to {' or '.join(m.tasks)} data, "
                             f"not {ds.task}")
    say = progress or (lambda _msg: None)
    tries = ["float64", "exact"] if arithmetic == "auto" else [arithmetic]
    failures: list[str] = []
    for arith in tries:
        say(f"building {method} in {arith} arithmetic")
        try:
            c = m.build(ds, arithmetic=arith, **options)
        except NeedsExactArithmetic as exc:
            if arith == "float64" and len(tries) > 1:
                failures.append(f"float64: {exc}")
                continue
            raise
        left = None if t_end is None else t_end - time.monotonic()
        if left is not None and left <= 0:
            failures.append(f"{arith}: max_seconds = {max_seconds:g} passed before certification started")
            break
        # an attempt that is followed by exact arithmetic stops at its first certified failure
        later = arith != tries[-1]
        report = verify(c.network, ds, tol=tol, progress=progress, max_seconds=left, workers=workers,
                        ray=ray, fail_fast=later)
        c.verification = report
        if report.memorized and report.certified:
            if failures:
                c.certificate.notes.append("escalated to exact arithmetic: " + "; ".join(failures))
            c.certificate.notes.append(
                "float evaluation of these weights (any summation order): float64 "
                + ("certified to memorize" if report.float64_memorizes else "NOT certified to memorize")
                + ", float32 " + ("certified" if report.float32_memorizes else "NOT certified")
                + ("" if report.bits_needed is None
                   else f"; about {report.bits_needed} mantissa bits needed"))
            c.network.meta["certificate"] = c.certificate.to_json()
            c.network.meta["verification"] = {
                "memorized": True, "certified": True, "tolerance": report.tolerance,
                "worst_error": report.worst_error, "min_margin": report.min_margin,
                "bits_needed": report.bits_needed,
                "float64_memorizes": report.float64_memorizes,
                "float32_memorizes": report.float32_memorizes,
            }
            return c
        failures.append(
            f"{arith}: {len(report.failing)} point(s) not memorized "
            f"(first {report.failing[:5]}), {len(report.undecided)} undecided"
            + (f" (certification stopped at max_seconds = {max_seconds:g}; the network is not returned "
               "uncertified)" if report.undecided and t_end is not None and time.monotonic() >= t_end
               else "")
        )
        if t_end is not None and time.monotonic() >= t_end:
            break
    raise ConstructionError(
        f"{method} did not produce a certified memorizer: " + "; ".join(failures)
        + (". Try arithmetic='auto' (exact escalation)" if arithmetic != "auto" else "")
    )
