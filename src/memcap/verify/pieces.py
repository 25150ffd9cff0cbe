"""Exact count of the linear pieces of a network restricted to a line (Yun et al. 2019, App. D).

``f̄(t) = f(x0 + t·u)`` is continuous and piecewise affine for piecewise-linear activations. We
propagate it layer by layer in exact rationals: on each interval between known breakpoints every
unit's pre-activation is affine in t, so it crosses each kink of the activation (0 for ReLU-like,
±1 for hard-tanh) at most once; those crossings are the new breakpoints. Adjacent intervals whose
output maps coincide are merged, so the count is of *maximal* affine pieces.

Theorem 3.3's argument: a function that fits ``y_i = (-1)^i`` at ``x_i = i·u`` changes direction
N - 2 times on [1, N], hence has ≥ N - 1 pieces there. :func:`direction_changes` counts the
direction changes of any value sequence; ``pieces ≥ direction_changes + 1`` on the segment holds for
every network (tested), which is how the piece count bounds the sign patterns a network can fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flint
import numpy as np

from memcap.network import Activation, Dense, Network
from memcap.numerics import to_exact_array

__all__ = ["PieceCount", "count_pieces", "direction_changes", "piece_bound"]


@dataclass
class PieceCount:
    """Maximal affine pieces of ``t -> f(x0 + t u)`` on (lo, hi) (None = unbounded)."""

    pieces: int
    breakpoints: list[flint.fmpq]      # where the output map really changes
    candidate_breakpoints: int          # kink crossings found (upper bound before merging)
    lo: flint.fmpq | None
    hi: flint.fmpq | None


def _kinks(act: Activation) -> list[flint.fmpq]:
    if act.kind == "relu_like":
        return [flint.fmpq(0)]
    if act.kind == "hardtanh":
        return [flint.fmpq(-1), flint.fmpq(1)]
    return []


def _q(v: Any) -> flint.fmpq:
    return to_exact_array(np.asarray([v]))[0]


def _sample(lo: flint.fmpq | None, hi: flint.fmpq | None) -> flint.fmpq:
    if lo is None and hi is None:
        return flint.fmpq(0)
    if lo is None:
        return hi - 1
    if hi is None:
        return lo + 1
    return (lo + hi) / 2


def _act_affine(A: list[flint.fmpq], B: list[flint.fmpq], t: flint.fmpq, act: Activation
                ) -> tuple[list[flint.fmpq], list[flint.fmpq]]:
    """σ applied to the affine z = A + tB on an interval containing t where no kink is crossed."""
    if act.kind == "identity":
        return A, B
    outA, outB = [], []
    sp, sm = _q(act.s_plus), _q(act.s_minus)
    for a, b in zip(A, B, strict=True):
        z = a + t * b
        if act.kind == "hardtanh":
            if z < -1 or z > 1:
                outA.append(flint.fmpq(-1) if z < -1 else flint.fmpq(1))
                outB.append(flint.fmpq(0))
            else:
                outA.append(a)
                outB.append(b)
        else:
            s = sp if z > 0 else sm
            outA.append(s * a)
            outB.append(s * b)
    return outA, outB


def _affine(W: np.ndarray, bias: np.ndarray | None, A: list[Any], B: list[Any]
            ) -> tuple[list[Any], list[Any]]:
    a = W.dot(np.asarray(A, dtype=object))
    b = W.dot(np.asarray(B, dtype=object))
    if bias is not None:
        a = a + bias
    return list(a), list(b)


def _split(intervals: list[tuple[Any, Any, list[Any], list[Any]]], act: Activation
           ) -> list[tuple[Any, Any, list[Any], list[Any]]]:
    """Split intervals at the kink crossings of z = A + tB; apply σ on each piece."""
    kinks = _kinks(act)
    out = []
    for lo, hi, A, B in intervals:
        cuts = set()
        for a, b in zip(A, B, strict=True):
            if b == 0:
                continue
            for k in kinks:
                t = (k - a) / b
                if (lo is None or t > lo) and (hi is None or t < hi):
                    cuts.add(t)
        pts = [lo, *sorted(cuts), hi]
        for s, e in zip(pts[:-1], pts[1:], strict=True):
            a2, b2 = _act_affine(A, B, _sample(s, e), act)
            out.append((s, e, a2, b2))
    return out


def count_pieces(net: Network, x0: Any, u: Any, lo: Any = None, hi: Any = None) -> PieceCount:
    """Exactly count the maximal affine pieces of ``t -> net(x0 + t u)`` for t in (lo, hi).

    Works for Dense and Residual layers with ReLU-like, hard-tanh and identity activations, float64 or
    exact weights (floats are taken as the exact dyadic rationals they are)."""
    x0 = to_exact_array(np.asarray(x0, dtype=object if np.asarray(x0).dtype == object else np.float64))
    u = to_exact_array(np.asarray(u, dtype=object if np.asarray(u).dtype == object else np.float64))
    lo_q = None if lo is None else _q(lo)
    hi_q = None if hi is None else _q(hi)
    intervals: list[tuple[Any, Any, list[Any], list[Any]]] = [(lo_q, hi_q, list(x0), list(u))]
    cand = 0
    for layer in net.layers:
        if isinstance(layer, Dense):
            W, b = to_exact_array(layer.weight), to_exact_array(layer.bias)
            z = [(s, e, *_affine(W, b, A, B)) for s, e, A, B in intervals]
            intervals = _split(z, layer.activation)
        else:
            U, b = to_exact_array(layer.U), to_exact_array(layer.b)
            V, c = to_exact_array(layer.V), to_exact_array(layer.c)
            z = [(s, e, *_affine(U, b, A, B)) for s, e, A, B in intervals]
            # keep h alongside: split z's intervals, then recombine with the h of the parent interval
            new = []
            for (s, e, A, B), (_, _, zA, zB) in zip(intervals, z, strict=True):
                for s2, e2, aA, aB in _split([(s, e, zA, zB)], layer.activation):
                    vA, vB = _affine(V, c, aA, aB)
                    new.append((s2, e2, [h + v for h, v in zip(A, vA, strict=True)],
                                [h + v for h, v in zip(B, vB, strict=True)]))
            intervals = new
        cand = max(cand, len(intervals) - 1)
    # merge neighbours with the same output map
    merged = [intervals[0]]
    bps = []
    for s, e, A, B in intervals[1:]:
        _, _, pA, pB = merged[-1]
        if list(pA) == list(A) and list(pB) == list(B):
            merged[-1] = (merged[-1][0], e, A, B)
        else:
            bps.append(s)
            merged.append((s, e, A, B))
    return PieceCount(len(merged), bps, cand, lo_q, hi_q)


def direction_changes(values: Any) -> int:
    """Number of i with (v_{i+1} - v_i)(v_{i+2} - v_{i+1}) < 0, ignoring flat steps."""
    v = np.asarray(values, dtype=float).ravel()
    d = np.sign(np.diff(v))
    d = d[d != 0]
    return int(np.count_nonzero(d[1:] != d[:-1]))


def piece_bound(widths: list[int] | tuple[int, ...], p: int, residual: bool = False) -> int:
    """Pieces of any network with these hidden widths and a p-piece activation along any line.

    Union-of-breakpoints form of Lemma D.1: with B breakpoints so far, a layer of width d adds at most
    (p - 1)(B + 1) per unit: ``B' = B + d (p - 1)(B + 1)`` (residual blocks likewise). For 2 layers this
    is Theorem 3.3's (p-1)d1 + 1; for 3 layers (p-1)²d1d2 + (p-1)(d1+d2) + 1 ≤ p(p-1)d1d2 + (p-1)d2 + 1.
    """
    from memcap.theory.lower_bounds import piece_bound as _recurrence

    return _recurrence(widths, p, residual)
