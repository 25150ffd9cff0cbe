"""Shared steps of the precision-faithful constructions (memcap's designs, docs/precision.md).

* :func:`split_groups` — group boundaries at the largest gap in a window (design D3 (docs/precision.md));
* :func:`knot_layer` — two ReLU knots per inter-group gap (§3.2 step 2);
* :func:`ht_design` — per group, q alternating units whose affine pieces put unit r's point on its
  target and saturate it (±(1+m)) at every other point (§3.2 step 3);
* :func:`zigzag_design` — per group, a zigzag interpolant realised by single ReLUs (§4);
* :func:`join_pieces` — layer-2 weights realising given per-group affine pieces across the knots
  (§3.2 step 4);
* :func:`lp_direction` — a within-group direction maximizing the minimum gap (§3.1, HiGHS LP with
  the n² range bound).

Everything takes a :class:`~memcap.constructions.base.Field`, so the same code is exact in rationals.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memcap.constructions.base import Certificate, Condition, ConditionError, Field
from memcap.constructions.options import CANDIDATES, MARGIN, SEED, Option
from memcap.errors import NeedsExactArithmetic

__all__ = ["sorted_projection", "split_groups", "knot_layer", "ht_design", "zigzag_design",
           "join_pieces", "lp_direction", "pad_groups", "default_q", "SLACK"]

#: design D3's 10 % slack: p·q ≥ 1.1·N lets boundaries sit at the largest gap of a window
SLACK = 0.1


def default_q(N: int) -> int:
    """Even q ≈ √N (q ≥ 2)."""
    return max(2, 2 * math.ceil(math.sqrt(N) / 2))


def groups_for(N: int, q: int, slack: float) -> int:
    """p = ⌈(1+slack)·N/q⌉, at most N (every group non-empty), at least ⌈N/q⌉."""
    return max(1, min(N, max(math.ceil(N / q), math.ceil((1 + slack) * N / q - 1e-9))))


def sorted_projection(ds: Any, F: Field, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, c sorted) with c = u^T x in the field; raises if two points project together."""
    Xf = F.array(ds.X)
    c_all = Xf @ F.array(u)
    order = np.argsort(np.asarray(c_all, dtype=np.float64), kind="stable")
    if F.exact:
        order = np.array(sorted(range(ds.N), key=lambda i: c_all[i]), dtype=int)
    c = c_all[order]
    if ds.N > 1:
        gaps = c[1:] - c[:-1]
        if not np.all(gaps > 0):
            i = int(np.argmin(np.asarray(gaps, dtype=float)))
            raise NeedsExactArithmetic(
                f"points {order[i]} and {order[i + 1]} project to the same value u^T x; they are "
                "distinct but closer than float64 resolves along u: use arithmetic='exact'")
    return order, c


def split_groups(c: np.ndarray, p: int, q: int) -> np.ndarray:
    """Boundaries ``b_0 = 0 < b_1 < ... < b_p = N`` of p consecutive groups of at most q sorted
    points. Boundary j sits at the largest gap within ±0.15·q of round(jN/p) (design D3),
    restricted to the positions that keep every group non-empty and at most q long."""
    N = len(c)
    if p * q < N or p > N:
        raise ConditionError(f"{p} groups of at most {q} points cannot hold N={N} points "
                             f"(need p·q ≥ N and p ≤ N)")
    g = np.asarray(c[1:] - c[:-1], dtype=np.float64) if N > 1 else np.zeros(0)
    b = [0]
    w = max(1, int(round(0.15 * q)))
    for j in range(1, p):
        lo = max(b[-1] + 1, N - (p - j) * q)
        hi = min(b[-1] + q, N - (p - j))
        t = int(round(j * N / p))
        wlo, whi = max(lo, t - w), min(hi, t + w)
        if wlo > whi:
            wlo, whi = lo, hi
        # boundary at index i means the gap between sorted points i-1 and i
        i = wlo + int(np.argmax(g[wlo - 1:whi]))
        b.append(i)
    b.append(N)
    return np.array(b, dtype=int)


def pad_groups(vals: np.ndarray, Y: np.ndarray, bounds: np.ndarray, q: int, F: Field,
               fallback_gap: Any, virtual_target: str = "zero") -> tuple[np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    """(T, Yp, n): per-group coordinates padded to q with virtual points t_n + s·(mean gap) and
    targets 0 (``"zero"``) or the last real target (``"repeat"``); n = real sizes."""
    p = len(bounds) - 1
    d_y = Y.shape[1]
    T = F.zeros((p, q))
    Yp = F.zeros((p, q, d_y))
    n = np.diff(bounds)
    for j in range(p):
        s, e = bounds[j], bounds[j + 1]
        k = e - s
        T[j, :k] = vals[s:e]
        Yp[j, :k] = Y[s:e]
        if k < q:
            gap = (vals[e - 1] - vals[s]) / (k - 1) if k > 1 else fallback_gap
            T[j, k:] = vals[e - 1] + gap * F.array(np.arange(1, q - k + 1, dtype=float))
            if virtual_target == "repeat":
                Yp[j, k:] = Y[e - 1]
    return T, Yp, n


def knot_layer(c: np.ndarray, bounds: np.ndarray, F: Field) -> tuple[np.ndarray, Any]:
    """Knots κ_0 = c_1 - R/N and (a + G/3, a + 2G/3) for every boundary gap (a, a + G)."""
    N = len(c)
    R = c[-1] - c[0] if N > 1 else F.const(1)
    kap = [c[0] - R / N]
    for i in bounds[1:-1]:
        a, G = c[i - 1], c[i] - c[i - 1]
        kap += [a + G / 3, a + 2 * G / 3]
    return F.array(np.array(kap, dtype=object)) if F.exact else np.array(kap, dtype=float), R


def ht_design(T: np.ndarray, Y: np.ndarray, margin: Any, F: Field) -> tuple[np.ndarray, np.ndarray]:
    """Aid §3.2 step 3: unit r (0-based) is increasing for even r, decreasing for odd r, with
    affine piece A + B·t through (t_r, y_r) and |B| the smallest slope that puts every other point of
    the group at ≤ -1-m (before, increasing) / ≥ 1+m (after). Returns (A, B), shape (p, q)."""
    p, q = T.shape
    one = F.const(1) + F.const(margin)
    G = T[:, 1:] - T[:, :-1]  # (p, q-1) > 0
    inc = (np.arange(q) % 2 == 0)[None, :]
    num_left = np.where(inc, one + Y, one - Y)
    num_right = np.where(inc, one - Y, one + Y)
    Babs = F.zeros((p, q))
    if q > 1:
        left = F.zeros((p, q))
        right = F.zeros((p, q))
        left[:, 1:] = num_left[:, 1:] / G
        right[:, :-1] = num_right[:, :-1] / G
        Babs = np.maximum(left, right)
    B = np.where(inc, Babs, -Babs)
    A = Y - B * T
    return A, B


def zigzag_design(T: np.ndarray, Y: np.ndarray, n: np.ndarray, margin: Any, b_out: Any, span0: Any,
                  F: Field) -> tuple[np.ndarray, np.ndarray]:
    """Aid §4: per group a zigzag interpolant through its n ≤ Q points, slopes σ_i = (-1)^i S_i,
    realised by Q single ReLUs: unit 0 the base (output weight +1), concave kinks on units Q/2.. (−1),
    convex kinks on units 1..Q/2-1 (+1), unused units g = -1. ``Y`` must repeat the last real target
    on virtual points. Returns (A, B), shape (p, Q)."""
    p, Q = T.shape
    two_m = 2 * (F.const(1) + F.const(margin))
    G = T[:, 1:] - T[:, :-1]
    dY = np.abs(Y[:, 1:] - Y[:, :-1])
    last = n - 1
    span = F.array(np.array([T[j, last[j]] - T[j, 0] if n[j] > 1 else span0 for j in range(p)],
                            dtype=object if F.exact else float))
    S = F.zeros((p, Q))
    S[...] = (F.const(1) / span)[:, None]
    if Q > 1:
        r = dY / G
        S[:, :-1] = np.maximum(S[:, :-1], r)
        S[:, 1:] = np.maximum(S[:, 1:], r)
    S = S * two_m
    sig = np.where((np.arange(Q) % 2 == 0)[None, :], S, -S)
    A = F.zeros((p, Q))
    B = F.zeros((p, Q))
    A[...] = F.const(-1)
    B[:, 0] = sig[:, 0]
    A[:, 0] = Y[:, 0] - sig[:, 0] * T[:, 0] - b_out
    if Q > 1:
        k = T[:, :-1] + (Y[:, 1:] - Y[:, :-1] - sig[:, 1:] * G) / (sig[:, :-1] - sig[:, 1:])
        Bk = S[:, :-1] + S[:, 1:]
        for i in range(Q - 1):
            unit = Q // 2 + i // 2 if i % 2 == 0 else (i + 1) // 2
            real = n > i + 1  # kink between real points i and i+1
            B[:, unit] = np.where(real, Bk[:, i], B[:, unit])
            A[:, unit] = np.where(real, -Bk[:, i] * k[:, i], A[:, unit])
    return A, B


def join_pieces(A: np.ndarray, B: np.ndarray, kap: np.ndarray, R: Any, F: Field
                ) -> tuple[np.ndarray, np.ndarray]:
    """Aid §3.2 step 4: layer-2 weights (K, 2p-1) and biases (K,) for units whose pre-activation
    is A[j,k] + B[j,k]·c on group j, linear across each gap [κ_{2j-1}, κ_{2j}] and flat left of
    κ_0, reading knot units h_m = relu((c - κ_m)/R)."""
    p, K = A.shape
    slopes = F.zeros((2 * p, K))
    slopes[1::2] = B
    if p > 1:
        k1, k2 = kap[1::2], kap[2::2]
        end = A[:-1] + B[:-1] * k1[:, None]
        start = A[1:] + B[1:] * k2[:, None]
        slopes[2::2] = (start - end) / (k2 - k1)[:, None]
    W = ((slopes[1:] - slopes[:-1]) * R).T
    b = A[0] + B[0] * kap[0]
    return W, b


def lp_direction(Xg: np.ndarray, rng: np.random.Generator, starts: int = 5, rounds: int = 3,
                 norm: str = "mass") -> np.ndarray:
    """Aid §3.1, adapted: a direction v maximizing min consecutive gap of v^T x on the group
    relative to the float *mass* Σ_i |v_i|·s_i (s_i = max |x_i| on the group).

    The first version bounded the range v^T(x_{π(n)} - x_{π(1)}) ≤ n². We bound the l1 mass instead, because
    the rounding error of the carrier v^T x + b in any float format is γ_{d+1}·(Σ|v_i x_i| + |b|),
    not a multiple of the range: a range-normalized LP direction can have large cancelling
    components (measured: 50x larger certified float32 bound at N = 4096). Best of ``starts``
    random directions, then ``rounds`` LP rounds (fix the order, maximize δ subject to
    v^T(x_{π(i+1)} - x_{π(i)}) ≥ δ and Σ s_i |v_i| ≤ n², v = v⁺ - v⁻; HiGHS). The n² scale keeps
    δ well above HiGHS's feasibility tolerance (design notes, docs/precision.md). ``norm="range"`` is
    the plain range LP.
    """
    from scipy.optimize import linprog

    n, d = Xg.shape
    sc = np.max(np.abs(Xg), axis=0)
    sc = np.where(sc > 0, sc, 1.0)
    # The search runs in column-scaled coordinates z = x / sc (v = v_z / sc): the same problem, but
    # with features spanning 1e-8 ... 1e8 the LP's rows are no longer 16 orders apart (unscaled,
    # HiGHS returned directions that merge a group's points: a zero range, ZeroDivisionError).
    Xg = Xg / sc

    def score(v: np.ndarray) -> float:
        s = np.sort(Xg @ v)
        mass = float(np.sum(np.abs(v))) if norm == "mass" else float(s[-1] - s[0])
        return float(np.min(np.diff(s)) / mass) if mass > 0 else -1.0

    cands = rng.standard_normal((max(1, starts), d)) * sc  # the same starts as unscaled directions
    best = max(cands, key=score)
    best_s = score(best)
    v = best
    for _ in range(rounds):
        order = np.argsort(Xg @ v, kind="stable")
        D = Xg[order[1:]] - Xg[order[:-1]]
        A_ub = np.zeros((n, 2 * d + 1))
        A_ub[:-1, :d] = -D
        A_ub[:-1, d:2 * d] = D
        A_ub[:-1, -1] = 1
        if norm == "mass":
            A_ub[-1, :d] = sc
            A_ub[-1, d:2 * d] = sc
        else:  # the range bound v^T(x_{π(n)} - x_{π(1)}) ≤ n²
            A_ub[-1, :d] = Xg[order[-1]] - Xg[order[0]]
            A_ub[-1, d:2 * d] = -A_ub[-1, :d]
        b_ub = np.zeros(n)
        b_ub[-1] = float(n) ** 2
        res = linprog(np.r_[np.zeros(2 * d), -1.0], A_ub=A_ub, b_ub=b_ub,
                      bounds=[(0, None)] * (2 * d + 1), method="highs")
        if res.status != 0 or res.x is None:
            break
        v = res.x[:d] - res.x[d:2 * d]
        s = score(v)
        if s > best_s:
            best, best_s = v, s
        else:
            break
    return np.asarray(best, dtype=np.float64) / sc


def maxmin_groups(c: np.ndarray, p: int, q: int) -> np.ndarray:
    """Boundaries of at most p consecutive groups of at most q sorted points that MAXIMIZE the
    smallest boundary gap (binary search on the threshold; greedy farthest boundary is optimal for
    the number of groups at a fixed threshold). Used by twoproj-5layer, whose float32 gates need
    every boundary gap to stay well above the rounding error of u^T x (departure from the design's
    window rule of §3.2, which it keeps for D3). May return fewer than p groups."""
    N = len(c)
    if p * q < N:
        raise ConditionError(f"{p} groups of at most {q} points cannot hold N={N} points")
    if N <= q:
        return np.array([0, N], dtype=int)
    g = np.asarray(c[1:] - c[:-1], dtype=np.float64)  # g[i-1] is the gap before sorted point i

    def partition(th: float) -> list[int] | None:
        cand = np.flatnonzero(g >= th) + 1  # admissible boundary positions
        b = [0]
        while N - b[-1] > q:
            k = int(np.searchsorted(cand, b[-1] + q, side="right")) - 1
            if k < 0 or cand[k] <= b[-1] or len(b) > p - 1:
                return None
            b.append(int(cand[k]))
        b.append(N)
        return b

    vals = np.unique(g)
    lo, hi = 0, len(vals) - 1  # vals[lo] is always feasible (every position admissible)
    best = partition(float(vals[0]))
    assert best is not None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        b = partition(float(vals[mid]))
        if b is not None:
            lo, best = mid, b
        else:
            hi = mid - 1
    return np.array(best, dtype=int)


def group_options(q_default: str, lp: str) -> tuple[Any, ...]:
    """The options every grouped G4L design declares (``q``, ``p``, ``slack``, margin, seed,
    candidates, the LP's starts and rounds); ``q_default`` and ``lp`` complete their help texts."""
    return (Option("q", int, None, f"points per group (even; default {q_default})", low=2),
            Option("p", int, None, "number of groups (default ≈ 1.1·N/q)", low=0),
            Option("slack", float, SLACK, "extra groups, as a fraction of N/q", low=0),
            MARGIN, SEED, CANDIDATES,
            Option("lp_starts", int, 5, f"random starts of {lp}", low=1),
            Option("lp_rounds", int, 3, f"refinement rounds of {lp}", low=1))


def g4l_certificate(method: str, theorem: str, ref: str, F: Any, N: int, p: int, q: int, margin: Any,
                    notes: list[str]) -> Certificate:
    """The certificate both grouped G4L designs (twoproj-5layer, axisgate-5layer) state: distinct
    points, p·q ≥ N, exact (or float64-construction) memorization, exact-zero gates and clip units."""
    return Certificate(
        method, theorem, ref,
        [Condition("x_i distinct", {"N": N}, True),
         Condition("p·q ≥ N", {"p": p, "q": q, "N": N}, True)],
        ["f(x_i) = y_i for every i in exact arithmetic of the stated weights" if F.exact else
         "f(x_i) = y_i up to the rounding of the construction to float64 (bounded by the verifier)",
         "gated units are exact zeros with pre-activation margin ≥ 1; saturated clip units give "
         f"exactly 0 or 2 when rounding stays below the margin m = {margin}"],
        F.name, notes)
