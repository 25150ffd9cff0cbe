"""Precision-faithful memorizers beyond the papers (memcap's designs, docs/precision.md).

* ``decoupled-3layer`` (design D3): Theorem 3.1's size class without the layer-2 chain;
* ``twoproj-5layer`` (design G4L + exact clip): group along u, resolve each group along its own
  LP-optimized direction behind exactly-zero ReLU gates, then an exact clipping stage; the
  construction that is float32-faithful for tens of thousands of points;
* ``zigzag-3layer`` (design D3-zz): 3 ReLU layers with d1·d2 ≈ 2N (half of Theorem 3.1's 4N).

Each function builds one network; the certificate states the exact-arithmetic guarantee and
:func:`memcap.verify` / :mod:`memcap.certify.precision` certify what float32 / float64 evaluation does.
"""

from __future__ import annotations

import math
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
from memcap.constructions.faithful.common import (
    SLACK,
    default_q,
    groups_for,
    ht_design,
    join_pieces,
    knot_layer,
    pad_groups,
    sorted_projection,
    split_groups,
    zigzag_design,
)
from memcap.constructions.gadgets import affine_output, pad_units
from memcap.constructions.options import ACTIVATION, CANDIDATES, MARGIN, SEED, WIDTHS, Option
from memcap.constructions.yun2019.three_layer import choose_projection, rescale_targets
from memcap.network import IDENTITY, RELU, Dense, Network, as_activation

__all__ = ["decoupled_three_layer", "zigzag_three_layer", "twoproj_five_layer",
           "decoupled_sizes", "zigzag_sizes", "twoproj_sizes", "zigzag_minimal_widths"]

REF = "memcap designs beyond Yun, Sra & Jadbabaie 2019, Thm 3.1 (docs/precision.md)"


# ---- shared plumbing ----------------------------------------------------------------------------
def require_relu(method: str, activation: Any) -> None:
    """These constructions are plain-ReLU designs (exact zeros of inactive units): refuse others."""
    act = as_activation(activation)
    if act != RELU:
        raise ConditionError(f"{method} is a plain ReLU construction (inactive units must output exactly "
                             f"0); activation {act.name} is not supported: use activation='relu'")


def _targets(ds: Any, F: Field) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    Yt = F.array(ds.targets)
    _, scale, center, rescaled = rescale_targets(ds.targets.astype(np.float64))
    if rescaled:
        Yt = (Yt - F.array(center)) / F.array(scale)
    return Yt, scale, center, rescaled


def _notes(ds: Any, rescaled: bool, scale: np.ndarray, center: np.ndarray) -> list[str]:
    notes = []
    if rescaled:
        notes.append("targets outside [-1, 1] rescaled per output into [-1, 1]; the last layer undoes "
                     f"it: y = scale·y' + center, scale={scale.tolist()}, center={center.tolist()}")
    if ds.task == "classification":
        notes.append("classification fit as one-hot targets (d_y = number of classes); certified by "
                     "margin > 0")
    return notes


def _knot_units(u: np.ndarray, kap: np.ndarray, R: Any, F: Field) -> Dense:
    uf = F.array(u)
    W1 = np.stack([uf / R] * len(kap)) if F.exact else np.tile(uf / R, (len(kap), 1))
    return Dense(W1, -kap / R, RELU)


def _output(out: Dense, rescaled: bool, scale: np.ndarray, center: np.ndarray, F: Field) -> Dense:
    return affine_output(out, F.array(scale), F.array(center)) if rescaled else out


def _two_widths(widths: Any, method: str) -> None:
    if len(widths) != 2:
        raise ConditionError(f"{method} builds two hidden layers: give two widths d1,d2; got {list(widths)}")


# ---- decoupled-3layer (design D3) ----------------------------------------------------------------
def _d3_pq(N: int, d_y: int, widths: Any = None, q: int | None = None,
           slack: float = SLACK) -> tuple[int, int, int, int]:
    """(p, q, d1, d2): groups, units per group and output, hidden widths."""
    if widths is not None:
        _two_widths(widths, "decoupled-3layer")
        d1, d2 = (int(w) for w in widths)
        p, qq = (d1 + 1) // 2, 2 * (d2 // (4 * d_y))
        if p * qq < N or qq < 2 or p < 1:
            raise ConditionError(
                f"widths ({d1}, {d2}) break decoupled-3layer's condition ⌊(d1+1)/2⌋·2⌊d2/(4·d_y)⌋ ≥ N: "
                f"{p}·{qq} = {p * qq} < N = {N} (d_y = {d_y}); e.g. widths "
                f"({2 * math.ceil(N / max(qq, 2)) - 1}, {d2 if qq >= 2 else 4 * d_y})")
        return min(p, N), qq, d1, d2
    qq = int(q) if q is not None else default_q(N)
    if qq < 2 or qq % 2:
        raise ConditionError(f"q must be an even number ≥ 2, got {qq}")
    p = groups_for(N, qq, slack)
    return p, qq, 2 * p - 1, 2 * d_y * qq


def decoupled_sizes(ds: Any, widths: Any = None, q: int | None = None, slack: float = SLACK,
                    **_: Any) -> dict[str, Any]:
    """Widths (2p-1, 2·d_y·q) (or the requested ones); P = d1(dx+1) + d2(d1+1) + d_y(d2+1)."""
    _, _, d1, d2 = _d3_pq(ds.N, ds.d_y, widths, q, slack)
    return {"widths": [d1, d2], "depth": 3,
            "parameters": d1 * (ds.d_x + 1) + d2 * (d1 + 1) + ds.d_y * (d2 + 1)}


def _d3_break(ds: Any, **_: Any) -> dict[str, Any]:
    p, q, _, _ = _d3_pq(ds.N, ds.d_y)
    pb = math.ceil(ds.N / q) - 1  # one group short
    return {"widths": (max(2 * pb - 1, 0), 2 * ds.d_y * q)} if pb >= 1 else {"widths": (1, 0)}


@register(
    "decoupled-3layer",
    theorem="design D3 (D3: decoupled layer 2, no ν-chain)",
    condition="⌊(d1+1)/2⌋·2⌊d2/(4·d_y)⌋ ≥ N (p groups of ≤ q points, q even); default 10 % slack",
    sizes="widths (2p-1, 2·d_y·q), p ≈ 1.1·N/q, q ≈ √N; ≈ 4.5–5·N parameters (d_y = 1)",
    size_formula=decoupled_sizes,
    break_condition=_d3_break,
    options=(WIDTHS, Option("q", int, None, "points per group (even; default ≈ √N)", low=2),
             Option("slack", float, SLACK, "extra groups, as a fraction of N/q", low=0),
             MARGIN, SEED, CANDIDATES, ACTIVATION.with_default("relu", "relu only")),
)
def decoupled_three_layer(ds: Any, arithmetic: str = "float64", widths: Any = None,
                          q: int | None = None, slack: float = SLACK, margin: float = 0.25,
                          seed: int = 0, candidates: int = 20, activation: Any = "relu"
                          ) -> Construction:
    """D3 (design D3, docs/precision.md): 3 ReLU layers, widths (2p-1, 2q) with p·q ≥ N.

    Layer 1 has two ReLU knots in every inter-group gap (group boundaries at the largest gap of a
    window, 10 % slack), so each layer-2 unit gets an *independent* affine piece on every group: no
    chain of ratios as in Theorem 3.1's layer-2 solve. Layer 2 holds per group q alternating units
    (hard-tanh as ReLU pairs) that put one point each on its target and saturate with margin m at
    the others; output Σ_k [relu(g_k+1) - relu(g_k-1)] - (q+1). Exact in rational arithmetic.
    """
    t0 = time.perf_counter()
    require_relu("decoupled-3layer", activation)
    F = Field(arithmetic)
    N, d_y = ds.N, ds.d_y
    p, q, d1, d2 = _d3_pq(N, d_y, widths, q, slack)
    u = choose_projection(ds.X, seed=seed, candidates=candidates)
    order, c = sorted_projection(ds, F, u)
    Yt, scale, center, rescaled = _targets(ds, F)
    Y = Yt[order]
    bounds = split_groups(c, p, q)
    kap, R = knot_layer(c, bounds, F)
    T, Yp, _ = pad_groups(c, Y, bounds, q, F, fallback_gap=R / N)
    m = F.const(margin)
    Ws, bs = [], []
    for t in range(d_y):
        A, B = ht_design(T, Yp[:, :, t], m, F)
        W, b = join_pieces(A, B, kap, R, F)
        Ws += [np.repeat(W, 2, axis=0)]
        bb = np.repeat(b, 2)
        bb[0::2] = bb[0::2] + F.const(1)
        bb[1::2] = bb[1::2] - F.const(1)
        bs += [bb]
    W2, b2 = np.concatenate(Ws, axis=0), np.concatenate(bs)
    W3 = F.zeros((d_y, 2 * d_y * q))
    for t in range(d_y):
        W3[t, 2 * q * t:2 * q * (t + 1):2] = F.const(1)
        W3[t, 2 * q * t + 1:2 * q * (t + 1):2] = F.const(-1)
    b3 = F.array(np.full(d_y, -(q + 1.0)))
    layers = [_knot_units(u, kap, R, F), Dense(W2, b2, RELU),
              _output(Dense(W3, b3, IDENTITY), rescaled, scale, center, F)]
    layers = pad_units(layers, 0, d1, F)
    layers = pad_units(layers, 1, d2, F)
    net = Network(layers, meta={mk.METHOD: "decoupled-3layer", mk.ACTIVATION: "relu"})
    cond = Condition("⌊(d1+1)/2⌋·2⌊d2/(4·d_y)⌋ ≥ N", {"d1": d1, "d2": d2, "p": (d1 + 1) // 2, "q": q,
                                                      "N": N}, True)
    cert = Certificate(
        "decoupled-3layer", "design D3 (D3)", REF,
        [Condition("x_i distinct", {"N": N}, True), cond],
        ["f(x_i) = y_i for every i in exact arithmetic of the stated weights" if F.exact else
         "f(x_i) = y_i up to the rounding of the construction to float64 (bounded by the verifier)"],
        F.name,
        _notes(ds, rescaled, scale, center) + [
            f"{p} groups of ≤ {q} points, boundaries at the largest gap in ±0.15·q windows",
            "measured float64 error ≤ 1e-3 to N ≈ 2.6·10⁵ (4.3e-4 at 262144), but the any-order "
            "float64 certificate holds only to N ≈ 4·10³; no single-projection design is float32-faithful "
            "beyond N ≈ 10³"],
    )
    return Construction(net, cert, {"p": p, "q": q, "u": u.tolist(), "margin": margin,
                                    "build_seconds": time.perf_counter() - t0})


# ---- zigzag-3layer (design D3-zz) ---------------------------------------------------------------------
def zigzag_minimal_widths(N: int, d_y: int = 1) -> tuple[int, int]:
    """Fewest hidden neurons (d1 + d2) with ⌊(d1+1)/2⌋·2⌊d2/(2d_y)⌋ ≥ N (ties: fewer parameters)."""
    best: tuple[int, int, int, int] | None = None
    for Q in range(2, 2 * N + 3, 2):
        p = max(1, math.ceil(N / Q))
        d1, d2 = 2 * p - 1, d_y * Q
        key = (d1 + d2, d1 * d2)
        if best is None or key < best[:2]:
            best = (key[0], key[1], d1, d2)
        if p == 1:
            break
    assert best is not None
    return best[2], best[3]


def _zz_pQ(N: int, d_y: int, widths: Any = None) -> tuple[int, int, int, int]:
    if widths is not None:
        _two_widths(widths, "zigzag-3layer")
    d1, d2 = (int(w) for w in (widths if widths is not None else zigzag_minimal_widths(N, d_y)))
    p, Q = (d1 + 1) // 2, 2 * (d2 // (2 * d_y))
    if p * Q < N or p < 1 or Q < 2:
        ok = zigzag_minimal_widths(N, d_y)
        raise ConditionError(
            f"widths ({d1}, {d2}) break zigzag-3layer's condition ⌊(d1+1)/2⌋·2⌊d2/(2·d_y)⌋ ≥ N: "
            f"{p}·{Q} = {p * Q} < N = {N} (d_y = {d_y}); the smallest widths allowed are {ok}")
    return min(p, N), Q, d1, d2


def zigzag_sizes(ds: Any, widths: Any = None, **_: Any) -> dict[str, Any]:
    """Widths (d1, d2) (default: fewest neurons with ⌊(d1+1)/2⌋·2⌊d2/(2d_y)⌋ ≥ N), P = d1(dx+1) +
    d2(d1+1) + d_y(d2+1)."""
    _, _, d1, d2 = _zz_pQ(ds.N, ds.d_y, widths)
    return {"widths": [d1, d2], "depth": 3,
            "parameters": d1 * (ds.d_x + 1) + d2 * (d1 + 1) + ds.d_y * (d2 + 1)}


def _zz_break(ds: Any, **_: Any) -> dict[str, Any]:
    d1, d2 = zigzag_minimal_widths(ds.N, ds.d_y)
    p = (d1 + 1) // 2
    Qb = 2 * ((math.ceil(ds.N / p) - 1) // 2)  # largest even Q with p·Q < N
    return {"widths": (d1, ds.d_y * Qb + 1) if Qb >= 0 else (d1, 0)}


@register(
    "zigzag-3layer",
    theorem="design D3-zz (D3-zz: single-ReLU zigzag, d1·d2 ≈ 2N)",
    condition="⌊(d1+1)/2⌋·2⌊d2/(2·d_y)⌋ ≥ N (ReLU), i.e. d1·d2 ≈ 2N — half of Theorem 3.1's 4N",
    sizes="widths (2p-1, d_y·Q), p·Q ≥ N, Q even; d1·d2 ≤ 2N + O(√N), ≈ 2√(2N) neurons",
    size_formula=zigzag_sizes,
    break_condition=_zz_break,
    options=(WIDTHS, MARGIN, SEED, CANDIDATES, ACTIVATION.with_default("relu", "relu only")),
)
def zigzag_three_layer(ds: Any, arithmetic: str = "float64", widths: Any = None,
                       margin: float = 0.25, seed: int = 0, candidates: int = 20,
                       activation: Any = "relu"
                       ) -> Construction:
    """D3-zz (design D3-zz, docs/precision.md): 3 ReLU layers memorizing N points when ⌊(d1+1)/2⌋·2⌊d2/2⌋ ≥ N.

    Layer 1 is D3's knot layer (p groups, 2p-1 units). Layer 2 has Q single ReLUs, output weights
    +1 (units 1..Q/2) and -1 (the rest): on every group they realise a zigzag interpolant with
    slopes of alternating sign (concave kinks on −1 units, convex kinks on +1 units, a base unit),
    joined across the inter-group gaps as in D3. Exact in rational arithmetic; the best ReLU
    constant known here (a dimension count gives (d1+1)(d2+1) ≥ N as necessary; see
    ``memcap bounds``).
    """
    t0 = time.perf_counter()
    require_relu("zigzag-3layer", activation)
    F = Field(arithmetic)
    N, d_y = ds.N, ds.d_y
    p, Q, d1, d2 = _zz_pQ(N, d_y, widths)
    u = choose_projection(ds.X, seed=seed, candidates=candidates)
    order, c = sorted_projection(ds, F, u)
    Yt, scale, center, rescaled = _targets(ds, F)
    Y = Yt[order]
    bounds = split_groups(c, p, Q)
    kap, R = knot_layer(c, bounds, F)
    T, Yp, n = pad_groups(c, Y, bounds, Q, F, fallback_gap=R / N, virtual_target="repeat")
    m = F.const(margin)
    Ws, bs, bout = [], [], []
    for t in range(d_y):
        b_out = np.min(Yp[:, 0, t]) - F.const(1)
        A, B = zigzag_design(T, Yp[:, :, t], n, m, b_out, R, F)
        W, b = join_pieces(A, B, kap, R, F)
        Ws.append(W)
        bs.append(b)
        bout.append(b_out)
    W2, b2 = np.concatenate(Ws, axis=0), np.concatenate(bs)
    W3 = F.zeros((d_y, d_y * Q))
    for t in range(d_y):
        W3[t, Q * t:Q * t + Q // 2] = F.const(1)
        W3[t, Q * t + Q // 2:Q * (t + 1)] = F.const(-1)
    b3 = F.array(np.array(bout, dtype=object)) if F.exact else np.array(bout, dtype=float)
    layers = [_knot_units(u, kap, R, F), Dense(W2, b2, RELU),
              _output(Dense(W3, b3, IDENTITY), rescaled, scale, center, F)]
    layers = pad_units(layers, 0, d1, F)
    layers = pad_units(layers, 1, d2, F)
    net = Network(layers, meta={mk.METHOD: "zigzag-3layer", mk.ACTIVATION: "relu"})
    cond = Condition("⌊(d1+1)/2⌋·2⌊d2/(2·d_y)⌋ ≥ N", {"d1": d1, "d2": d2, "lhs": p * Q, "N": N}, True)
    cert = Certificate(
        "zigzag-3layer", "design D3-zz (D3-zz)", REF,
        [Condition("x_i distinct", {"N": N}, True), cond],
        ["f(x_i) = y_i for every i in exact arithmetic of the stated weights" if F.exact else
         "f(x_i) = y_i up to the rounding of the construction to float64 (bounded by the verifier)"],
        F.name,
        _notes(ds, rescaled, scale, center) + [
            f"d1·d2 = {d1 * d2} = {d1 * d2 / N:.3g}·N (Theorem 3.1 needs ≈ 4N; the dimension count "
            "(d1+1)(d2+1) ≥ N is necessary)",
            "no exact clip is possible for single ReLUs: float error is larger than D3's"],
    )
    return Construction(net, cert, {"p": p, "Q": Q, "u": u.tolist(), "margin": margin,
                                    "build_seconds": time.perf_counter() - t0})


# ---- twoproj-5layer: in precision_twoproj.py (registered on import) -----------------------------
from memcap.constructions.faithful.twoproj import (  # noqa: E402
    twoproj_five_layer,
    twoproj_sizes,
)
