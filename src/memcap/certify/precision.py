"""Certified memorization *at a precision*: exact arithmetic, float64 or float32 evaluation.

``certify_precision(net, ds, "float32")`` says whether running the network in float32 — weights and
inputs rounded to nearest, any summation order (numpy, torch, any BLAS) — provably memorizes the
data: regression within the tolerance, classification with the right class. It rests on
:func:`memcap.verify`, which bounds the exact network's error and the float evaluation's distance
to it (:func:`memcap.numerics.forward_float_bounded`).

Choosing the smallest method certified at a precision is :func:`memcap.select.choose_method`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from memcap.data.dataset import Dataset

__all__ = ["PRECISIONS", "MANTISSA_BITS", "PrecisionCertificate", "precision_tolerance",
           "certify_precision", "DEFAULT_TOL"]

PRECISIONS = ("float32", "float64", "exact")
#: significand bits (including the implicit bit) of each float format
MANTISSA_BITS = {"float32": 24, "float64": 53}
#: tolerance factor per precision when none is given (× max(1, max |y|)); "faithful" in float32
#: means error ≤ 1e-3 (docs/precision.md)
DEFAULT_TOL = {"float32": 1e-3, "float64": 1e-6, "exact": 1e-6}


def precision_tolerance(ds: Dataset, precision: str, tol: float | None = None) -> float | None:
    """The regression tolerance used at ``precision`` (None for classification)."""
    _check_precision(precision)
    if ds.task == "classification":
        return None
    if tol is not None:
        return float(tol)
    return DEFAULT_TOL[precision] * max(1.0, float(np.max(np.abs(ds.targets))))


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


@dataclass
class PrecisionCertificate:
    """Whether evaluating a network at ``precision`` provably memorizes the data, and by how much.

    ``worst_bound``: regression — a certified upper bound on max_i |f_P(x_i) - y_i| over every
    point and every evaluation order at that precision; classification — a certified lower bound
    on the smallest margin f_y - max_{c≠y} f_c of that evaluation (> 0 means every class is right).
    """

    precision: str
    certified: bool
    task: str
    N: int
    tolerance: float | None
    worst_bound: float | None
    rounding_bound: float          # certified max |f_P(x) - f(x)| (0 for exact)
    measured_error: float | None   # plain numpy evaluation at that precision: regression max |f_P - y|,
    #                                classification the smallest margin f_y - max_{c≠y} f_c
    exact_memorized: bool
    bits_needed: int | None
    reason: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return _finite(asdict(self))

    def summary(self) -> str:
        what = "certified" if self.certified else "NOT certified"
        if self.task == "regression":
            return (f"{self.precision}: {what} (worst-case |f - y| ≤ {_g(self.worst_bound)}, "
                    f"tolerance {_g(self.tolerance)})")
        return f"{self.precision}: {what} (smallest margin ≥ {_g(self.worst_bound)})"


def _g(v: Any) -> str:
    return "—" if v is None else f"{v:.3g}"


def _finite(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _finite(v) for k, v in d.items()}
    if isinstance(d, float) and not math.isfinite(d):
        return str(d)
    return d


def certify_precision(net: Any, ds: Dataset, precision: str, tol: float | None = None,
                      report: Any = None, progress: Callable[[str], None] | None = None
                      ) -> PrecisionCertificate:
    """Certify ``net`` on ``ds`` at ``precision`` (``report``: a VerificationReport made with the
    same tolerance, to avoid verifying twice)."""
    from memcap.certify import verify

    _check_precision(precision)
    tolerance = precision_tolerance(ds, precision, tol)
    if report is None or (tolerance is not None and report.tolerance != tolerance):
        report = verify(net, ds, tol=tolerance, progress=progress)
    exact_ok = bool(report.memorized and report.certified)
    cls = ds.task == "classification"
    if precision == "exact":
        worst = report.min_margin if cls else report.worst_error
        return PrecisionCertificate(
            "exact", exact_ok, ds.task, ds.N, tolerance, worst, 0.0, None, exact_ok,
            report.bits_needed,
            "exact arithmetic of the stored weights " + ("memorizes (certified)" if exact_ok else
                                                          _why_not(report)))
    bound = report.float32_bound if precision == "float32" else report.float64_bound
    measured = report.float32_error if precision == "float32" else report.float64_error
    ok = bool(report.float32_memorizes if precision == "float32" else report.float64_memorizes)
    ok = ok and exact_ok and math.isfinite(bound)
    if cls:
        worst = (report.min_margin - 2 * bound) if exact_ok and report.min_margin is not None else None
        if ok and worst is not None:  # per-point check passed; the min/max combination is looser
            worst = max(worst, 0.0)
        reason = (f"every class right in {precision} for any summation order: smallest exact margin "
                  f"{_g(report.min_margin)} > 2 × rounding bound {_g(bound)}" if ok else
                  f"{precision} rounding bound {_g(bound)} is not below half the smallest margin "
                  f"{_g(report.min_margin)}" if exact_ok else _why_not(report))
    else:
        worst = (report.worst_error + bound) if exact_ok and report.worst_error is not None else None
        if ok and worst is not None and tolerance is not None:  # certified per point: ≤ tolerance
            worst = min(worst, tolerance)
        reason = (f"|f_{precision}(x_i) - y_i| ≤ {_g(worst)} ≤ tolerance {_g(tolerance)} for every point "
                  "and any summation order" if ok else
                  f"certified {precision} error bound {_g(worst)} exceeds the tolerance {_g(tolerance)} "
                  f"(rounding bound {_g(bound)}, measured error {_g(measured)})" if exact_ok
                  else _why_not(report))
    return PrecisionCertificate(precision, ok, ds.task, ds.N, tolerance, worst, float(bound),
                                float(measured), exact_ok, _bits(report, precision, bound), reason)


def _bits(report: Any, precision: str, bound: float) -> int | None:
    """Significand bits t for which this bound, scaled to u = 2^-t (it is ≈ K·u), would still
    certify: K·2^-t ≤ slack (tolerance − exact error, or half the smallest exact margin)."""
    if not (report.memorized and report.certified) or not math.isfinite(bound):
        return report.bits_needed
    if report.task == "classification":
        slack = (report.min_margin or 0.0) / 2
    else:
        slack = (report.tolerance or 0.0) - (report.worst_error or 0.0)
    if slack <= 0:
        return None
    if math.isinf(slack):  # one class: no margin to lose, any precision classifies every point
        return 1
    K = bound / 2.0 ** -MANTISSA_BITS[precision]
    return max(1, math.ceil(math.log2(max(K, 1e-300) / slack)))


def _why_not(report: Any) -> str:
    if report.failing:
        return f"the exact network misses {len(report.failing)} point(s) (first {report.failing[:5]})"
    return f"{len(report.undecided)} point(s) undecided by the verifier"
