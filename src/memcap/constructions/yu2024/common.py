"""Shared by the Yu et al. 2024 constructions: the exact separation λ_D, the radius μ, rounding."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import flint
import numpy as np
from scipy.spatial import cKDTree

from memcap.constructions.base import ConditionError, Field
from memcap.constructions.options import Option
from memcap.data.dataset import Dataset
from memcap.norms import parse_norm

__all__ = ["exact_separation", "choose_radius", "parse_norm", "REFERENCE"]

REFERENCE = "Yu, Gao & Zhang (ICLR 2024)"
EPS52 = Fraction(1, 2**52)

#: options shared by the Yu et al. methods (the radius: 0 < μ < λ_D/2 is the theorem's condition,
#: refused by :func:`choose_radius` with a ConditionError)
BUDGET = Option("budget", float, None, "the radius as a fraction of λ_D/2, in (0, 1) (default 0.9)")
RADIUS = Option("radius", float, None, "the absolute robustness radius μ, 0 < μ < λ_D/2 (overrides budget)")


# ---- shared: exact separation, the radius (norms: memcap.norms) --------------------------------
def _frac(v: Any) -> Fraction:
    return Fraction(float(v))


def _exact_dist(a: np.ndarray, b: np.ndarray, p: float | int) -> Fraction:
    """||a - b||_p exactly (p = inf), or ||a - b||_p^p exactly (integer p)."""
    d = [abs(_frac(u) - _frac(v)) for u, v in zip(a, b, strict=True)]
    if p == math.inf:
        return max(d)
    return sum((t ** int(p) for t in d), Fraction(0))


def exact_separation(ds: Dataset, p: float | int = math.inf) -> tuple[Fraction, tuple[int, int]]:
    """λ_D (p = inf) or (λ_D^p)^ (integer p) as an exact rational, and the pair attaining it.

    The float ``ds.separation(p)`` finds the candidates (every opposite-label pair within a relative
    1e-9 of it, far above the kd-tree's rounding), whose distances are then recomputed exactly.
    """
    if ds.task != "classification":
        raise ConditionError("robust memorization (Yu et al. 2024) is defined for classification data "
                             f"(labels in [L]); this dataset is {ds.task}: use --task classification")
    if ds.n_classes < 2:
        raise ConditionError("the data have a single class, so λ_D is infinite and there is nothing to "
                             "separate: robust memorization needs at least two classes")
    lam_f = ds.separation(p)
    r = lam_f * (1 + 1e-9) + 1e-300
    best: Fraction | None = None
    pair = (0, 0)
    labels = ds.labels
    for c in np.unique(labels):
        inside, outside = np.flatnonzero(labels == c), np.flatnonzero(labels != c)
        tree = cKDTree(ds.X[outside])
        hits = tree.query_ball_point(ds.X[inside], r=r, p=p)
        for a, js in zip(inside, hits, strict=True):
            for jj in js:
                b = int(outside[jj])
                d = _exact_dist(ds.X[a], ds.X[b], p)
                if best is None or d < best:
                    best, pair = d, (int(a), b)
    if best is None:  # cannot happen unless the kd-tree disagrees wildly; fall back to all pairs
        for a in range(ds.N):
            for b in range(ds.N):
                if labels[a] != labels[b]:
                    d = _exact_dist(ds.X[a], ds.X[b], p)
                    if best is None or d < best:
                        best, pair = d, (a, b)
    assert best is not None
    return best, pair


def _root_lower(v: Fraction, p: int) -> Fraction:
    """A rational r <= v^(1/p), within a relative 2^-50 (exact when v^(1/p) is a float)."""
    if p == 1:
        return v
    r = Fraction(float(v) ** (1.0 / p) * (1 - 2.0**-50))
    while r ** p > v:  # never loops more than once or twice
        r *= 1 - Fraction(1, 2**40)
    return r


def choose_radius(lam: Fraction, budget: float | None, radius: float | None, norm: str
                  ) -> Fraction:
    """μ from ``radius`` (absolute) or ``budget`` (fraction of λ_D/2); refused unless 0 < μ < λ_D/2."""
    if radius is not None:
        mu = _frac(radius)
        src = f"radius {float(radius)!r}"
    else:
        b = 0.9 if budget is None else float(budget)
        if not 0 < b < 1:
            raise ConditionError(
                f"budget must be a fraction of λ_D/2 in (0, 1), got {b}: budget >= 1 means a radius "
                f">= λ_D/2 = {float(lam / 2):.6g} ({norm}), where closed balls of opposite labels meet and "
                "no network can be robust (Yu et al. 2024, Sec. 1)")
        mu = _frac(float(_frac(b) * lam / 2))
        src = f"budget {b} of λ_D/2"
    if mu <= 0:
        raise ConditionError(f"the robust radius must be > 0, got μ = {float(mu)!r} (from {src})")
    if mu >= lam / 2:
        raise ConditionError(
            f"radius μ = {float(mu):.17g} >= λ_D/2 = {float(lam / 2):.17g} (norm {norm}, from {src}): the "
            "closed balls around the two closest points of different labels intersect, so no network "
            "robustly memorizes the data (Yu et al. 2024, Sec. 1 / Def. 3.3); choose μ < λ_D/2, e.g. "
            "--budget 0.9")
    return mu


def _round_up(v: Fraction) -> float:
    f = float(v)
    return f if Fraction(f) >= v else float(np.nextafter(f, math.inf))


def _num(F: Field, v: Fraction) -> Any:
    """A Fraction as a value of the field: exact fmpq, or the nearest float64."""
    return flint.fmpq(v.numerator, v.denominator) if F.exact else float(v)


def _setup(ds: Dataset, arithmetic: str, extra: Fraction) -> tuple[Field, Any, Fraction, Any, Fraction]:
    """Field, X in the field, max|x| (exact), C as a float/fmpq, and C exactly.

    ``C > max|x| + extra`` is a float (so carries ``x + C`` are exact in the stored network)."""
    F = Field(arithmetic)
    maxabs = max(Fraction(0), *(abs(_frac(v)) for v in (ds.X.max(), ds.X.min())))
    Cq = Fraction(_round_up(2 * (maxabs + extra)))
    return F, F.array(ds.X), maxabs, _num(F, Cq), Cq


def _paper_labels(ds: Dataset) -> np.ndarray:
    return ds.labels.astype(np.int64) + 1  # class index 0..L-1 -> paper label 1..L


def _dense_params(d_in: int, widths: list[int], d_out: int) -> int:
    dims = [d_in, *widths, d_out]
    return sum(dims[i + 1] * (dims[i] + 1) for i in range(len(dims) - 1))
