"""Theorem 4.8 (L∞, App. B.5) and Theorems B.5/B.6 (Lp, App. B.7): ``yu-robust``."""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import Certificate, Condition, Construction, Field, register
from memcap.constructions.options import SEED, Option
from memcap.constructions.yu2024.common import (
    BUDGET,
    EPS52,
    RADIUS,
    REFERENCE,
    _dense_params,
    _num,
    _paper_labels,
    _root_lower,
    _round_up,
    _setup,
    choose_radius,
    exact_separation,
)
from memcap.data.dataset import Dataset
from memcap.errors import NeedsExactArithmetic
from memcap.network import IDENTITY, RELU, Dense, Network
from memcap.norms import norm_name, parse_norm

__all__ = ["robust", "robust_sizes", "knots_for"]

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
    Step 2/3 constants are wrong (erratum YGZ-7: 2(1/(3γ))^p and (3γ)^p L do not give a robust net; a
    counterexample is in tests/test_yu2024.py), and its approximation range [-10Δ, 10Δ] is too small for
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
    Thm 4.8 (erratum YGZ-1: layer (i-1.2) has 4n parameters, not 8n, and block 1 costs 9n+1).
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
    mu = choose_radius(lam_lo, budget, radius, norm_name(p))
    t, _a, _tau, _kappa = _lp_plan(n, int(p), lam_lo, mu, L)
    K = len(t)
    widths = [2 * n * K + n + 1, n + 2, n + 2] * N
    return {"widths": widths, "depth": 3 * N + 1, "knots": K,
            "parameters": _dense_params(n, widths, L)}


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
    options=(BUDGET, RADIUS, Option("norm", "norm", "inf", "the ball's norm: inf (Thm 4.8), 1 (Thm B.5) "
                                    "or an integer p ≥ 2 (Thm B.6)"), SEED),
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

    Long: the proof's steps (Thm 4.8) in order: separation, radius, the per-point blocks, certificate.
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
        raise NeedsExactArithmetic(
            f"μ = {float(mu):.17g} is within float64 rounding of λ_D/2 = {float(lam / 2):.17g}: "
            "rebuild with arithmetic='exact'")
    yl = _paper_labels(ds)
    # c_i = y_i/(λ_D - 2μ) (float64: rounded up, so opposite-label E_i stays <= 0)
    cval = {int(y): Fraction(int(y)) / slack for y in np.unique(yl)}
    c = np.array([_num(F, cval[int(y)]) if F.exact else _round_up(cval[int(y)]) for y in yl],
                 dtype=object if F.exact else np.float64)
    layers = _linf_layers(Xf, yl, L, _num(F, mu_t), C, c, F)
    net = Network(layers, meta={mk.METHOD: "yu-robust"})
    robust_info = {"radius": float(mu), "norm": "inf", "strict": True, "margin": 0.5,
                   "radius_fraction_of_half_separation": float(2 * mu / lam)}
    net.meta[mk.ROBUST] = robust_info
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
            raise NeedsExactArithmetic(
                f"μ = {float(mu):.17g} leaves no room for float64 rounding in the L{p} "
                                 "construction: rebuild with arithmetic='exact'")
        kappa = Fraction(_round_up(Fraction(L) / room))
    q = [_num(F, v) for v in t]
    layers = _lp_layers(Xf, _paper_labels(ds), L, q, [_num(F, v) for v in a], _num(F, tau),
                        _num(F, kappa), C, F)
    net = Network(layers, meta={mk.METHOD: "yu-robust"})
    robust_info = {"radius": float(mu), "norm": str(p), "strict": True, "margin": 0.5,
                   "radius_fraction_of_half_separation": float(2 * mu / lam)}
    net.meta[mk.ROBUST] = robust_info
    thm = "Theorem B.5" if p == 1 else "Theorem B.6"
    notes = [
        f"λ_D = {float(lam):.17g} in L{p} ({'exact' if p == 1 else 'rational lower bound within 2^-50'}"
        f"; points {pair[0]} and {pair[1]}), μ = {float(mu):.17g}",
        "output: scores s_l = l·F - l²/2 (argmax s = argmin_l |F - l|)",
        f"τ = {float(tau):.6g}, κ = {float(kappa):.6g}, {len(t)} knot(s) per coordinate",
    ]
    if p >= 2:
        notes += [
            "Theorem B.6's constants are corrected (erratum YGZ-7): the paper's bound 2(1/(3γ))^p and "
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
