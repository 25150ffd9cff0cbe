"""``twoproj-5layer``: design G4L (two projections with exact ReLU gating) + exact clip
(exact clipping layer). Registered from :mod:`memcap.constructions.faithful.three_layer`."""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import (
    ConditionError,
    Construction,
    ConstructionError,
    Field,
    register,
)
from memcap.constructions.faithful.common import (
    SLACK,
    g4l_certificate,
    group_options,
    groups_for,
    ht_design,
    lp_direction,
    maxmin_groups,
    pad_groups,
    sorted_projection,
)
from memcap.constructions.gadgets import affine_output, pad_units
from memcap.constructions.options import ACTIVATION, WIDTHS, Option
from memcap.constructions.yun2019.three_layer import choose_projection, rescale_targets
from memcap.errors import NeedsExactArithmetic
from memcap.network import IDENTITY, RELU, Dense, Network, as_activation, sparse_if_smaller

__all__ = ["twoproj_five_layer", "twoproj_sizes", "twoproj_default_q"]

REF = "memcap design G4L + exact clip (docs/precision.md)"


def twoproj_default_q(N: int) -> int:
    """q = 32 up to N = 2¹⁶ (float32 regime: the certified float32 bound grows like q^1.5–2, see
    docs/precision.md), then even q ≈ √N/2 (float64 regime: the certified bound of the
    output sum grows like q²·u; p ≈ 2.2√N keeps the dense 2p×3p block at ≈ 26·N entries).
    Never more than needed: q ≤ 2⌈N/2⌉."""
    q = 32 if N <= 65536 else 2 * math.ceil(math.sqrt(N) / 4)
    return max(2, min(q, 2 * math.ceil(N / 2)))


def _pq(N: int, q: int | None, p: int | None, slack: float) -> tuple[int, int]:
    qq = twoproj_default_q(N) if q is None else int(q)
    if qq < 2 or qq % 2:
        raise ConditionError(f"q must be an even number ≥ 2, got {qq}")
    pp = groups_for(N, qq, slack) if p is None else min(int(p), N)
    if pp < 1 or pp * qq < N:
        raise ConditionError(
            f"twoproj-5layer needs p·q ≥ N (p groups of at most q points): p={pp}, q={qq} give "
            f"{pp * qq} < N = {N}; use p ≥ {math.ceil(N / qq)}")
    return pp, qq


def _from_widths(widths: Any, N: int, d_y: int) -> tuple[int, int]:
    """(p, q) from requested widths, which must be (3p-2, 2p, d_y·q, d_y·q) with q even, p ≤ N."""
    w = [int(x) for x in widths]
    p = (w[0] + 2) // 3 if w else 0
    q = w[2] // d_y if len(w) == 4 else 0
    if (len(w) != 4 or w != [3 * p - 2, 2 * p, d_y * q, d_y * q] or q < 2 or q % 2 or p < 1
            or p > N):
        pe = max(1, min(N, math.ceil(1.1 * N / 32)))
        raise ConditionError(
            f"twoproj-5layer widths must be (3p-2, 2p, d_y·q, d_y·q) with q even, 1 ≤ p ≤ N = {N} "
            f"(d_y = {d_y}), got {tuple(w)}; e.g. p = {pe}, q = 32 gives "
            f"{(3 * pe - 2, 2 * pe, 32 * d_y, 32 * d_y)} (or pass p= and q=)")
    return p, q


def twoproj_sizes(ds: Any, q: int | None = None, p: int | None = None, slack: float = SLACK,
                  widths: Any = None, **_: Any) -> dict[str, Any]:
    """Widths (3p-2, 2p, d_y·q, d_y·q); dense P = (3p-2)(dx+1) + 2p(3p-1) + d_y·q(2p+1)
    + d_y·q(d_y·q+1) + d_y(d_y·q+1). Non-zeros are far fewer (the 2p×3p block has ≤ 3 per row)."""
    if widths is not None:
        p, q = _from_widths(widths, ds.N, ds.d_y)
    pp, qq = _pq(ds.N, q, p, slack)
    dx, dy = ds.d_x, ds.d_y
    w = [3 * pp - 2, 2 * pp, dy * qq, dy * qq]
    P = w[0] * (dx + 1) + w[1] * (w[0] + 1) + w[2] * (w[1] + 1) + w[3] * (w[2] + 1) + dy * (w[3] + 1)
    return {"widths": w, "depth": 5, "parameters": P}


def _break(ds: Any, **_: Any) -> dict[str, Any]:
    pp, qq = _pq(ds.N, None, None, SLACK)
    return {"q": qq, "p": math.ceil(ds.N / qq) - 1} if math.ceil(ds.N / qq) > 1 else {"q": qq, "p": 0}


def _gate_projection(X: np.ndarray, p: int, q: int, seed: int, candidates: int, projections: int
                     ) -> np.ndarray:
    """The grouping direction u: for each of ``projections`` seeds, the best-of-``candidates`` u of
    Theorem 3.1's step 0 (``choose_projection``); keep the one whose max-min partition has the
    largest smallest boundary gap relative to the float mass max_i Σ_j |u_j x_ij| — the quantity a
    gate's rounding is measured against (departure from
    design G4L's first version, which scores min gap / range)."""
    best, best_score = None, -1.0
    mass_x = np.abs(X)
    for k in range(max(1, projections)):
        u = choose_projection(X, seed=seed + 7919 * k, candidates=candidates)
        c = np.sort(X @ u)
        if len(c) > 1 and not np.all(np.diff(c) > 0):
            continue
        b = maxmin_groups(c, p, q)
        gmin = float(np.min(c[b[1:-1]] - c[b[1:-1] - 1])) if len(b) > 2 else 1.0
        score = gmin / float(np.max(mass_x @ np.abs(u)) + np.max(np.abs(c)))
        if score > best_score:
            best, best_score = u, score
    return best if best is not None else choose_projection(X, seed=seed, candidates=candidates)


def _directions(groups: list[np.ndarray], seed: int, starts: int, rounds: int, workers: int | None,
                norm: str = "mass") -> list[tuple[np.ndarray, float]]:
    """Every group's carrier (one HiGHS LP per round and group); groups are independent, so with
    ``workers`` > 1 (default: 2 once there are ≥ 10⁵ points) they are solved in worker processes.
    Each group has its own seeded generator, so the result does not depend on ``workers``."""
    jobs = [(g, seed, j, starts, rounds, norm) for j, g in enumerate(groups)]
    n = sum(len(g) for g in groups)
    w = workers if workers is not None else (min(2, os.cpu_count() or 1) if n >= 100_000 else 1)
    if w <= 1 or len(groups) < 8:
        return [_direction_job(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=w) as ex:
        return list(ex.map(_direction_job, jobs, chunksize=max(1, len(jobs) // (8 * w))))


def _direction_job(job: tuple[np.ndarray, int, int, int, int, str]) -> tuple[np.ndarray, float]:
    Xg, seed, j, starts, rounds, norm = job
    # one LP round for large groups (the second rarely pays: build time at N = 10⁶)
    return _group_direction(Xg, np.random.default_rng([seed + 1, j]), starts,
                            rounds if len(Xg) <= 256 else min(rounds, 1), norm)


def _group_direction(Xg: np.ndarray, rng: np.random.Generator, starts: int, rounds: int,
                     norm: str = "mass") -> tuple[np.ndarray, float]:
    """Layer-1 weights (w, b) of the carrier t_j = w^T x + b ∈ ≈[1/2, 3/2] on the group, rounded to
    float32 (docs/precision.md: round directions first, then build exactly on what is stored)."""
    n = Xg.shape[0]
    if n == 1:
        return np.zeros(Xg.shape[1]), 1.0
    v = lp_direction(Xg, rng, starts, rounds, norm)
    pr = Xg @ v
    lo, hi = float(pr.min()), float(pr.max())
    if not (math.isfinite(hi - lo) and hi - lo > 0):
        raise NeedsExactArithmetic(
            f"the group's {n} points all project to {lo!r} along its carrier direction in float64 "
            "(their coordinates differ below float64's resolution of the projection): use "
            "arithmetic='exact'")
    w = (v / (hi - lo)).astype(np.float32).astype(np.float64)
    b = float(np.float32(0.5 - lo / (hi - lo)))
    t = np.sort(Xg @ w + b)
    if not np.all(np.diff(t) > 0):  # float32 rounding merged two points: keep float64 weights
        w, b = v / (hi - lo), 0.5 - lo / (hi - lo)
    return w, b


@register(
    "twoproj-5layer",
    theorem="design G4L + exact clip (two projections, exact ReLU gating)",
    condition="p·q ≥ N: p groups along u, each of ≤ q points (q even) resolved along its own "
              "LP-optimized direction",
    sizes="widths (3p-2, 2p, d_y·q, d_y·q), p ≈ 1.1·N/q, q = 32 to N = 2¹⁶ then ≈ √N/2; dense ≈ "
          "6(p/q)N + 3N, non-zeros ≈ 2N + 3p(d_x+1)",
    size_formula=twoproj_sizes,
    break_condition=_break,
    options=(*group_options("32 up to N = 2¹⁶, then ≈ √N/2", "each group's direction LP"),
             Option("workers", int, None, "worker processes for the LPs (default 2 from N = 10⁵)", low=1),
             Option("lp_norm", str, "mass", "the LP's normalisation", choices=("mass", "range")),
             Option("projections", int, 4, "seeds tried for the grouping direction u", low=1),
             ACTIVATION.with_default("relu", "relu only"),
             WIDTHS.with_default(None, "hidden widths (3p-2, 2p, d_y·q, d_y·q) fixing p and q")),
)
def twoproj_five_layer(ds: Any, arithmetic: str = "float64", q: int | None = None,
                       p: int | None = None, slack: float = SLACK, margin: float = 0.25,
                       seed: int = 0, candidates: int = 20, lp_starts: int = 5, lp_rounds: int = 3,
                       workers: int | None = None, lp_norm: str = "mass", projections: int = 4,
                       activation: Any = "relu", widths: Any = None) -> Construction:
    """G4L + exact clip (design G4L + exact clip, docs/precision.md): a 5-layer ReLU network, widths
    (3p-2, 2p, q, q), memorizing N points when p·q ≥ N.

    1. Group the points along c = u^T x (largest-gap boundaries, 10 % slack).
    2. Per group j an LP-optimized direction v_j and carrier t_j(x) = (v_j^T x - lo_j)/(hi_j - lo_j)
       + 1/2 (weights rounded to float32 first).
    3. Layer 1: gates e+_j, e-_{j+1} = relu(±(c - a - G/3 ...)/(G/3)) around every boundary gap and
       carriers τ_j = relu(t_j). Layer 2: r_j = relu(τ_j - M_j(e-_j + e+_j)), r'_j = relu(2 - τ_j -
       M_j(...)): exactly t_j and 2 - t_j on group j, exactly 0 elsewhere (pre-activation ≤ -1).
    4. Layer 3: ρ_k = relu(g_k + 1) with g_k = (B_jk + A_jk/2) r_j + (A_jk/2) r'_j = A_jk + B_jk t
       (D3's alternating design in t). Layer 4: s_k = relu(2 - ρ_k). Output (q-1) - Σ_k s_k.
       Saturated units give exactly 0 or 2, so only the designated unit carries rounding error.

    The 2p×3p layer-2 block is stored sparse (CSR) in float64 and dense with exact zeros in exact
    arithmetic (``Network.nonzeros`` counts its ≤ 3 non-zeros per row; sound float bounds use the zeros).

    Long: the steps are helpers; what remains is the assembly of the five layers and the certificate.
    """
    t0 = time.perf_counter()
    if as_activation(activation) != RELU:
        raise ConditionError("twoproj-5layer is a plain ReLU construction (exact-zero gates); "
                             f"activation {activation} is not supported: use activation='relu'")
    F = Field(arithmetic)
    N, d_x, d_y = ds.N, ds.d_x, ds.d_y
    if widths is not None:
        p, q = _from_widths(widths, N, d_y)
    p, q = _pq(N, q, p, slack)
    u = _gate_projection(ds.X, p, q, seed, candidates, projections)
    order, c = sorted_projection(ds, F, u)
    Yt, scale, center, rescaled = (None, None, None, False)
    Yt = F.array(ds.targets)
    _, scale, center, rescaled = rescale_targets(ds.targets.astype(np.float64))
    if rescaled:
        Yt = (Yt - F.array(center)) / F.array(scale)
    bounds = maxmin_groups(c, p, q)
    p_width, p = p, len(bounds) - 1  # groups used (≤ p); unused slots become idle units
    Xs = ds.X[order]
    Xf = F.array(ds.X)[order] if F.exact else Xs
    Ys = Yt[order]
    xmax = float(np.max(np.abs(ds.X)))
    # ---- per-group carriers (steps 2, 3) ----
    Wc, bc, t_sorted = _carriers(Xs, Xf, Ys, bounds, p, d_x, F, seed, lp_starts, lp_rounds, workers, lp_norm)
    # gate weights M_j = 2·max(3, max_i τ_j(x_i) + 2) (τ bounded cheaply by ||w||_1 max|x| + |b|):
    # an open gate (value ≥ 1 exactly) still closes r_j, r'_j with margin ≥ 1 when float rounding
    # has cost it up to 1/2
    M = 2 * np.maximum(3.0, np.ceil(np.abs(Wc).sum(axis=1) * xmax + np.abs(bc) + 2))
    W1, b1 = _gate_layer(ds.X, u, c, bounds, Wc, bc, F)
    W2, b2 = _select_layer(p, M, F)
    W3, b3, W4, b4, W5, b5 = _clip_layers(t_sorted, q, d_y, p, margin, F)
    out = Dense(W5, b5, IDENTITY)
    if rescaled:
        out = affine_output(out, F.array(scale), F.array(center))
    layers = [Dense(W1, b1, RELU), Dense(W2, b2, RELU), Dense(W3, b3, RELU), Dense(W4, b4, RELU), out]
    layers = pad_units(layers, 0, 3 * p_width - 2, F)
    layers = pad_units(layers, 1, 2 * p_width, F)
    if not F.exact:  # the ≤ 3-per-row layer-2 block and the clip/output layers stored sparse when smaller
        layers = [layers[0], *(Dense(sparse_if_smaller(L.weight), L.bias, L.activation) for L in layers[1:])]
    net = Network(layers, meta={mk.METHOD: "twoproj-5layer", mk.ACTIVATION: "relu"})
    notes = [f"{p} groups (of {p_width} slots) of ≤ {q} points along u, boundaries maximizing the "
             f"smallest boundary gap (best of {candidates} integer directions); "
             f"per-group LP directions (HiGHS, {lp_starts} starts, ≤ {lp_rounds} rounds) rounded to "
             "float32",
             f"dense parameters {net.parameters}, stored {net.stored_parameters}, non-zeros "
             f"{net.nonzeros} (the 2p×3p layer-2 block has ≤ 3 non-zeros per row"
             + ("; stored dense with exact zeros in exact arithmetic)" if F.exact else "; stored sparse)")]
    if rescaled:
        notes.append("targets outside [-1, 1] rescaled per output; the last layer undoes it")
    if ds.task == "classification":
        notes.append("classification fit as one-hot targets; certified by margin > 0")
    cert = g4l_certificate("twoproj-5layer", "design G4L + exact clip", REF, F, N, p, q, margin, notes)
    return Construction(net, cert, {"p": p, "q": q, "u": u.tolist(), "margin": margin,
                                    "build_seconds": time.perf_counter() - t0})


def _carriers(Xs: np.ndarray, Xf: np.ndarray, Ys: np.ndarray, bounds: Any, p: int, d_x: int, F: Field,
              seed: int, lp_starts: int, lp_rounds: int, workers: int | None, lp_norm: str
              ) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Step 2: per group j the LP-optimized carrier t_j(x) = w_j·x + b_j (float32 weights), checked
    to separate the group's points inside (0, 2); returns (W_c, b_c, per group: t sorted, targets)."""
    Wc = np.zeros((p, d_x))
    bc = np.zeros(p)
    t_sorted = []  # per group: points re-sorted by t
    if lp_norm not in ("mass", "range"):
        raise ValueError(f"lp_norm must be 'mass' or 'range' (the plain range LP), got {lp_norm!r}")
    dirs = _directions([Xs[bounds[j]:bounds[j + 1]] for j in range(p)], seed, lp_starts, lp_rounds,
                       workers, lp_norm)
    for j in range(p):
        s, e = bounds[j], bounds[j + 1]
        Wc[j], bc[j] = dirs[j]
        tj = Xf[s:e] @ F.array(Wc[j]) + F.const(bc[j])
        ordj = np.argsort(np.asarray(tj, dtype=np.float64), kind="stable")
        if F.exact:
            ordj = np.array(sorted(range(e - s), key=lambda i, tj=tj: tj[i]), dtype=int)
        tj = tj[ordj]
        if e - s > 1 and not np.all(tj[1:] - tj[:-1] > 0):
            if F.exact:
                raise ConstructionError(f"group {j}: the carrier direction does not separate its points")
            # in float64 two of the group's carriers coincide: exact arithmetic may still separate them
            raise NeedsExactArithmetic(f"group {j}: the carrier direction does not separate its points in "
                                       "float64: use arithmetic='exact'")
        if not (np.all(tj > 0) and np.all(tj < 2)):
            raise ConstructionError(f"group {j}: carrier values leave (0, 2)")
        t_sorted.append((tj, Ys[s:e][ordj]))
    return Wc, bc, t_sorted


def _gate_layer(X: np.ndarray, u: np.ndarray, c: np.ndarray, bounds: Any, Wc: np.ndarray, bc: np.ndarray,
                F: Field) -> tuple[np.ndarray, np.ndarray]:
    """Step 3, layer 1: the gates e+_j, e-_{j+1} around every boundary gap, then the carriers τ_j."""
    # The first version put the two gate thresholds at a + G/3 and a + 2G/3; we put both at the middle
    # a + G/2 (e+ = relu((c - a - G/2)/(G/2)), e- = relu((a + G/2 - c)/(G/2))): still ≤ -1 on the
    # closed side and ≥ 1 on the open side, with 1.5x more room for the rounding of u^T x.
    uf = F.array(u)
    xabs = np.max(np.abs(X), axis=0)
    rows_W, rows_b = [], []
    for i in bounds[1:-1]:
        a, G = c[i - 1], c[i] - c[i - 1]
        s2 = F.const(2) / G
        w, b0 = uf * s2, -a * s2
        if not F.exact:
            # store float32-representable gate weights when their rounding moves the pre-activation
            # by < 1/8 (margin 1): exact float32 weights make the float32 bound cheaper and tighter
            w32, b32 = w.astype(np.float32).astype(np.float64), float(np.float32(b0))
            if (np.abs(w) @ xabs + abs(b0)) * 2.0**-23 < 0.125:
                w, b0 = w32, b32
        rows_W += [w, -w]           # e+_j, e-_{j+1}
        rows_b += [b0 - F.const(1), -b0 + F.const(1)]
    rows_W += [F.array(w) for w in Wc]
    rows_b += [F.const(float(b)) for b in bc]
    W1 = np.stack(rows_W)
    b1 = F.array(np.array(rows_b, dtype=object)) if F.exact else np.array(rows_b, dtype=float)
    return W1, b1


def _select_layer(p: int, M: np.ndarray, F: Field) -> tuple[np.ndarray, np.ndarray]:
    """Step 3, layer 2: r_j = relu(τ_j - M_j(e-_j + e+_j)), r'_j = relu(2 - τ_j - M_j(...))."""
    W2 = F.zeros((2 * p, 3 * p - 2))
    b2 = F.zeros(2 * p)
    for j in range(p):
        tau = 2 * (p - 1) + j
        W2[2 * j, tau] = F.const(1)
        W2[2 * j + 1, tau] = F.const(-1)
        b2[2 * j + 1] = F.const(2)
        for col in ([2 * (j - 1) + 1] if j > 0 else []) + ([2 * j] if j < p - 1 else []):
            W2[2 * j, col] = F.const(-M[j])
            W2[2 * j + 1, col] = F.const(-M[j])
    return W2, b2


def _clip_layers(t_sorted: list[tuple[np.ndarray, np.ndarray]], q: int, d_y: int, p: int, margin: float,
                 F: Field) -> tuple[np.ndarray, ...]:
    """Step 4, layers 3-5: ρ_k = relu(g_k + 1) with D3's alternating design in t per output
    coordinate, s_k = relu(2 - ρ_k), output (q-1) - Σ_k s_k. Returns (W3, b3, W4, b4, W5, b5)."""
    T, Yp, _ = _pad_t(t_sorted, q, F)
    W3 = F.zeros((d_y * q, 2 * p))
    m = F.const(margin)
    for t in range(d_y):
        A, B = ht_design(T, Yp[:, :, t], m, F)  # (p, q)
        W3[t * q:(t + 1) * q, 0::2] = (B + A / 2).T
        W3[t * q:(t + 1) * q, 1::2] = (A / 2).T
    b3 = F.array(np.ones(d_y * q))
    W4 = F.array(-np.eye(d_y * q))
    b4 = F.array(np.full(d_y * q, 2.0))
    W5 = F.zeros((d_y, d_y * q))
    for t in range(d_y):
        W5[t, t * q:(t + 1) * q] = F.const(-1)
    b5 = F.array(np.full(d_y, q - 1.0))
    return W3, b3, W4, b4, W5, b5


def _pad_t(t_sorted: list[tuple[np.ndarray, np.ndarray]], q: int, F: Field
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vals = np.concatenate([t for t, _ in t_sorted])
    Y = np.concatenate([y for _, y in t_sorted], axis=0)
    bounds = np.cumsum([0] + [len(t) for t, _ in t_sorted])
    return pad_groups(vals, Y, bounds, q, F, fallback_gap=F.const(1) / q)
