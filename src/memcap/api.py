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

__all__ = ["construct", "methods", "certify_built"]


def methods() -> list[Method]:
    """Every registered construction (name, theorem, condition, sizes)."""
    return all_methods()


def construct(ds: Dataset, method: str | None = None, *, precision: str | None = None,
              arithmetic: str = "auto", tol: float | None = None,
              progress: Callable[[str], None] | None = None, **options: Any) -> Construction:
    """Build a network for ``ds`` and certify it with :func:`memcap.verify`.

    ``method=None`` (the default) returns the registered method's network with the fewest stored
    parameters that is certified to memorize when evaluated at ``precision`` (default ``"float32"``:
    weights and inputs rounded to float32, any summation order — what PyTorch and onnxruntime do);
    see :func:`memcap.select.choose_method`. ``c.info["attempts"]`` says why smaller methods were
    passed over. With ``method`` and ``precision`` both given, only that method is tried at that
    precision.

    With ``method`` alone, that method's network is certified in exact arithmetic of its stored
    weights: ``arithmetic="auto"`` builds in float64 first and, if the certified check fails (or
    float64 cannot separate the data along the projection), rebuilds in exact rational arithmetic.
    Whether float64 / float32 evaluation memorizes is stated in the certificate notes and
    ``network.meta["verification"]``. A network that is not certified to memorize is never
    returned: :class:`ConstructionError` is raised with the numbers. ``options`` go to the
    construction (``widths``, ``activation``, ``seed`` ...).
    """
    if method is None or precision is not None:
        from memcap.select import choose_method

        c, _, attempts = choose_method(ds, precision or "float32", tol=tol,
                                       methods=None if method is None else [method],
                                       progress=progress, **options)
        c.info["attempts"] = [
            {"method": a.method, "options": a.options, "parameters": a.parameters,
             "certified": a.certified, "reason": a.reason} for a in attempts]
        return c
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
        if certify_built(c, ds, tol=tol, progress=progress, failures=failures):
            return c
        report = c.verification
        failures.append(
            f"{arith}: {len(report.failing)} point(s) not memorized "
            f"(first {report.failing[:5]}), {len(report.undecided)} undecided"
        )
    raise ConstructionError(
        f"{method} did not produce a certified memorizer: " + "; ".join(failures)
        + (". Try arithmetic='auto' (exact escalation)" if arithmetic != "auto" else "")
    )


def certify_built(c: Construction, ds: Dataset, tol: float | None = None,
                  progress: Callable[[str], None] | None = None, failures: list[str] | None = None
                  ) -> bool:
    """Verify a built construction (``c.verification``); when it is certified to memorize, record
    the certificate and what float64 / float32 evaluation does in its notes and ``network.meta``.
    Returns whether it is certified."""
    report = verify(c.network, ds, tol=tol, progress=progress)
    c.verification = report
    if not (report.memorized and report.certified):
        return False
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
    return True
