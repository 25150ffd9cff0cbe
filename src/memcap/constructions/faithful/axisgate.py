"""``axisgate-5layer``: two projections with exact ReLU gating (design G4L + exact clip clip),
built sparse, with gates along one *coordinate axis* when that resolves the groups, per-group carriers
from a least-squares equal-spacing solve, and classification through one coded output.

Why not twoproj-5layer: its gates are rows of a dense projection u (d_x + 1 weights each) whose float32
rounding, γ_{d+1}·Σ|u_i x_i|, outgrows the boundary gaps beyond N ≈ 6.5·10⁴; its per-group carriers
come from one HiGHS LP per group (the build time at 10⁵ points); its 2p×3p layer-2 block is stored
dense; and classes become d_y one-hot outputs (d_y copies of the q·2p layer-3 block). Here:

* a gate along axis k computes w·x_k + b: one product and one addition, rounding ≈ 3u·(|w x_k|+|b|)
  instead of γ_{d+1}·mass, so boundary gaps of a few units in the last place of x_k suffice. The
  axis (or, when no axis resolves the groups — ties, discrete features — twoproj's integer projection
  u) is chosen by smallest boundary gap / float rounding scale;
* a group of n ≤ d_x + 1 points gets the minimum-norm solution of v^T x_i + b = 1/2 + r_i/(n-1)
  (ranks r_i along the group's first principal direction): exactly equal spacing, no LP; groups the
  solve cannot space well (n > d_x + 1, ill-conditioned) fall back to twoproj's LP;
* every mostly-zero block is stored sparse (scipy CSR): gates 1 non-zero, layer 2 ≤ 3 per row, the
  clip layer diagonal, so stored parameters ≈ 2.2·N + 37·p (d_x = 32) against dense ≈ 6(p/q)N;
* classification with C ≥ 2 classes fits ONE coded output f(x_i) = v_{y_i}, v_c = -1 + 2c/(C-1), and
  decodes logits_c = -|f - v_c| = -(relu(f - v_c) + relu(v_c - f)) in three small layers: margin
  2/(C-1) - 2|f - v_y| > 0 whenever the float error stays below 1/(C-1). One copy of layer 3 instead
  of C, and a tolerance 100× looser than regression's 1e-3, so q can be larger.
"""

from __future__ import annotations

import math
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
    maxmin_groups,
)
from memcap.constructions.faithful.twoproj import _group_direction, _pad_t
from memcap.constructions.options import ACTIVATION, Option
from memcap.constructions.yun2019.three_layer import choose_projection, rescale_targets
from memcap.network import IDENTITY, RELU, Activation, Dense, Network, sparse_if_smaller

__all__ = ["axisgate_five_layer", "axisgate_sizes", "axisgate_default_q"]

REF = "memcap design G4L + exact clip (docs/precision.md), axis gates"
U32 = 2.0**-24
SAFE = 4.0  # a gate direction is safe when its smallest boundary gap is ≥ 4× its rounding scale


def axisgate_default_q(N: int, task: str, d_x: int = 32) -> int:
    """q = 16 for regression (float32 error ≈ u·q^1.5–2 against tolerance 1e-3); for classification
    (tolerance 1/(C-1)) q = 2·round(clip(0.3·d_x, 16, 32)) — 32 at d_x ≤ 53, 38 at 64, 64 from
    d_x = 107 on — so the least-squares carriers (n ≤ q points in d_x dimensions) stay well
    conditioned and the carrier's γ_{d+1} rounding times the slope ≈ 2.5·q stays far below 1/(C-1).
    Never more than 2⌈N/2⌉."""
    q = 2 * round(min(32.0, max(16.0, 0.3 * d_x))) if task == "classification" else 16
    return max(2, min(q, 2 * math.ceil(N / 2)))


def _coded(ds: Any) -> bool:
    return ds.task == "classification" and ds.d_y >= 2


def _pq(ds: Any, q: int | None, p: int | None, slack: float) -> tuple[int, int]:
    qq = axisgate_default_q(ds.N, ds.task, ds.d_x) if q is None else int(q)
    if qq < 2 or qq % 2:
        raise ConditionError(f"q must be an even number ≥ 2, got {qq}")
    pp = groups_for(ds.N, qq, slack) if p is None else min(int(p), ds.N)
    if pp < 1 or pp * qq < ds.N:
        raise ConditionError(
            f"axisgate-5layer needs p·q ≥ N (p groups of at most q points): p={pp}, q={qq} give "
            f"{pp * qq} < N = {ds.N}; use p ≥ {math.ceil(ds.N / qq)}")
    return pp, qq


def axisgate_sizes(ds: Any, q: int | None = None, p: int | None = None, slack: float = SLACK,
                   **_: Any) -> dict[str, Any]:
    """Widths (3p-2, 2p, e·q, e·q) + (1, 2C for C ≥ 2 classes, coded: e = 1; regression e = d_y);
    dense P = (3p-2)(d_x+1) + 2p(3p-1) + e·q(2p+1) + e·q(e·q+1) + output (d_y(e·q+1), or
    (q+1) + 4C + C(2C+1)). ``stored`` is an upper bound on the stored values (gates counted dense)."""
    pp, qq = _pq(ds, q, p, slack)
    dx, dy = ds.d_x, ds.d_y
    e = 1 if _coded(ds) else dy
    w = [3 * pp - 2, 2 * pp, e * qq, e * qq]
    P = w[0] * (dx + 1) + w[1] * (w[0] + 1) + w[2] * (w[1] + 1) + w[3] * (w[2] + 1)
    X = np.asarray(ds.X)
    g = 5 if X.size and np.all(X == np.round(X)) else 1  # weights per gate row (see _choose_gates)
    stored = 2 * (pp - 1) * (g + 1) + pp * (dx + 1) + 8 * pp + e * qq * (2 * pp + 1) + 2 * e * qq
    if _coded(ds):
        w += [1, 2 * dy]
        P += (w[3] + 1) + 2 * dy * 2 + dy * (2 * dy + 1)
        stored += qq + 1 + 4 * dy + 3 * dy
    else:
        P += dy * (w[3] + 1)
        stored += dy * (qq + 1)
    return {"widths": w, "depth": len(w) + 1, "parameters": P, "stored": stored}


def _break(ds: Any, **_: Any) -> dict[str, Any]:
    _, qq = _pq(ds, None, None, SLACK)
    pb = math.ceil(ds.N / qq) - 1
    return {"q": qq, "p": max(pb, 0)}


# ---- gate direction ------------------------------------------------------------------------------
def _score(ds: Any, u: np.ndarray, p: int, q: int, scale: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """(order, sorted c, bounds, smallest boundary gap / scale) of the max-min partition along u."""
    c64 = ds.X @ u
    order = np.argsort(c64, kind="stable")
    cs = c64[order]
    if ds.N <= q:
        return order, cs, np.array([0, ds.N]), math.inf
    if np.count_nonzero(np.diff(cs) > 0) < math.ceil(ds.N / q) - 1:
        return None
    try:
        b = maxmin_groups(cs, p, q)
    except ConditionError:
        return None
    gmin = float(np.min(cs[b[1:-1]] - cs[b[1:-1] - 1])) if len(b) > 2 else math.inf
    return (order, cs, b, gmin / scale) if gmin > 0 else None


def _gate_candidates(X: np.ndarray, seed: int, candidates: int, with_projection: bool = True
                     ) -> list[tuple[str, np.ndarray, float]]:
    """(kind, direction, rounding scale of one gate's u^T x in float32): the axes with the most distinct
    values, a sparse integer code of axes (integer features), and (``with_projection``) the best dense
    integer projection."""
    N, d = X.shape
    out: list[tuple[str, np.ndarray, float]] = []
    if N > 1:
        distinct = np.array([len(np.unique(X[:, k])) if d <= 64 else 0 for k in range(d)])
        if d > 64:  # rank axes cheaply by the spread of their values relative to their magnitude
            distinct = (np.std(X, axis=0) / (np.max(np.abs(X), axis=0) + 1e-300) * 1e6).astype(int)
        for k in np.argsort(-distinct, kind="stable")[:4]:
            if distinct[k] <= 1:
                continue
            e = np.zeros(d)
            e[k] = 1.0
            out.append(("axis", e, 8 * U32 * float(np.max(np.abs(X[:, k])) + 1e-300)))
        radix = _radix_projection(X, distinct)
        if radix is not None:
            mass = float(np.max(np.abs(X) @ np.abs(radix)))
            out.append(("radix", radix, 4 * (np.count_nonzero(radix) + 1) * U32 * mass))
    if with_projection:
        u = choose_projection(X, seed=seed, candidates=candidates)
        mass = float(np.max(np.abs(X) @ np.abs(u)))
        out.append(("projection", u, 4 * (d + 1) * U32 * mass))
    return out


def _radix_projection(X: np.ndarray, rank: np.ndarray, most: int = 5) -> np.ndarray | None:
    """For integer-valued features (pixels, counts): u = Σ_k R_k e_{a_k}, R_k the product of the
    previous axes' value ranges, so u^T x is an injective integer code of those coordinates, exact
    in float32 (kept below 2^18, so a gate's rounding stays well below its unit gap), and a sparse
    gate (a few weights instead of d_x). Axes are added greedily (most distinct codes, among the
    12 highest-ranked). None when the features are not small integers."""
    N, d = X.shape
    if not np.all(np.isfinite(X)) or not np.all(X == np.round(X)):
        return None
    pool = [int(k) for k in np.argsort(-rank, kind="stable")[:12] if np.ptp(X[:, k]) > 0]
    u = np.zeros(d)
    R, code = 1.0, np.zeros(N)
    for _ in range(most):
        best_k, best_n = None, len(np.unique(code))
        for k in pool:
            lo, hi = float(X[:, k].min()), float(X[:, k].max())
            if u[k] or R * (hi - lo + 1) * max(abs(lo), abs(hi), 1.0) >= 2.0**18:
                continue
            n = len(np.unique(code + R * (X[:, k] - lo)))
            if n > best_n:
                best_k, best_n = k, n
        if best_k is None:
            break
        lo, hi = float(X[:, best_k].min()), float(X[:, best_k].max())
        u[best_k] = R
        code = code + R * (X[:, best_k] - lo)
        R *= hi - lo + 1
    return u if np.count_nonzero(u) >= 2 else None


def _choose_gates(ds: Any, F: Field, p: int, q: int, seed: int, candidates: int, gate: str
                  ) -> tuple[str, np.ndarray, np.ndarray, Any, np.ndarray, float]:
    """(kind, u, order, sorted c, group bounds, score): among the directions whose max-min partition
    has a smallest boundary gap ≥ ``SAFE`` × the gate's float32 rounding scale (≈ the bound's
    γ·mass of one gate row), the sparsest (fewest gate weights); when none is that safe, the one
    with the largest ratio."""
    best: tuple[str, np.ndarray, np.ndarray, Any, np.ndarray, float] | None = None
    safe: list[tuple[str, np.ndarray, np.ndarray, Any, np.ndarray, float]] = []
    cands = _gate_candidates(ds.X, seed, candidates, with_projection=gate in ("projection",))
    if gate in ("axis", "projection", "radix"):
        cands = [c for c in cands if c[0] == gate] or cands
    for kind, u, scale in cands:  # sparsest first: the first safe one is the answer
        if safe:
            break
        got = _score(ds, u, p, q, scale)
        if got is None:
            continue
        order, cs, b, score = got
        if best is None or score > best[5]:
            best = (kind, u, order, cs, b, score)
        if score >= SAFE:
            safe.append((kind, u, order, cs, b, score))
    if not safe and gate == "auto":  # no sparse gate is safe: try the dense integer projection
        u = choose_projection(ds.X, seed=seed, candidates=candidates)
        mass = float(np.max(np.abs(ds.X) @ np.abs(u)))
        got = _score(ds, u, p, q, 4 * (ds.d_x + 1) * U32 * mass)
        if got is not None and (best is None or got[3] > best[5]):
            best = ("projection", u, *got)
    if safe:
        best = min(safe, key=lambda t: (np.count_nonzero(t[1]), -t[5]))
    if best is None:
        raise ConditionError("no gate direction separates the points into groups (ties along every "
                             "candidate axis and projection)")
    kind, u, _, _, b, score = best
    order, c = _project(ds, F, u)
    if F.exact or len(b) <= 2:
        cn = np.asarray(c, dtype=np.float64)
        b = maxmin_groups(cn, p, q) if len(cn) > q else np.array([0, ds.N])
    return kind, u, order, c, b, score


def _project(ds: Any, F: Field, u: np.ndarray) -> tuple[np.ndarray, Any]:
    """(order, c sorted) with c = u^T x in the field; ties are allowed (they stay inside groups: the
    partition puts boundaries only at positive gaps)."""
    c_all = F.array(ds.X) @ F.array(u)
    order = np.argsort(np.asarray(c_all, dtype=np.float64), kind="stable")
    if F.exact:
        order = np.array(sorted(range(ds.N), key=lambda i: c_all[i]), dtype=int)
    return order, c_all[order]


# ---- carriers ------------------------------------------------------------------------------------
def _spacing_direction(Xg: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Minimum-norm (v, b) with v^T x_i + b = 1/2 + r_i/(n-1), ranks r_i along the group's first
    principal direction; rounded to float32. None when n > d + 1 or the rounded carrier does not keep
    the points apart inside (0, 2)."""
    n, d = Xg.shape
    if n == 1:
        return np.zeros(d), 1.0
    if n > d + 1:
        return None
    mu = Xg.mean(axis=0)
    Z = Xg - mu
    try:
        _, _, Vt = np.linalg.svd(Z, full_matrices=False)
        t = np.empty(n)
        t[np.argsort(Z @ Vt[0], kind="stable")] = 0.5 + np.arange(n) / (n - 1)
        v = np.linalg.lstsq(Z, t - 1.0, rcond=None)[0]
    except np.linalg.LinAlgError:
        return None
    w = v.astype(np.float32).astype(np.float64)
    b = float(np.float32(1.0 - float(mu @ v)))
    tt = np.sort(Xg @ w + b)
    if not (np.all(np.diff(tt) > 0) and tt[0] > 0 and tt[-1] < 2):
        return None
    return w, b


def _carrier_quality(Xg: np.ndarray, w: np.ndarray, b: float) -> float:
    """Float32 rounding scale of the carrier (γ_{d+1}·max mass) over its smallest gap: lower is better."""
    n, d = Xg.shape
    if n == 1:
        return 0.0
    tt = np.sort(Xg @ w + b)
    mass = float(np.max(np.abs(Xg) @ np.abs(w))) + abs(b)
    return (d + 1) * U32 * mass / float(np.min(np.diff(tt)))


def _spacing_batch(groups: list[np.ndarray]) -> list[tuple[np.ndarray, float] | None]:
    """:func:`_spacing_direction` for many groups at once (batched SVD per group size); the same
    rule, vectorized."""
    out: list[tuple[np.ndarray, float] | None] = [None] * len(groups)
    sizes: dict[int, list[int]] = {}
    for j, g in enumerate(groups):
        sizes.setdefault(len(g), []).append(j)
    for n, js in sizes.items():
        d = groups[js[0]].shape[1]
        if n <= 2 or n > d + 1:
            for j in js:
                out[j] = _spacing_direction(groups[j])
            continue
        Xs = np.stack([groups[j] for j in js])              # (G, n, d)
        mu = Xs.mean(axis=1, keepdims=True)
        Z = Xs - mu
        try:
            _, _, Vt = np.linalg.svd(Z, full_matrices=False)
            pc = np.einsum("gnd,gd->gn", Z, Vt[:, 0, :])
            ranks = np.argsort(np.argsort(pc, axis=1, kind="stable"), axis=1)
            t = 0.5 + ranks / (n - 1)
            V = np.einsum("gdn,gn->gd", np.linalg.pinv(Z), t - 1.0)
        except np.linalg.LinAlgError:
            for j in js:
                out[j] = _spacing_direction(groups[j])
            continue
        W = V.astype(np.float32).astype(np.float64)
        B = (1.0 - np.einsum("gd,gd->g", mu[:, 0, :], V)).astype(np.float32).astype(np.float64)
        T = np.sort(np.einsum("gnd,gd->gn", Xs, W) + B[:, None], axis=1)
        ok = np.all(np.diff(T, axis=1) > 0, axis=1) & (T[:, 0] > 0) & (T[:, -1] < 2)
        for k, j in enumerate(js):
            out[j] = (W[k], float(B[k])) if ok[k] else None
    return out


def _carriers(groups: list[np.ndarray], seed: int, lp_starts: int, lp_rounds: int, limit: float = 2e-3
              ) -> tuple[list[tuple[np.ndarray, float]], int]:
    """Every group's carrier (w, b); returns them and how many came from the LP fallback (groups
    whose least-squares carrier has rounding scale / gap ≥ ``limit``)."""
    out, lp = [], 0
    first = _spacing_batch(groups)
    for j, Xg in enumerate(groups):
        got = first[j]
        if got is not None and _carrier_quality(Xg, *got) < limit:
            out.append(got)
            continue
        lp += 1
        alt = _group_direction(Xg, np.random.default_rng([seed + 1, j]), lp_starts, lp_rounds)
        if got is not None and _carrier_quality(Xg, *got) <= _carrier_quality(Xg, *alt):
            alt = got
        out.append(alt)
    return out, lp


# ---- assembling sparse layers --------------------------------------------------------------------
class _Block:
    """Entries (row, col, value) of one weight matrix, assembled as CSR (float64) or dense (exact)."""

    def __init__(self, shape: tuple[int, int], F: Field) -> None:
        self.shape, self.F = shape, F
        self.rows: list[Any] = []
        self.cols: list[Any] = []
        self.vals: list[Any] = []

    def add(self, r: Any, c: Any, v: Any) -> None:
        self.rows.append(np.atleast_1d(np.asarray(r, dtype=np.int64)))
        self.cols.append(np.atleast_1d(np.asarray(c, dtype=np.int64)))
        vv = np.asarray(v, dtype=object if self.F.exact else np.float64)
        self.vals.append(np.broadcast_to(vv, self.rows[-1].shape) if vv.ndim == 0 else vv.ravel())

    def build(self) -> Any:
        r = np.concatenate(self.rows) if self.rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(self.cols) if self.cols else np.zeros(0, dtype=np.int64)
        if self.F.exact:
            W = self.F.zeros(self.shape)
            for i, j, v in zip(r, c, np.concatenate(self.vals) if self.vals else [], strict=True):
                W[i, j] = W[i, j] + v
            return W
        from scipy import sparse

        v = np.concatenate(self.vals) if self.vals else np.zeros(0)
        return sparse_if_smaller(sparse.csr_matrix((v, (r, c)), shape=self.shape))


@register(
    "axisgate-5layer",
    theorem="design G4L + exact clip, sparse, axis gates, least-squares carriers, "
            "coded classes",
    condition="p·q ≥ N: p groups (gates along one coordinate axis, or an integer projection) of ≤ q "
              "points (q even), each resolved along its own carrier",
    sizes="widths (3p-2, 2p, e·q, e·q) [+ 1, 2C], p ≈ 1.1·N/q, q = 16 (regression) / 32 (classes), "
          "e = d_y or 1 (C classes coded); stored ≈ 2.2·e·N + (d_x + 5)·p (sparse)",
    size_formula=axisgate_sizes,
    break_condition=_break,
    options=(*group_options("16 regression, 32 classes", "a carrier's fallback LP"),
             Option("gate_direction", str, "auto", "gate direction: auto, axis, projection or radix",
                    choices=("auto", "axis", "projection", "radix")),
             ACTIVATION.with_default("relu", "relu only")),
)
def axisgate_five_layer(ds: Any, arithmetic: str = "float64", q: int | None = None,
                        p: int | None = None, slack: float = SLACK, margin: float = 0.25,
                        seed: int = 0, candidates: int = 20, lp_starts: int = 5, lp_rounds: int = 3,
                        gate_direction: str = "auto", activation: Any = "relu") -> Construction:
    """G4L + exact clip with sparse blocks (see the module docstring): a ReLU network of widths
    (3p-2, 2p, e·q, e·q) [+ (1, 2C) coded-class decoder] memorizing N distinct points when p·q ≥ N.

    1. Group the points along c = x_k (the axis, or integer projection u, whose max-min partition has
       the largest boundary gap relative to the gate's float32 rounding;
       ``gate_direction="axis"|"projection"``
       forces one).
    2. Per group a carrier t_j(x) = w_j^T x + b_j ∈ (0, 2) (least-squares equal spacing, LP fallback),
       weights rounded to float32 and the construction built on what is stored.
    3. Layer 1: gates e+_j = relu((c - a - G/2)/(G/2)), e-_{j+1} mirrored, around every boundary gap
       (a, a + G), and carriers τ_j = relu(t_j). Layer 2: r_j = relu(τ_j - M_j(e-_j + e+_j)),
       r'_j = relu(2 - τ_j - M_j(...)): t_j and 2 - t_j on group j, exactly 0 elsewhere.
    4. Layer 3: ρ_k = relu(1 + (B_jk + A_jk/2) r_j + (A_jk/2) r'_j) (alternating design in t);
       layer 4: s_k = relu(2 - ρ_k); output (q-1) - Σ_k s_k, or the coded-class decoder
       φ = relu(f + 2), h±_c = relu(±(φ - 2 - v_c)), logits_c = -(h+_c + h-_c).

    Exact in rational arithmetic (``arithmetic="exact"``: dense object weights).

    Long: the design's steps (grouping, carriers, gates, clip, coded outputs) share the group index
    arrays; each step is a helper, the assembly stays here.
    """
    gate = gate_direction  # (not the gate gadget of Yun et al.: which direction the groups follow)
    t0 = time.perf_counter()
    if (Activation.parse(activation) if isinstance(activation, str) else activation) != RELU:
        raise ConditionError("axisgate-5layer is a plain ReLU construction (exact-zero gates); "
                             f"activation {activation} is not supported: use activation='relu'")
    if gate not in ("auto", "axis", "projection", "radix"):
        raise ConditionError(f"gate must be 'auto', 'axis', 'radix' or 'projection', got {gate!r}")
    F = Field(arithmetic)
    N, d_x, d_y = ds.N, ds.d_x, ds.d_y
    coded = _coded(ds)
    p_width, q = _pq(ds, q, p, slack)
    # ---- targets ----
    if coded:
        codes = np.array([F.const(-1) + F.const(2) * F.const(c) / F.const(d_y - 1) for c in range(d_y)],
                         dtype=object if F.exact else np.float64)
        Yt = codes[np.asarray(ds.labels)].reshape(N, 1)
        e_out, rescaled, scale, center = 1, False, None, None
    else:
        Yt = F.array(ds.targets)
        _, scale, center, rescaled = rescale_targets(ds.targets.astype(np.float64))
        if rescaled:
            Yt = (Yt - F.array(center)) / F.array(scale)
        e_out = d_y
    kind, u, order, c, bounds, gate_score = _choose_gates(ds, F, p_width, q, seed, candidates, gate)
    p = len(bounds) - 1
    Xs = ds.X[order]
    Xf = F.array(ds.X)[order] if F.exact else Xs
    Ys = Yt[order]
    xmax = float(np.max(np.abs(ds.X)))
    # ---- carriers ----
    # the LP fallback threshold scales with the error budget: 1e-3 (regression), 1/(C-1) (classes)
    limit = 2e-3 * (1e3 / (d_y - 1) if coded else 1.0)
    dirs, n_lp = _carriers([Xs[bounds[j]:bounds[j + 1]] for j in range(p)], seed, lp_starts, lp_rounds,
                           limit)
    Wc = np.array([w for w, _ in dirs])
    bc = np.array([b for _, b in dirs])
    t_sorted = []
    for j in range(p):
        s, e = bounds[j], bounds[j + 1]
        tj = Xf[s:e] @ F.array(Wc[j]) + F.const(bc[j])
        ordj = np.argsort(np.asarray(tj, dtype=np.float64), kind="stable")
        if F.exact:
            ordj = np.array(sorted(range(e - s), key=lambda i, tj=tj: tj[i]), dtype=int)
        tj = tj[ordj]
        if e - s > 1 and not np.all(tj[1:] - tj[:-1] > 0):
            raise ConstructionError(f"group {j}: the carrier does not separate its points")
        if not (np.all(tj > 0) and np.all(tj < 2)):
            raise ConstructionError(f"group {j}: carrier values leave (0, 2)")
        t_sorted.append((tj, Ys[s:e][ordj]))
    M = 2 * np.maximum(3.0, np.ceil(np.abs(Wc).sum(axis=1) * xmax + np.abs(bc) + 2))
    # ---- layer 1: gates (rows 0 .. 2(p-1)-1), idle gate rows, carriers from row 2(p_width-1) ----
    w1 = 3 * p_width - 2
    L1 = _Block((w1, d_x), F)
    b1 = F.zeros(w1)
    uf = F.array(u)
    nz = np.flatnonzero(u)
    xabs = np.max(np.abs(ds.X), axis=0)
    for i_b, i in enumerate(bounds[1:-1]):
        a, G = c[i - 1], c[i] - c[i - 1]
        s2 = F.const(2) / G
        w, b0 = uf[nz] * s2, -a * s2
        if not F.exact:
            w32, b32 = w.astype(np.float32).astype(np.float64), float(np.float32(b0))
            if (np.abs(w) @ xabs[nz] + abs(b0)) * 2.0**-23 < 0.125:
                w, b0 = w32, b32
        L1.add(np.full(len(nz), 2 * i_b), nz, w)
        L1.add(np.full(len(nz), 2 * i_b + 1), nz, -w)
        b1[2 * i_b], b1[2 * i_b + 1] = b0 - F.const(1), -b0 + F.const(1)
    tau0 = 2 * (p_width - 1)
    for j in range(p):
        cols = np.flatnonzero(Wc[j])
        L1.add(np.full(len(cols), tau0 + j), cols, F.array(Wc[j][cols]))
        b1[tau0 + j] = F.const(float(bc[j]))
    # ---- layer 2: r_j = row 2j, r'_j = row 2j+1 ----
    L2 = _Block((2 * p_width, w1), F)
    b2 = F.zeros(2 * p_width)
    one = F.const(1)
    for j in range(p):
        L2.add([2 * j, 2 * j + 1], [tau0 + j, tau0 + j], np.array([one, -one],
                                                                  dtype=object if F.exact else float))
        b2[2 * j + 1] = F.const(2)
        for col in ([2 * (j - 1) + 1] if j > 0 else []) + ([2 * j] if j < p - 1 else []):
            L2.add([2 * j, 2 * j + 1], [col, col], F.const(-M[j]))
    # ---- layer 3: the alternating design in t (per output, or the one coded output) ----
    T, Yp, _ = _pad_t(t_sorted, q, F)
    L3 = _Block((e_out * q, 2 * p_width), F)
    m = F.const(margin)
    cols_r = 2 * np.arange(p)
    for t in range(e_out):
        A, B = ht_design(T, Yp[:, :, t], m, F)  # (p, q)
        for k in range(q):
            L3.add(np.full(p, t * q + k), cols_r, B[:, k] + A[:, k] / 2)
            L3.add(np.full(p, t * q + k), cols_r + 1, A[:, k] / 2)
    b3 = F.array(np.ones(e_out * q))
    L4 = _Block((e_out * q, e_out * q), F)
    L4.add(np.arange(e_out * q), np.arange(e_out * q), -one)
    b4 = F.array(np.full(e_out * q, 2.0))
    layers = [Dense(L1.build(), b1, RELU), Dense(L2.build(), b2, RELU), Dense(L3.build(), b3, RELU),
              Dense(L4.build(), b4, RELU)]
    if coded:
        # φ = relu(f + 2) = f + 2 ≥ 1 with f = (q-1) - Σ_k s_k ∈ [-1, 1]; h±_c = relu(±(φ - 2 - v_c));
        # logits_c = -(h+_c + h-_c) = -|f - v_c|
        L5 = _Block((1, q), F)
        L5.add(np.zeros(q), np.arange(q), -one)
        L6 = _Block((2 * d_y, 1), F)
        L6.add(np.arange(2 * d_y), np.zeros(2 * d_y), np.tile(np.array([one, -one], dtype=object
                                                                          if F.exact else float), d_y))
        b6 = F.zeros(2 * d_y)
        for cl in range(d_y):
            b6[2 * cl] = -F.const(2) - codes[cl]
            b6[2 * cl + 1] = F.const(2) + codes[cl]
        L7 = _Block((d_y, 2 * d_y), F)
        L7.add(np.repeat(np.arange(d_y), 2), np.arange(2 * d_y), -one)
        layers += [Dense(L5.build(), F.array(np.array([q + 1.0])), RELU), Dense(L6.build(), b6, RELU),
                   Dense(L7.build(), F.zeros(d_y), IDENTITY)]
    else:
        L5 = _Block((d_y, d_y * q), F)
        sc = F.array(scale) if rescaled else F.array(np.ones(d_y))
        ce = F.array(center) if rescaled else F.zeros(d_y)
        for t in range(d_y):
            L5.add(np.full(q, t), t * q + np.arange(q), -sc[t])
        b5 = sc * F.const(q - 1) + ce
        layers.append(Dense(L5.build(), b5, IDENTITY))
    net = Network(layers, meta={mk.METHOD: "axisgate-5layer", mk.ACTIVATION: "relu"})
    notes = [f"{p} groups (of {p_width} slots) of ≤ {q} points along "
             + (f"axis {int(np.flatnonzero(u)[0])}" if kind == "axis" else
                f"an integer code of axes {np.flatnonzero(u).tolist()}" if kind == "radix"
                else "an integer projection")
             + f" (smallest boundary gap / gate rounding scale {gate_score:.3g}); carriers: "
             f"{p - n_lp} least-squares equal spacing, {n_lp} LP (HiGHS), rounded to float32",
             f"stored parameters {net.stored_parameters} ({sum(la.sparse for la in layers)} sparse "
             f"layers), dense {net.parameters}, non-zeros {net.nonzeros}"]
    if coded:
        notes.append(f"{d_y} classes coded as one output v_c = -1 + 2c/{d_y - 1} and decoded as "
                     "logits -|f - v_c|: certified by margin > 0")
    elif rescaled:
        notes.append("targets outside [-1, 1] rescaled per output; the last layer undoes it")
    cert = g4l_certificate("axisgate-5layer", "design G4L + exact clip, axis gates, sparse", REF, F, N,
                           p, q, margin, notes)
    return Construction(net, cert, {"p": p, "q": q, "gate": kind, "u": u.tolist(), "margin": margin,
                                    "lp_groups": n_lp, "build_seconds": time.perf_counter() - t0})
