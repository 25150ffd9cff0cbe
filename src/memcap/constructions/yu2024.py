"""Yu, Gao & Zhang (ICLR 2024), "Optimal robust memorization with ReLU neural networks".

One function per theorem, with the paper's symbols (λ_D, μ, C, E_i, c_i, τ, κ, ν, h, A):

* :func:`robust` — ``yu-robust``: Theorem 4.8 (proof App. B.5), any budget μ < λ_D/2 in L∞: width
  3n+1, depth 2N+1, F = y_i *exactly* on every ball B∞(x_i, μ) (strict, Remark 4.9). With
  ``norm=1`` Theorem B.5 (App. B.7) and with an integer ``norm=p >= 2`` Theorem B.6 (App. B.7, with the
  reading aid's corrections E7/E8), both exact on the Lp balls, 3 hidden layers per point.
* :func:`lipschitz` — ``yu-lipschitz``: Theorem 5.2 (proof App. C.2): F(x_i) = y_i and
  Lip∞ = 2/λ_D exactly (the optimum), so sign F is right on every open ball of radius λ_D/2.

Reading aid: ``shared/specs/yu2024.md``; where the paper is wrong the code says so at the spot.

Output convention. The paper's networks are scalar: Thm 4.8 predicts argmin_l |F - l| over labels
l in [L] = {1..L}; Thm 5.2 predicts sign F. memcap classifiers output one score per class (argmax),
so the output affine map is composed with a *linear* score map (no extra layer):

* Thm 4.8 / B.5 / B.6: ``s_l = l·F - l²/2`` (class index l-1). ``s_y - s_l = (y-l)(F - (y+l)/2)``, so
  argmax s = argmin |F - l| with ties counted wrong; at F = y every margin is >= 1/2.
* Thm 5.2 (binary): ``s_+ = F/2, s_- = -F/2`` (class index 1 is y = +1): the margin s_y - s_other
  is y·F, whose Lipschitz constant is the paper's Lip∞(F) = 2/λ_D.

Rounding. With ``arithmetic="exact"`` weights are rationals and every statement is exact. With
float64 weights the construction absorbs the rounding of every data-dependent bias, proved bound
η = 2^-52·(max|x| + C + μ), into its thresholds (the hinges sit at μ + η, not μ; Thm 5.2's slope is
rounded *up* from 2/(λ - 2η)), so the stored float network keeps the theorem's guarantee on the
stated radius. When η eats the whole slack the build asks for exact arithmetic (``memcap.construct``
escalates by itself).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import flint
import numpy as np
from scipy.spatial import cKDTree

from memcap.constructions.base import (
    Certificate,
    Condition,
    ConditionError,
    Construction,
    Field,
    register,
)
from memcap.data.dataset import Dataset
from memcap.network import IDENTITY, RELU, Dense, Network

__all__ = ["robust", "robust_sizes", "lipschitz", "lipschitz_sizes", "exact_separation",
           "thm43_dataset", "prop46_dataset", "prop54_dataset", "prop55_dataset", "prop55_network",
           "prop54_n2_network",
           "choose_radius", "parse_norm", "knots_for", "lipschitz_block_widths"]

REFERENCE = "Yu, Gao & Zhang (ICLR 2024)"
EPS52 = Fraction(1, 2**52)


# ---- shared: norms, exact separation, the radius ------------------------------------------------
def parse_norm(norm: Any) -> float | int:
    """``"inf"``/``inf``/``"linf"`` -> ``math.inf``; an integer p >= 1 -> ``p``."""
    t = str(norm).strip().lower().lstrip("l")
    if t in ("inf", "infinity", "∞", "max"):
        return math.inf
    try:
        v = float(t)
    except ValueError:
        raise ConditionError(f"norm must be inf, 1, 2 or an integer p >= 1, got {norm!r}") from None
    if v == math.inf:
        return math.inf
    if v < 1 or v != int(v):
        raise ConditionError(
            f"norm p = {norm!r} is not supported: Yu et al. treat L∞ (Thm 4.8), p = 1 (Thm B.5) and "
            "integer p >= 2 (Thm B.6); use inf or an integer p >= 1")
    return int(v)


def _norm_name(p: float | int) -> str:
    return "inf" if p == math.inf else str(int(p))


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


# ---- Theorem 4.8 (L∞) ---------------------------------------------------------------------------
def _score_output(width: int, L: int, F: Field) -> Dense:
    """s_l = l·(P0 + P1) - l²/2 for l = 1..L (argmax s = argmin |F - l|, F = P0 + P1)."""
    W, b = F.zeros((L, width)), F.zeros(L)
    for k in range(1, L + 1):
        W[k - 1, 0] = W[k - 1, 1] = F.const(k)
        b[k - 1] = F.const(Fraction(-k * k, 2))
    return Dense(W, b, IDENTITY)


def _linf_layers(Xf: Any, yl: np.ndarray, L: int, mu_t: Any, C: Any, c: np.ndarray, F: Field
                 ) -> list[Dense]:
    """App. B.5's layers: blocks (3n+1, n+2) per point, neuron 0 the running max (Steps 1-3)."""
    N, n = Xf.shape
    one, zero = F.const(1), F.const(0)
    js = np.arange(1, n + 1)
    layers: list[Dense] = []
    for i in range(N):
        xi = Xf[i]
        if i == 0:  # (1-1.1..1.3): F1[0] = 0 (kept: width 3n+1 as stated), hinges, carries
            W, b = F.zeros((3 * n + 1, n)), F.zeros(3 * n + 1)
            W[js, js - 1] = -one
            b[js] = xi - mu_t
            W[n + js, js - 1] = one
            b[n + js] = -xi - mu_t
            W[2 * n + js, js - 1] = one
            b[2 * n + js] = C
        else:  # (i-1.1..1.3): running max, hinges on the carries, carries
            W, b = F.zeros((3 * n + 1, n + 2)), F.zeros(3 * n + 1)
            W[0, 0] = W[0, 1] = one
            W[js, 1 + js] = -one
            b[js] = xi + C - mu_t
            W[n + js, 1 + js] = one
            b[n + js] = -(xi + C + mu_t)
            W[2 * n + js, 1 + js] = one
        layers.append(Dense(W, b, RELU))
        # (i-2.1..2.3): max channel, E_i - M_{i-1} (paper: F2[0] = 0 for i = 1), carries
        W, b = F.zeros((n + 2, 3 * n + 1)), F.zeros(n + 2)
        if i > 0:
            W[0, 0] = one
            W[1, 0] = -one
        W[1, 1:2 * n + 1] = -c[i]
        b[1] = F.const(int(yl[i]))
        W[1 + js, 2 * n + js] = one
        b[1 + js] = zero
        layers.append(Dense(W, b, RELU))
    layers.append(_score_output(n + 2, L, F))
    return layers


# ---- Theorems B.5 / B.6 (finite p) --------------------------------------------------------------
def knots_for(n: int, p: int, R: Fraction, gap: Fraction) -> list[Fraction]:
    """Uniform knots 0 = t_0 < ... < t_{K-1} on [0, R] such that n·ε < gap, where ε bounds the
    piecewise-linear interpolant G of t^p from above (G >= t^p on [0, R], convexity).

    ε <= h²·p(p-1)·R^(p-2)/8 for p >= 2 (h = R/(K-1)); p = 1 needs one knot (G = t, ε = 0)."""
    if p == 1:
        return [Fraction(0)]
    K = 2
    while True:
        h = R / (K - 1)
        eps = h * h * p * (p - 1) * R ** (p - 2) / 8
        if n * eps < gap:
            return [h * k for k in range(K - 1)]  # the last knot R is never needed as a hinge
        K = max(K + 1, int(K * 1.25))


def _lp_plan(n: int, p: int, lam_lo: Fraction, mu: Fraction, L: int
             ) -> tuple[list[Fraction], list[Fraction], Fraction, Fraction]:
    """Knots t_k, slopes a_k, τ and κ for Thm B.5 (p = 1) / Thm B.6 (integer p >= 2).

    p = 1 follows App. B.7 literally: τ = (λ/2 + μ)/2, κ = 4L/(3λ - 6μ). For p >= 2 the paper's
    Step 2/3 constants are wrong (reading aid E7: 2(1/(3γ))^p and (3γ)^p L do not give a robust net; a
    counterexample is in the reading aid), and its approximation range [-10Δ, 10Δ] is too small for
    large n (E8). Here, with G >= t^p the PL interpolant on [0, R], R = λ - μ (G is increasing, so a
    coordinate beyond R still contributes >= R^p): in the ball S <= μ^p + nε <= τ; for an opposite label
    S >= (λ - μ)^p. τ = μ^p + nε̄ and κ = L/((λ-μ)^p - τ)."""
    if p == 1:
        tau = (lam_lo / 2 + mu) / 2
        return [Fraction(0)], [Fraction(1)], tau, Fraction(4 * L) / (3 * lam_lo - 6 * mu)
    R = lam_lo - mu
    gap = R ** p - mu ** p
    t = knots_for(n, p, R, gap / 2)
    h = t[1] - t[0] if len(t) > 1 else R
    eps_bar = h * h * p * (p - 1) * R ** (p - 2) / 8
    vals = [tk ** p for tk in t] + [(t[-1] + h) ** p]
    slopes = [(vals[k + 1] - vals[k]) / h for k in range(len(t))]
    a = [slopes[0]] + [slopes[k] - slopes[k - 1] for k in range(1, len(t))]
    tau = mu ** p + n * eps_bar
    return t, a, tau, Fraction(L) / (R ** p - tau)


def _lp_layers(Xf: Any, yl: np.ndarray, L: int, t: list[Any], a: list[Any], tau: Any, kappa: Any,
               C: Any, F: Field) -> list[Dense]:
    """Three hidden layers per point (App. B.7 skeleton of App. B.5):

    (a) [M; r(±(carry_j - x_i^j - C) - t_k) for every coordinate j and knot k; carries]
    (b) [M; s = r(Σ_jk a_k·(...) - τ); carries]       (Σ_k a_k r(|v| - t_k) = G(|v|) since t_k >= 0)
    (c) [M; r(y_i - κ s - M); carries]                  (running max as in Thm 4.8)
    """
    N, n = Xf.shape
    K = len(t)
    one = F.const(1)
    js = np.arange(n)
    wa = 1 + 2 * n * K + n
    layers: list[Dense] = []
    tk = np.array(t, dtype=object) if F.exact else np.array([float(v) for v in t])
    ak = np.array(a, dtype=object) if F.exact else np.array([float(v) for v in a])
    for i in range(N):
        first = i == 0
        W, b = F.zeros((wa, n if first else n + 2)), F.zeros(wa)
        src = js if first else 2 + js  # inputs x_j, or carries at 2..n+1 of the previous layer
        off = F.zeros(n) if first else F.zeros(n) + C
        if not first:
            W[0, 0] = W[0, 1] = one
        for k in range(K):
            rows_p = 1 + k * 2 * n + js
            rows_m = rows_p + n
            W[rows_p, src] = one
            b[rows_p] = -(Xf[i] + off) - tk[k]
            W[rows_m, src] = -one
            b[rows_m] = Xf[i] + off - tk[k]
        W[1 + 2 * n * K + js, src] = one
        if first:
            b[1 + 2 * n * K + js] = C
        layers.append(Dense(W, b, RELU))
        # (b): the score s_i of point i
        W, b = F.zeros((n + 2, wa)), F.zeros(n + 2)
        if not first:
            W[0, 0] = one
        for k in range(K):
            W[1, 1 + k * 2 * n: 1 + (k + 1) * 2 * n] = ak[k]
        b[1] = -tau
        W[2 + js, 1 + 2 * n * K + js] = one
        layers.append(Dense(W, b, RELU))
        # (c): E_i - M
        W, b = F.zeros((n + 2, n + 2)), F.zeros(n + 2)
        if not first:
            W[0, 0] = one
            W[1, 0] = -one
        W[1, 1] = -kappa
        b[1] = F.const(int(yl[i]))
        W[2 + js, 2 + js] = one
        layers.append(Dense(W, b, RELU))
    layers.append(_score_output(n + 2, L, F))
    return layers


# ---- yu-robust ----------------------------------------------------------------------------------
def robust_sizes(ds: Dataset, budget: float | None = None, radius: float | None = None,
                 norm: Any = "inf", **_: Any) -> dict[str, Any]:
    """Sizes of :func:`robust` without building it.

    L∞: hidden widths (3n+1, n+2) N times, depth 2N+1; dense parameters
    (3n+1)(n+1) + (N-1)(3n+1)(n+3) + N(n+2)(3n+2) + L(n+3). The paper's structural count (entries
    the construction sets, scalar output) is (N-1)(8n+5) + 9n + 3 — not the (N-1)(12n+5)+2 stated in
    Thm 4.8 (reading aid E1: layer (i-1.2) has 4n parameters, not 8n, and block 1 costs 9n+1).
    Finite p: widths (2nK+n+1, n+2, n+2) N times, depth 3N+1 (K knots; K = 1 for p = 1)."""
    p = parse_norm(norm)
    N, n, L = ds.N, ds.d_x, ds.n_classes
    if p == math.inf:
        widths = [3 * n + 1, n + 2] * N
        paper = (N - 1) * (8 * n + 5) + 9 * n + 3
        return {"widths": widths, "depth": 2 * N + 1, "paper_parameters": paper,
                "paper_claimed_parameters": (N - 1) * (12 * n + 5) + 2,
                "parameters": _dense_params(n, widths, L)}
    lam_p, _ = exact_separation(ds, p)
    lam_lo = _root_lower(lam_p, int(p))
    mu = choose_radius(lam_lo, budget, radius, _norm_name(p))
    t, _a, _tau, _kappa = _lp_plan(n, int(p), lam_lo, mu, L)
    K = len(t)
    widths = [2 * n * K + n + 1, n + 2, n + 2] * N
    return {"widths": widths, "depth": 3 * N + 1, "knots": K,
            "parameters": _dense_params(n, widths, L)}


def _dense_params(d_in: int, widths: list[int], d_out: int) -> int:
    dims = [d_in, *widths, d_out]
    return sum(dims[i + 1] * (dims[i] + 1) for i in range(len(dims) - 1))


def _robust_break(ds: Dataset) -> dict[str, Any]:
    """μ = λ_D/2 exactly (the smallest radius the necessary condition forbids)."""
    lam, _ = exact_separation(ds, math.inf)
    return {"radius": _round_up(lam / 2)}


@register(
    "yu-robust",
    theorem="Yu, Gao & Zhang 2024, Theorem 4.8 (L∞); Theorems B.5/B.6 (Lp)",
    condition="classification, ≥ 2 classes, robust radius 0 < μ < λ_D/2 (λ_D: separation in the norm)",
    sizes="L∞: width 3n+1, depth 2N+1, (N-1)(8n+5)+9n+3 structural params; Lp: depth 3N+1",
    tasks=("classification",),
    size_formula=robust_sizes,
    break_condition=_robust_break,
)
def robust(ds: Dataset, arithmetic: str = "float64", budget: float | None = None,
           radius: float | None = None, norm: Any = "inf", seed: int = 0) -> Construction:
    """Theorem 4.8 (Yu et al. 2024; proof App. B.5): for classification data with separation
    λ_D = min_{y_i != y_j} ||x_i - x_j||_∞ and any 0 < μ < λ_D/2, a ReLU network of width 3n+1 and
    depth 2N+1 with F(z) = y_i for every z in B∞(x_i, μ) (strict robust memorization, Remark 4.9).

    ``budget`` (default 0.9) sets μ = budget·λ_D/2; ``radius`` sets μ directly. ``norm=1`` builds
    Theorem B.5 and an integer ``norm=p >= 2`` Theorem B.6 (App. B.7; λ_D then in that norm), strict on
    the Lp balls, depth 3N+1. ``seed`` is accepted for the CLI and unused (the construction is
    deterministic). Weights: O(max|x| + L/(λ_D - 2μ)); they blow up as μ -> λ_D/2.
    """
    t0 = time.perf_counter()
    p = parse_norm(norm)
    if p != math.inf:
        return _robust_lp(ds, arithmetic, budget, radius, int(p), t0)
    lam, pair = exact_separation(ds, math.inf)
    mu = choose_radius(lam, budget, radius, "inf")
    L = ds.n_classes
    F, Xf, maxabs, C, Cq = _setup(ds, arithmetic, mu)
    if F.exact:
        eta = Fraction(0)
        mu_t = mu
    else:  # hinge biases fl(fl(x + C) - μ'): two roundings, each <= 2^-53·(max|x| + C + μ')
        eta = EPS52 * (maxabs + Cq + 2 * mu + 1)
        mu_t = Fraction(_round_up(mu + eta))
    slack = lam - 2 * mu_t
    if slack <= 0:
        raise ConditionError(
            f"μ = {float(mu):.17g} is within float64 rounding of λ_D/2 = {float(lam / 2):.17g}: "
            "rebuild with arithmetic='exact'")
    yl = _paper_labels(ds)
    # c_i = y_i/(λ_D - 2μ) (float64: rounded up, so opposite-label E_i stays <= 0)
    cval = {int(y): Fraction(int(y)) / slack for y in np.unique(yl)}
    c = np.array([_num(F, cval[int(y)]) if F.exact else _round_up(cval[int(y)]) for y in yl],
                 dtype=object if F.exact else np.float64)
    layers = _linf_layers(Xf, yl, L, _num(F, mu_t), C, c, F)
    net = Network(layers, meta={"method": "yu-robust"})
    robust_info = {"radius": float(mu), "norm": "inf", "strict": True, "margin": 0.5,
                   "radius_fraction_of_half_separation": float(2 * mu / lam)}
    net.meta["robust"] = robust_info
    sizes = robust_sizes(ds)
    notes = [
        f"λ_D = {float(lam):.17g} (L∞, exact; attained by points {pair[0]} and {pair[1]}), "
        f"μ = {float(mu):.17g} = {float(2 * mu / lam):.6g}·λ_D/2",
        "output: scores s_l = l·F - l²/2 (argmax s = argmin_l |F - l|, the paper's label rule); "
        "class index k is the paper's label k+1",
        f"C = {float(Cq):.17g} > max|x| + μ; E_i uses c_i = y_i/(λ_D - 2μ) "
        f"(<= {float(max(cval.values())):.6g})",
        f"paper's parameter count (N-1)(12n+5)+2 = {sizes['paper_claimed_parameters']} is wrong; the "
        f"construction sets (N-1)(8n+5)+9n+3 = {sizes['paper_parameters']} entries (scalar output; "
        f"+3L-2 for the score output); stored densely: {sizes['parameters']}",
        "App. B.5 ends with 'depth 2N': it has 2N hidden layers, so depth 2N+1 as stated",
    ]
    if not F.exact:
        notes.append(f"float64 weights: hinges placed at μ + η, η = {float(eta):.3g} >= the rounding of "
                     "every bias, c_i rounded up; F = y_i still holds exactly on B∞(x_i, μ) for the "
                     "stored network")
    cert = Certificate(
        method="yu-robust",
        theorem="Theorem 4.8",
        reference=REFERENCE + ", Theorem 4.8; proof App. B.5",
        conditions=[
            Condition("classification data with at least two classes", {"L": L}, True),
            Condition("0 < μ < λ_D/2 (L∞)", {"mu": float(mu), "lambda_D": float(lam),
                                             "half_lambda_D": float(lam / 2)}, True),
        ],
        guarantees=[
            f"every z with ||z - x_i||_∞ <= {float(mu):.17g} (radius μ, norm L∞) is classified as the "
            "label of x_i, for every i (robust memorization with budget μ)",
            "strict: the paper's F(z) = y_i exactly on every ball, so every score margin is >= 1/2 there",
        ],
        arithmetic=F.name,
        notes=notes,
    )
    info: dict[str, Any] = {
        "robust": robust_info, "lambda_D": float(lam), "lambda_D_exact": str(lam), "mu_exact": str(mu),
        "norm": "inf", "C": float(Cq), "eta": float(eta), "closest_pair": pair,
        "paper_parameters": sizes["paper_parameters"],
        "paper_claimed_parameters": sizes["paper_claimed_parameters"],
        "build_seconds": time.perf_counter() - t0,
    }
    return Construction(net, cert, info)


def _robust_lp(ds: Dataset, arithmetic: str, budget: float | None, radius: float | None, p: int,
               t0: float) -> Construction:
    """Theorems B.5 (p = 1) and B.6 (integer p >= 2).

    float64 weights: every hinge of layer (a) is shifted by at most η (bias roundings), so each
    coordinate's G(|v|) moves by at most 2η·A (A = Σ a_k), and the slopes a_k, τ by a relative u.
    τ is raised to cover the ball's worst S and κ computed from the opposite labels' worst S, both
    rounded up; the build asks for exact arithmetic when the slack is gone."""
    lam_p, pair = exact_separation(ds, p)
    lam = _root_lower(lam_p, p)  # λ_D itself when p = 1; a rational lower bound otherwise
    mu = choose_radius(lam, budget, radius, f"L{p}")
    n, L = ds.d_x, ds.n_classes
    F, Xf, maxabs, C, Cq = _setup(ds, arithmetic, mu)
    t, a, tau, kappa = _lp_plan(n, p, lam, mu, L)
    R = lam - mu
    eta = Fraction(0)
    if not F.exact:
        u = EPS52
        eta = 2 * EPS52 * (maxabs + Cq + R + 1)
        A = sum(a, Fraction(0)) * (1 + u)
        h = t[1] - t[0] if len(t) > 1 else R
        eps_bar = 0 if p == 1 else h * h * p * (p - 1) * R ** (p - 2) / 8
        s_in = mu ** p + n * eps_bar  # largest exact S on a ball
        tau = Fraction(_round_up(max(tau, (s_in * (1 + u) + 2 * n * eta * A) / (1 - u))))
        room = R ** p * (1 - u) - 2 * n * eta * A - tau * (1 + u)
        if room <= 0:
            raise ConditionError(f"μ = {float(mu):.17g} leaves no room for float64 rounding in the L{p} "
                                 "construction: rebuild with arithmetic='exact'")
        kappa = Fraction(_round_up(Fraction(L) / room))
    q = [_num(F, v) for v in t]
    layers = _lp_layers(Xf, _paper_labels(ds), L, q, [_num(F, v) for v in a], _num(F, tau),
                        _num(F, kappa), C, F)
    net = Network(layers, meta={"method": "yu-robust"})
    robust_info = {"radius": float(mu), "norm": str(p), "strict": True, "margin": 0.5,
                   "radius_fraction_of_half_separation": float(2 * mu / lam)}
    net.meta["robust"] = robust_info
    thm = "Theorem B.5" if p == 1 else "Theorem B.6"
    notes = [
        f"λ_D = {float(lam):.17g} in L{p} ({'exact' if p == 1 else 'rational lower bound within 2^-50'}"
        f"; points {pair[0]} and {pair[1]}), μ = {float(mu):.17g}",
        "output: scores s_l = l·F - l²/2 (argmax s = argmin_l |F - l|)",
        f"τ = {float(tau):.6g}, κ = {float(kappa):.6g}, {len(t)} knot(s) per coordinate",
    ]
    if p >= 2:
        notes += [
            "Theorem B.6's constants are corrected (reading aid E7): the paper's bound 2(1/(3γ))^p and "
            "coefficient (3γ)^p·L do not give a robust network; here τ = μ^p + nε̄, κ = L/((λ-μ)^p - τ)",
            "t^p is approximated by its piecewise-linear interpolant on [0, λ - μ] (one hidden layer "
            "per point, width 2nK) instead of Elbrächter et al.'s width-9 deep approximant, so the width "
            "grows with K; the paper's range [-10Δ, 10Δ] is replaced by [0, λ - μ] (E8)",
        ]
    cert = Certificate(
        method="yu-robust",
        theorem=thm,
        reference=REFERENCE + f", {thm}; App. B.7",
        conditions=[
            Condition("classification data with at least two classes", {"L": L}, True),
            Condition(f"0 < μ < λ_D/2 (L{p})", {"mu": float(mu), "lambda_D": float(lam)}, True),
        ],
        guarantees=[
            f"every z with ||z - x_i||_{p} <= {float(mu):.17g} (radius μ, norm L{p}) is classified as the "
            "label of x_i, for every i; strict: the paper's F = y_i exactly there (margins >= 1/2)",
        ],
        arithmetic=F.name,
        notes=notes,
    )
    if not F.exact:
        notes.append(f"float64 weights: hinges may move by η = {float(eta):.3g}; τ raised and κ rounded up "
                     "to absorb it, so F = y_i still holds exactly on the balls for the stored network")
    info: dict[str, Any] = {
        "robust": robust_info, "lambda_D": float(lam), "norm": str(p), "mu_exact": str(mu), "eta": float(eta),
        "knots": len(t), "tau": float(tau), "kappa": float(kappa), "C": float(Cq),
        "closest_pair": pair, "build_seconds": time.perf_counter() - t0,
    }
    return Construction(net, cert, info)


# ---- Theorem 5.2 (Lipschitz) --------------------------------------------------------------------
def lipschitz_block_widths(n: int, L: int) -> tuple[list[int], list[int]]:
    """Hidden widths of one point's block in :func:`lipschitz`, and the max-tree round sizes
    (m_0 = n, m_{r+1} = ⌈m_r/2⌉; e = number of rounds = ⌈log2 n⌉)."""
    m = 1 if L == 2 else L
    block = [m + 3 * n, m + 2 * n]
    cnt, rounds = n, []
    while cnt > 1:
        P, U = cnt // 2, cnt % 2
        block += [m + 2 * P + U + n, m + P + U + n]
        rounds.append(cnt)
        cnt = P + U
    block += [n + 4, n + 3, n + 1] if L == 2 else [L + 1 + n, L + 1 + n, L + n]
    return block, rounds


def lipschitz_sizes(ds: Dataset, **_: Any) -> dict[str, Any]:
    """Sizes of :func:`lipschitz`. Binary data (the paper's case): 1 + N(2e+5) hidden layers with
    e = ⌈log2 n⌉, so depth N(2⌈log2 n⌉+5)+2, width max(3n+1, n+4); the paper's structural count is
    2n+1 + N(16n+13+2U+2e(n+1)) + 2 (U = rounds of the max tree with an odd count; reading aid 7.2).
    The paper only states O(N log n) depth and O(Nn log n) parameters (E4)."""
    n, N, L = ds.d_x, ds.N, ds.n_classes
    block, rounds = lipschitz_block_widths(n, L)
    widths = [(1 if L == 2 else L) + n] + block * N
    e = len(rounds)
    U = sum(r % 2 for r in rounds)
    out = {"widths": widths, "depth": len(widths) + 1, "parameters": _dense_params(n, widths, L),
           "e": e}
    if L == 2:
        out["paper_parameters"] = 2 * n + 1 + N * (16 * n + 13 + 2 * U + 2 * e * (n + 1)) + 2
    return out


class _Stack:
    """Appends ReLU layers whose rows are written as {input column: weight} plus a bias."""

    def __init__(self, F: Field, width: int) -> None:
        self.F, self.width, self.layers = F, width, []

    def layer(self, rows: list[tuple[dict[int, Any], Any]], act: Any = RELU) -> None:
        F = self.F
        W, b = F.zeros((len(rows), self.width)), F.zeros(len(rows))
        for r, (ws, bias) in enumerate(rows):
            for col, w in ws.items():
                W[r, col] = w
            b[r] = bias
        self.layers.append(Dense(W, b, act))
        self.width = len(rows)


def _lip_layers(Xf: Any, labels: np.ndarray, L: int, w: Any, C: Any, F: Field) -> list[Dense]:
    """App. C.2's layers (binary, m = 1 channel A) or the multi-class generalisation (m = L channels
    s_c = running max over class c of h_i). Each layer: [channels; values; carries]."""
    N, n = Xf.shape
    one, zero, two = F.const(1), F.const(0), F.const(2)
    binary = L == 2
    m = 1 if binary else L
    st = _Stack(F, n)
    # Step 1: A = 2 (binary) or s_c = 0; carries r(x + C)
    rows = [({}, two if binary else zero) for _ in range(m)]
    rows += [({j: one}, C) for j in range(n)]
    st.layer(rows)

    def chan() -> list[tuple[dict[int, Any], Any]]:
        return [({c: one}, zero) for c in range(m)]

    def carries(start: int) -> list[tuple[dict[int, Any], Any]]:
        return [({start + j: one}, zero) for j in range(n)]

    for k in range(N):
        xk = Xf[k] + C
        # Step 2a: p_j = r(c_j - x_k^j - C), q_j = r(-c_j + x_k^j + C); then a_j = |x^j - x_k^j|
        st.layer(chan() + [({m + j: one}, -xk[j]) for j in range(n)]
                 + [({m + j: -one}, xk[j]) for j in range(n)] + carries(m))
        st.layer(chan() + [({m + j: one, m + n + j: one}, zero) for j in range(n)] + carries(m + 2 * n))
        # Step 2b: ν = ||x - x_k||_∞ by the max tree of Lemma C.1 (max(u, v) = r(u) + r(v - u));
        # with an odd count the last value is carried unpaired (the paper pads n to 2^e instead).
        # n = 1: e = ⌈log2 1⌉ = 0 rounds and ν = a_1, so a block has 5 hidden layers. Lemma C.1's
        # "4d parameters" for the |·| layers means 4n (reading aid E5)
        cnt = n
        while cnt > 1:
            P, U = cnt // 2, cnt % 2
            rows = chan()
            for i in range(P):
                u, v = m + 2 * i, m + 2 * i + 1
                rows += [({u: one}, zero), ({v: one, u: -one}, zero)]
            if U:
                rows.append(({m + cnt - 1: one}, zero))
            st.layer(rows + carries(m + cnt))
            rows = chan() + [({m + 2 * i: one, m + 2 * i + 1: one}, zero) for i in range(P)]
            if U:
                rows.append(({m + 2 * P: one}, zero))
            st.layer(rows + carries(m + 2 * P + U))
            cnt = P + U
        nu = m  # column of ν
        if binary:  # Step 2c (paper): A' = A + y h - y·min(h, |A - 2|)
            y = one if int(labels[k]) == 1 else -one
            st.layer([({0: one}, zero), ({nu: -w}, one), ({0: one}, -two), ({0: -one}, two)]
                     + carries(m + 1))
            st.layer([({0: one, 1: y}, zero), ({1: one}, zero), ({1: one, 2: -one, 3: -one}, zero)]
                     + carries(4))
            st.layer([({0: one, 1: -y, 2: y}, zero)] + carries(3))
        else:  # multi-class: s_c <- max(s_c, h) = s_c + r(h - s_c) for c = class of x_k
            c = int(labels[k])
            st.layer(chan() + [({nu: -w}, one)] + carries(m + 1))
            st.layer(chan() + [({m: one, c: -one}, zero)] + carries(m + 1))
            rows = chan()
            rows[c] = ({c: one, m: one}, zero)
            st.layer(rows + carries(m + 1))
    # Step 3: output (paper: F = A - 2, "F^1" a typo for F^0, reading aid E4); scores
    half = F.const(Fraction(1, 2))
    if binary:
        st.layer([({0: -half}, one), ({0: half}, -one)], IDENTITY)
    else:
        st.layer([({c: one}, zero) for c in range(L)], IDENTITY)
    return st.layers


@register(
    "yu-lipschitz",
    theorem="Yu, Gao & Zhang 2024, Theorem 5.2",
    condition="classification, ≥ 2 classes (binary in the paper; more classes: per-class channels)",
    sizes="binary: depth N(2⌈log2 n⌉+5)+2, width max(3n+1, n+4), O(Nn log n) params",
    tasks=("classification",),
    size_formula=lipschitz_sizes,
)
def lipschitz(ds: Dataset, arithmetic: str = "float64", budget: float | None = None,
              radius: float | None = None, seed: int = 0) -> Construction:
    """Theorem 5.2 (Yu et al. 2024; proof App. C.2): for binary data (x_i, ±1) a network with
    F(x_i) = y_i and Lip∞(F) = 2/λ_D, the smallest any memorizer can have (|F(x_i) - F(x_j)| = 2 at
    distance λ_D), so sign F = y_i on every open ball B∞(x_i, λ_D/2). It computes
    F(x) = max_{y_i=+1} h_i(x) - max_{y_i=-1} h_i(x), h_i(x) = r(1 - (2/λ_D)||x - x_i||_∞).

    More than two classes (beyond the paper, whose conclusion leaves it open): L channels
    s_c = max_{y_i=c} h_i. Supports of h_i of different classes are disjoint open balls, so every
    margin s_y - s_c is exactly the binary F of "y vs c" and has Lip∞ = 2/λ_D as well.

    The network does not depend on a radius; ``budget``/``radius`` only set the radius reported in
    ``info["robust"]`` (default 0.9·λ_D/2). Parameters are O(max|x| + 1/λ_D).
    """
    t0 = time.perf_counter()
    lam, pair = exact_separation(ds, math.inf)
    mu = choose_radius(lam, budget, radius, "inf")
    L = ds.n_classes
    F, Xf, maxabs, C, Cq = _setup(ds, arithmetic, lam / 2)
    if F.exact:
        eta, w = Fraction(0), 2 / lam
    else:  # centres fl(x_k + C) move by <= η; the slope rounded up keeps the supports disjoint
        eta = EPS52 * (maxabs + Cq + 1)
        if lam <= 2 * eta:
            raise ConditionError("λ_D is within float64 rounding of the data: rebuild with "
                                 "arithmetic='exact'")
        w = Fraction(_round_up(2 / (lam - 2 * eta)))
    margin = 1 - w * (mu + eta)
    if margin <= 0:
        raise ConditionError(f"radius μ = {float(mu):.17g} is within float64 rounding of λ_D/2: rebuild "
                             "with arithmetic='exact'")
    layers = _lip_layers(Xf, ds.labels, L, _num(F, w), C, F)
    net = Network(layers, meta={"method": "yu-lipschitz"})
    robust_info = {"radius": float(mu), "norm": "inf", "strict": False, "margin": float(margin),
                   "sup_radius": float(1 / w - eta), "open_ball": True}
    lip_info = {"norm": "inf", "value": float(w), "exact": str(w), "optimal": float(2 / lam),
                "is_optimal": w == 2 / lam,
                "of": ("the margin y·F = s_y - s_other (the paper's F)" if L == 2 else
                       "every margin s_y - s_c and every score s_c"),
                "source": "Theorem 5.2 (proof App. C.2), for the stored weights"}
    net.meta["robust"] = robust_info
    net.meta["lipschitz"] = lip_info
    sizes = lipschitz_sizes(ds)
    notes = [
        f"λ_D = {float(lam):.17g} (L∞, exact; points {pair[0]} and {pair[1]}); C = {float(Cq):.17g}",
        "depth N(2⌈log2 n⌉+5)+2 (1 + N(2e+5) hidden layers); the paper states only O(N log n) and "
        "'N(2⌈log n⌉+5)+1 hidden layers' (log = log2), and writes the output F^1 - 2 for F^0 - 2 (E4)",
        "odd counts in the max tree carry the last value unpaired (the paper assumes n = 2^e)",
    ]
    if L == 2:
        notes.append("output: s_+ = F/2, s_- = -F/2 (class index 1 is y = +1), margin y·F; paper's "
                     f"structural parameter count {sizes['paper_parameters']} (+2 for two outputs)")
    else:
        notes.append(f"{L} classes: generalisation beyond Theorem 5.2 (binary): one running-max channel "
                     "per class instead of the signed channel A; same depth, width max(3n+L, 2n+L+...)")
    if not F.exact:
        notes.append(f"float64 weights: slope {float(w):.17g} = 2/(λ_D - 2η) rounded up, η = {float(eta):.3g}"
                     " bounds the rounding of the centres; Lip∞ = that slope (optimal within η/λ_D)")
    cert = Certificate(
        method="yu-lipschitz",
        theorem="Theorem 5.2",
        reference=REFERENCE + ", Theorem 5.2; proof App. C.2",
        conditions=[Condition("classification data with at least two classes", {"L": L}, True)],
        guarantees=[
            f"Lip∞ of every margin = {float(w):.17g} " + ("= 2/λ_D exactly (optimal)" if F.exact else
                                                         f"(2/λ_D = {float(2 / lam):.17g})"),
            f"every z with ||z - x_i||_∞ <= {float(mu):.17g} (radius μ, norm L∞) is classified as the "
            f"label of x_i, with margin >= {float(margin):.6g}; robust for every radius < "
            f"{float(1 / w - eta):.17g} (open ball)",
        ],
        arithmetic=F.name,
        notes=notes,
    )
    info: dict[str, Any] = {
        "robust": robust_info, "lipschitz": lip_info, "lambda_D": float(lam), "C": float(Cq),
        "eta": float(eta), "closest_pair": pair, "e": sizes["e"],
        "build_seconds": time.perf_counter() - t0,
    }
    if L == 2:
        info["paper_parameters"] = sizes["paper_parameters"]
    return Construction(net, cert, info)


# ---- the datasets behind the necessary conditions (Sec. 4.2, 5.2), and Prop. 5.5(1)'s network ----
def thm43_dataset(n: int, N: int) -> Dataset:
    """App. B.2 (Thm 4.3): blocks {0 (label 1), e_1..e_n (label 2)} shifted by k·(1,..,1), k < N/(n+1).
    λ_D = 1. The paper labels 0/1; memcap class indices 0/1 are its labels 1/2 (reading aid E11)."""
    if N % (n + 1) or N < n + 1:
        raise ConditionError(f"Theorem 4.3's dataset needs N a positive multiple of n+1 = {n + 1}, got {N}")
    block = np.vstack([np.zeros(n), np.eye(n)])
    X = np.vstack([block + k for k in range(N // (n + 1))])
    y = np.tile(np.r_[0, np.ones(n, dtype=int)], N // (n + 1))
    return Dataset(X, y, task="classification", name=f"yu2024-thm4.3(n={n},N={N})")


def prop46_dataset(N: int, n: int = 1) -> Dataset:
    """App. B.4 (Prop. 4.6(2)): x_i = i·e_1, i = 1..N; labels 1, 3, 5 for i = 1..3, then 2 (i even)
    and 4 (i odd) (the paper's list clashes at i = 2, reading aid E12). Class index = label - 1."""
    if N < 5:
        raise ConditionError(f"Proposition 4.6(2)'s dataset needs N >= 5, got {N}")
    X = np.zeros((N, n))
    X[:, 0] = np.arange(1, N + 1)
    lab = [1, 3, 5] + [2 if i % 2 == 0 else 4 for i in range(4, N + 1)]
    return Dataset(X, np.array(lab) - 1, task="classification", name=f"yu2024-prop4.6(N={N})")


def prop54_dataset(n: int) -> Dataset:
    """App. C.3 (Prop. 5.4): T = {(0, +1)} ∪ {(e_i, -1)}; class 1 is y = +1. λ_T = 1."""
    X = np.vstack([np.zeros(n), np.eye(n)])
    return Dataset(X, np.r_[1, np.zeros(n, dtype=int)], task="classification", name=f"yu2024-T(n={n})")


def prop55_dataset(n: int, N: int) -> Dataset:
    """App. C.4.1 (Prop. 5.5): T_k = T + 16knV (k = 1..M, V = (1..n), M = ⌊N/(n+1)⌋) and
    T_0 = {(-jV, +1) : j = 1..N-(n+1)M}. λ_D = 1."""
    M = N // (n + 1)
    if M < 1:
        raise ConditionError(f"Proposition 5.5's dataset needs N >= n+1 = {n + 1}, got {N}")
    V = np.arange(1, n + 1, dtype=float)
    T = prop54_dataset(n)
    rest = N - (n + 1) * M
    X = [T.X + 16 * k * n * V for k in range(1, M + 1)] + [-(j * V)[None, :] for j in range(1, rest + 1)]
    y = [T.labels] * M + [np.ones(1, dtype=int)] * rest
    return Dataset(np.vstack(X), np.concatenate(y), task="classification",
                   name=f"yu2024-prop5.5(n={n},N={N})")


def prop55_network(n: int, N: int, mu: float) -> Network:
    """Prop. 5.5(1) (App. C.4.1): the depth-2, width-4nM network
    F(x) = 1 - (2/(1-2μ)) Σ_i Σ_j G_ε((x - 16njV)^(i)), ε = 1/2 - μ,
    G_ε(t) = r(t - 1/2 + ε) - r(t - 1/2 - ε) - r(t - 3/2 + ε) + r(t - 3/2 - ε),
    which is ±1 exactly on every ball B∞(x, μ) of :func:`prop55_dataset` (any μ < 1/2), although no
    depth-2 network that narrow is Lipschitz-robust there (Prop. 5.5(2)). Scores s_± = ±F/2."""
    if not 0 < mu < 0.5:
        raise ConditionError(f"Proposition 5.5(1) needs 0 < μ < λ_D/2 = 1/2, got {mu}")
    M = N // (n + 1)
    eps = Fraction(1, 2) - _frac(mu)
    V = np.arange(1, n + 1)
    W1, b1, w2 = [], [], []
    for j in range(1, M + 1):
        for i in range(n):
            shift = Fraction(16 * n * j * int(V[i]))
            for off, sgn in ((Fraction(1, 2) - eps, 1), (Fraction(1, 2) + eps, -1),
                             (Fraction(3, 2) - eps, -1), (Fraction(3, 2) + eps, 1)):
                row = np.zeros(n)
                row[i] = 1.0
                W1.append(row)
                b1.append(float(-(shift + off)))
                w2.append(sgn)
    c = float(2 / (1 - 2 * _frac(mu)))
    w = -c * np.array(w2, dtype=float)
    out = Dense(np.vstack([-w / 2, w / 2]), np.array([-0.5, 0.5]), IDENTITY)
    return Network([Dense(np.array(W1), np.array(b1), RELU), out],
                   meta={"method": "yu2024-prop5.5(1)", "robust": {"radius": float(mu), "norm": "inf"}})


def prop54_n2_network() -> Network:
    """Reading aid E6: for n = 2 the depth-2 net F = 1 - 2r(x1) + 2r(-x1) - 2r(x2 - x1) = 1 - 2max(x1, x2)
    memorizes T (Prop. 5.4's dataset) with Lip∞ = 2 = 2/λ_T, so Prop. 5.4 needs n >= 3. Scores ±F/2."""
    W1 = np.array([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0]])
    f = np.array([-2.0, 2.0, -2.0])  # F = 1 + f·h
    return Network([Dense(W1, np.zeros(3), RELU),
                    Dense(np.vstack([-f / 2, f / 2]), np.array([-0.5, 0.5]), IDENTITY)],
                   meta={"method": "yu2024-E6", "lipschitz": {"norm": "inf", "value": 2.0}})
