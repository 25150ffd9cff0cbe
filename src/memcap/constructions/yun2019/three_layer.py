"""Theorem 3.1 of Yun, Sra & Jadbabaie (2019): the 3-layer memorizer (App. B).

Each public function builds one theorem's network with the paper's symbols (p, q, I_k, ν, μ, α).
Where the paper is wrong or silent the code says so, citing docs/errata.md.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import (
    Certificate,
    Condition,
    ConditionError,
    Construction,
    Field,
    register,
)
from memcap.constructions.gadgets import affine_output, hardtanh_to_relu_like, pad_units
from memcap.constructions.options import ACTIVATION, CANDIDATES, MARGIN, SEED, WIDTHS
from memcap.data.dataset import Dataset
from memcap.errors import NeedsExactArithmetic
from memcap.network import HARDTANH, IDENTITY, Activation, Dense, Network, as_activation
from memcap.theory.yun2019 import three_layer_free_integers, three_layer_minimal_widths

__all__ = ["three_layer", "three_layer_sizes", "choose_projection", "rescale_targets", "thm31_block"]

REFERENCE = "Yun, Sra & Jadbabaie (2019), Theorem 3.1; proof in Appendix B"


# ---- shared steps -------------------------------------------------------------------------------
def choose_projection(X: np.ndarray, seed: int = 0, candidates: int = 20) -> np.ndarray:
    """Step 0 (App. B.2): a direction u with all u^T x_i distinct.

    The paper takes any random u. We draw
    ``candidates`` small random *integer* vectors (so weights stay exact rationals of the data) and
    keep the one maximizing min consecutive gap / range of the projections: 3-4 bits less weight
    growth than a single random u.
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    best, best_score = None, -1.0
    for _ in range(max(1, candidates)):
        u = rng.integers(-(2**20), 2**20, size=d).astype(np.float64)
        if not np.any(u):
            continue
        c = np.sort(X @ u)
        rng_c = c[-1] - c[0]
        score = float(np.min(np.diff(c)) / rng_c) if n > 1 and rng_c > 0 else 1.0
        if score > best_score:
            best, best_score = u, score
    assert best is not None
    return best


def rescale_targets(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Map targets into [-1, 1] per output (Assumption 3.1) when they are not already there.

    Returns ``(Y', scale, center, rescaled)`` with ``Y = scale * Y' + center``.
    """
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    if np.all(lo >= -1) and np.all(hi <= 1):
        return Y, np.ones(Y.shape[1]), np.zeros(Y.shape[1]), False
    center = (hi + lo) / 2
    scale = (hi - lo) / 2
    scale[scale == 0] = 1.0
    # the exact affine map is applied by the caller in its field; here only the floats
    return (Y - center) / scale, scale, center, True


def thm31_block(cx: np.ndarray, Y: np.ndarray, p: int, q: int, F: Field, margin: float = 0.25,
                boundary: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Theorem 3.1's hard-tanh layers 1-2 (App. B.2-B.3) for one sorted chunk of projections.

    ``cx`` holds ``c_0 < c_1 < ... < c_n < c_{n+1}`` (n = p·q, virtual points included; ``c_0`` and
    ``c_{n+1}`` are the neighbours: the adjacent points of other chunks or δ-extensions); ``Y`` is
    (n, d_y) with targets in [-1, 1]. Returns ``(w1, b1, W2, b2, info)``: layer-1 pre-activations
    ``w1·c + b1`` (p units, scalar input c), layer-2 pre-activations ``W2 a1 + b2`` (d_y·q units,
    coordinate-major). For every chunk point, the q layer-2 hard-tanh outputs of coordinate t sum to
    ``y_t + 1`` (App. B.4).

    ``boundary=True`` is memcap's boundary variant (erratum YSJ-12): the smallest
    gaps of group 1 and group p also include the distances of ``c_1`` and ``c_n`` to the saturation
    points, so that for every ``c <= c_0`` or ``c >= c_{n+1}`` the layer-2 units output -1 (odd k)
    / +1 (even k) and each coordinate sums to exactly 0 (App. E's claim, which needs this and q
    even). Only groups 1 and p matter: below the chunk ``z2_k = y_{i_k,1} - W2[k,1](1 + a_1)`` and
    above it ``z2_k = y_{i_k,p} + W2[k,p](s_p - a_p)``, so the earlier rule "include the end gaps in every
    g_j" is more than needed (and makes weights larger); we include them for j = 1 and j = p only.
    """
    c = cx[1:-1]
    d_y = Y.shape[1]
    # Step 1 (App. B.2): layer 1 splits the sorted points into p groups of q.
    j = np.arange(1, p + 1)
    lo, hi = (j - 1) * q, j * q
    D = cx[hi] + cx[hi + 1] - cx[lo] - cx[lo + 1]
    S = cx[hi] + cx[hi + 1] + cx[lo] + cx[lo + 1]
    sgn = F.array((-1.0) ** (j - 1))  # s_j = (-1)^{j-1}
    w1 = sgn * 4 / D
    b1 = -sgn * S / D
    # a1_j at the points of group j: (-1)^{j-1} (4c - S_j)/D_j, strictly inside (-1, 1)
    cg = c.reshape(p, q)
    a1 = sgn[:, None] * (cg * 4 - S[:, None]) / D[:, None]  # (p, q)
    # T_j = 2/g_j with g_j the smallest in-group gap of a1_j (the paper only
    # says "large enough α").
    g = (cg[:, 1:] - cg[:, :-1]).min(axis=1) * 4 / D if q > 1 else F.array(np.full(p, 2.0))
    if boundary:  # distances of c_1 and c_n to saturation, in a1 units: 2(c_1-c_0)/D_1, 2(c_{n+1}-c_n)/D_p
        g = g.copy()
        g[0] = min(g[0], 2 * (cx[1] - cx[0]) / D[0])
        g[-1] = min(g[-1], 2 * (cx[-1] - cx[-2]) / D[-1])
    T = (1 + F.const(margin)) * 2 / g

    # Step 2 (App. B.3): I_k picks point (j-1)q + k (j odd) or jq + 1 - k (j even) of group j.
    k = np.arange(1, q + 1)
    pos = np.where((j % 2 == 1)[None, :], k[:, None] - 1, q - k[:, None])  # (q, p) in-group index
    A = a1[j[None, :] - 1, pos]  # a_j for unit k: (q, p)
    s = sgn[None, :]
    # ν: closed form of the null vector of M_k (App. H), all ν_1..ν_p > 0 (Lemma B.1(2)).
    r = (s[:, :-1] - A[:, :-1]) / (s[:, :-1] - A[:, 1:])  # ratios, > 0
    nu = np.concatenate([F.array(np.ones((q, 1))), np.cumprod(r, axis=1)], axis=1)
    nu_b = -((s[:, :-1] * nu[:, :-1]).sum(axis=1) + A[:, -1] * nu[:, -1])
    idx = (j[None, :] - 1) * q + pos  # sorted index of i_{k,j}
    layers2_W, layers2_b = [], []
    for t in range(d_y):
        y = Y[:, t][idx]  # (q, p)
        # μ: particular solution with μ_1 = 0, from subtracting consecutive rows (App. H):
        # μ_{j+1} = r_j μ_j + (y_j - y_{j+1})/(s_j - a_{j+1})  ⇒  μ = ν · cumsum(B/ν).
        B = (y[:, :-1] - y[:, 1:]) / (s[:, :-1] - A[:, 1:])
        mu = nu * np.concatenate([F.zeros((q, 1)), np.cumsum(B / nu[:, 1:], axis=1)], axis=1)
        mu_b = y[:, -1] - (s[:, :-1] * mu[:, :-1]).sum(axis=1) - A[:, -1] * mu[:, -1]
        # α: the smallest |α| making |W2[k,j]| ≥ (1+m) T_j for every j, W2 > 0 for odd k and < 0
        # for even k. Because ν > 0 this α minimizes every |W2[k,j]| at once.
        up = ((T[None, :] - mu) / nu).max(axis=1)
        down = ((-T[None, :] - mu) / nu).min(axis=1)
        alpha = np.where(k % 2 == 1, up, down)
        layers2_W.append(mu + alpha[:, None] * nu)
        layers2_b.append(mu_b + alpha * nu_b)
    W2 = np.concatenate(layers2_W, axis=0)  # (d_y q, p)
    b2 = np.concatenate(layers2_b)

    return w1, b1, W2, b2, {"nu": nu, "T": T}


def sorted_projection(ds: Dataset, F: Field, seed: int = 0, candidates: int = 20
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any]:
    """Step 0 of App. B.2: project on ``u`` (best of ``candidates`` random integer directions), sort.

    Returns ``(u, u in the field, order, c sorted, δ = smallest gap)``. A tie along u (possible in
    float64 for distinct points closer than float64 resolves) raises :class:`ConditionError` naming
    the points and ``arithmetic='exact'`` (``memcap.construct`` then escalates).
    """
    N = ds.N
    u = choose_projection(ds.X, seed=seed, candidates=candidates)
    uf = F.array(u)
    c_all = F.array(ds.X) @ uf
    order = np.argsort(np.asarray(c_all, dtype=np.float64), kind="stable")
    if F.exact:
        order = np.array(sorted(range(N), key=lambda i: c_all[i]))
    c = c_all[order]
    gaps = c[1:] - c[:-1]
    if N > 1 and not np.all(gaps > 0):
        i = int(np.argmin(gaps))
        raise NeedsExactArithmetic(
            f"points {order[i]} and {order[i + 1]} project to the same value u^T x; they are distinct "
            "but closer than float64 resolves along u: use arithmetic='exact'"
        )
    delta = np.min(gaps) if N > 1 else F.const(1)
    return u, uf, order, c, delta


def _condition(N: int, d1: int, d2: int, d_y: int, activation: Activation) -> Condition:
    k = 2 if activation.kind == "hardtanh" else 4
    lhs = 4 * (d1 // k) * (d2 // (k * d_y))
    stmt = (f"4·⌊d1/{k}⌋·⌊d2/({k}·d_y)⌋ ≥ N"
            + (" (hard-tanh)" if k == 2 else " (ReLU-like)"))
    return Condition(stmt, {"d1": d1, "d2": d2, "d_y": d_y, "lhs": lhs, "N": N}, lhs >= N)


def three_layer_sizes(ds: Dataset, widths: tuple[int, int] | None = None,
                      activation: str | Activation = "relu", **_: Any) -> dict[str, Any]:
    """Sizes of :func:`three_layer` without building: widths and P = d1(dx+1) + d2(d1+1) + dy(d2+1)."""
    act = as_activation(activation)
    d1, d2 = widths or three_layer_minimal_widths(ds.N, ds.d_y, act, ds.d_x)
    return {"widths": [d1, d2], "depth": 3,
            "parameters": d1 * (ds.d_x + 1) + d2 * (d1 + 1) + ds.d_y * (d2 + 1)}


def _three_layer_break(ds: Dataset, activation: str = "relu", **_: Any) -> dict[str, Any]:
    """Widths one unit short: keep d1, take the largest d2 whose condition fails (d2 + 1 passes)."""
    act = as_activation(activation)
    d1, _ = three_layer_minimal_widths(ds.N, ds.d_y, act, ds.d_x)
    k = 2 if act.kind == "hardtanh" else 4
    m = -(-ds.N // (4 * (d1 // k)))  # smallest ⌊d2/(k·dy)⌋ that passes
    return {"widths": (d1, k * ds.d_y * m - 1), "activation": activation}


# ---- Theorem 3.1 -----------------------------------------------------------------------------------
@register(
    "yun-3layer",
    theorem="Yun et al. 2019, Theorem 3.1",
    condition="hard-tanh: 4⌊d1/2⌋⌊d2/(2dy)⌋ ≥ N; ReLU-like: 4⌊d1/4⌋⌊d2/(4dy)⌋ ≥ N",
    sizes="widths (2p, 2·dy·q) ReLU-like or (p, dy·q) hard-tanh, pq ≥ N; ≈ 4√(N·dy) hidden neurons",
    size_formula=three_layer_sizes,
    break_condition=_three_layer_break,
    options=(WIDTHS, ACTIVATION, MARGIN, SEED, CANDIDATES),
)
def three_layer(ds: Dataset, widths: tuple[int, int] | None = None, activation: str | Activation = "relu",
                arithmetic: str = "float64", margin: float = 0.25, seed: int = 0,
                candidates: int = 20) -> Construction:
    """Theorem 3.1 (Yun et al. 2019; proof App. B): a 3-layer network memorizing any N distinct
    points with targets in [-1, 1]^{d_y} when

    * hard-tanh: ``4⌊d1/2⌋⌊d2/(2 d_y)⌋ ≥ N``;
    * ReLU-like: ``4⌊d1/4⌋⌊d2/(4 d_y)⌋ ≥ N``.

    Targets outside [-1, 1] are rescaled per output and the last layer undoes the scaling (stated in
    the certificate). Classification data are fit as one-hot targets. ``widths=None`` picks the
    fewest hidden neurons the condition allows. ``margin`` (memcap's m) pushes clipped
    points ``margin·T_j`` past the hard-tanh knees, which float evaluation needs; m = 0 is exact.
    Runs in O(N·d_x + N log N + N·d_y) after the projection; no dense linear algebra.
    """
    t0 = time.perf_counter()
    F = Field(arithmetic)
    act = as_activation(activation)
    if act.kind == "identity":
        raise ConditionError("Theorem 3.1 needs a hard-tanh or ReLU-like activation, not identity")
    d_y = ds.d_y
    d1, d2, cond = _checked_widths(ds, widths, act)
    p, q = three_layer_free_integers(d1, d2, d_y, act)
    n = p * q
    u, uf, cx, Y, scale, center, rescaled = _projected_targets(ds, F, n, seed, candidates)

    # Steps 1-2 (App. B.2-B.3): the hard-tanh layers 1-2 on the scalar c (shared with Prop. 3.4).
    w1, b1, W2, b2, binfo = thm31_block(cx, Y, p, q, F, margin=margin)
    W1 = w1[:, None] * uf[None, :]
    nu = binfo["nu"]

    # Step 3 (App. B.4, B.5): output = Σ_k a2_k − 1 per coordinate; undo the target scaling.
    W3 = np.kron(np.eye(d_y), np.ones((1, q)))
    out = Dense(F.array(W3), F.array(-np.ones(d_y)), IDENTITY)
    if rescaled:
        out = affine_output(out, F.array(scale), F.array(center))
    layers = [Dense(W1, b1, HARDTANH), Dense(W2, b2, HARDTANH), out]
    layers = hardtanh_to_relu_like(layers, act, F)
    layers = pad_units(layers, 0, d1, F)
    layers = pad_units(layers, 1, d2, F)
    net = Network(layers, meta={mk.METHOD: "yun-3layer", mk.ACTIVATION: act.name})
    cert = _certificate(ds, F, cond, n, rescaled, scale, center, seed, candidates)
    info: dict[str, Any] = {
        "p": p, "q": q, "u": u.tolist(), "margin": margin, "activation": act.name,
        "build_seconds": time.perf_counter() - t0,
        "nu_spread": float(np.max(np.asarray(nu, dtype=float)) / np.min(np.asarray(nu, dtype=float))),
    }
    return Construction(net, cert, info)


def _checked_widths(ds: Dataset, widths: Any, act: Activation) -> tuple[int, int, Condition]:
    """(d1, d2) given or the fewest the condition allows, and the checked condition; refuses otherwise."""
    N, d_y, d_x = ds.N, ds.d_y, ds.d_x
    if widths is None:
        widths = three_layer_minimal_widths(N, d_y, act, d_x)
    if len(widths) != 2:
        raise ConditionError(f"Theorem 3.1 builds two hidden layers: give two widths d1,d2 (e.g. "
                             f"{','.join(map(str, three_layer_minimal_widths(N, d_y, act, d_x)))}); "
                             f"got {list(widths)}")
    d1, d2 = (int(w) for w in widths)
    cond = _condition(N, d1, d2, d_y, act)
    if not cond.holds:
        need = three_layer_minimal_widths(N, d_y, act, d_x)
        raise ConditionError(
            f"widths ({d1}, {d2}) are too small for Theorem 3.1 with N={N}, d_y={d_y}: "
            f"{cond.statement} gives {cond.values['lhs']} < {N}. The smallest widths allowed are "
            f"{need} (or any with 4·⌊d1/k⌋·⌊d2/(k·d_y)⌋ ≥ N)"
        )
    return d1, d2, cond


def _projected_targets(ds: Dataset, F: Field, n: int, seed: int, candidates: int) -> tuple[Any, ...]:
    """Step 0: project, sort, pad to n = p·q points. Returns (u, u in the field, c_0 .. c_{n+1},
    targets in sorted order (rescaled into [-1, 1]), scale, center, rescaled)."""
    N, d_y = ds.N, ds.d_y
    u, uf, order, c, delta = sorted_projection(ds, F, seed, candidates)
    Yt = F.array(ds.targets)
    Yf, scale, center, rescaled = rescale_targets(ds.targets.astype(np.float64))
    if rescaled:
        Yt = (Yt - F.array(center)) / F.array(scale)
    Y = Yt[order]
    if n > N:  # virtual points c_N + s·δ with target 0 (no x needed)
        c = np.concatenate([c, c[-1] + delta * F.array(np.arange(1, n - N + 1))])
        Y = np.concatenate([Y, F.zeros((n - N, d_y))])
    cx = np.concatenate([[c[0] - delta], c, [c[-1] + delta]])  # c_0 .. c_{n+1}
    return u, uf, cx, Y, scale, center, rescaled


def _certificate(ds: Dataset, F: Field, cond: Condition, n: int, rescaled: bool, scale: Any, center: Any,
                 seed: int, candidates: int) -> Certificate:
    N = ds.N
    notes = [f"projection u: best of {candidates} random integer directions (seed {seed})"]
    if rescaled:
        notes.append(
            "targets outside [-1, 1] were rescaled per output into [-1, 1] (Assumption 3.1) and the "
            f"last layer undoes it: y = scale·y' + center, scale={scale.tolist()}, "
            f"center={center.tolist()}"
        )
    if ds.task == "classification":
        notes.append("classification data fit as one-hot targets (Prop. 3.2's 4-layer classifier is "
                     "the method yun-classifier)")
    if n > N:
        notes.append(f"{n - N} virtual points padded after the last projection (target 0)")
    return Certificate(
        method="yun-3layer",
        theorem="Theorem 3.1",
        reference=REFERENCE,
        conditions=[
            Condition("x_i distinct (Assumption 3.1)", {"N": N}, True),
            cond,
        ],
        guarantees=[
            "f(x_i) = y_i for every i in exact arithmetic of the stated weights"
            if F.exact else
            "f(x_i) = y_i for every i for the ideal weights; the stored float64 weights are certified "
            "by memcap.verify to within its tolerance",
        ],
        arithmetic=F.name,
        notes=notes,
    )
