"""Rigorous float64 helpers for the sound robustness bounds (tier 2).

numpy evaluates in float64 with round-to-nearest and gives no control of the rounding direction, so
every quantity the bounds rely on is either

* a single correctly rounded operation, made one-sided with ``np.nextafter`` (the exact result lies
  between the two neighbours of the rounded one), or
* a dot product / matrix product, whose error is bounded a priori by Higham's
  ``|fl(A B) - A B| <= gamma_n |A| |B|`` (any summation order, FMA or not, Higham 2002, Sec. 3.5)
  with ``gamma_n = n u / (1 - n u)``, ``u = 2^-53``, plus ``n`` times the smallest subnormal for
  underflow. ``|A| |B|`` is itself computed in float, so the margin used is
  ``1.02 gamma_{n+2} fl(|A| |B|) + (n + 2) eta``; the factor 1.02 absorbs the rounding of
  ``fl(|A||B|)`` (``1/(1 - gamma)``) and of the margin's own product and sum.

Exact-rational weights enter as float intervals ``centre ± radius`` (radius from
:func:`memcap.numerics._rep_err`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from memcap.numerics import _rep_err, to_float_array

U64 = 2.0**-53
ETA = 2.0**-1074
INF = np.inf


def gamma(n: int) -> float:
    return n * U64 / (1 - n * U64)


def down(x: Any) -> np.ndarray:
    return np.nextafter(x, -INF)


def up(x: Any) -> np.ndarray:
    return np.nextafter(x, INF)


def mm(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(C, E)``: ``C = fl(A @ B)`` and ``E >= |C - A @ B|`` elementwise (batched matmul)."""
    n = A.shape[-1]
    C = A @ B
    S = np.abs(A) @ np.abs(B)
    E = (1.02 * gamma(n + 2)) * S + (n + 2) * ETA
    return C, E


def mm_upper(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Upper bound on ``A @ B`` for nonnegative ``A``, ``B``."""
    C, E = mm(A, B)
    return up(C + E)


def sum_upper(A: np.ndarray, axis: int = -1) -> np.ndarray:
    """Upper bound on the exact sum of nonnegative ``A`` along ``axis``."""
    n = A.shape[axis]
    S = A.sum(axis=axis)
    return up(S * (1 + 1.02 * gamma(n + 2)) + (n + 2) * ETA)


def add_lo(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Lower bound on ``a + b`` (exact reals given as floats)."""
    return down(a + b)


def dot_lower(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Lower bound on ``sum(A * B, axis=-1)`` (exact reals given as floats)."""
    n = A.shape[-1]
    v = (A * B).sum(axis=-1)
    E = (1.02 * gamma(n + 2)) * (np.abs(A) * np.abs(B)).sum(axis=-1) + (n + 2) * ETA
    return down(v - E)


def fraction_interval(s: Fraction) -> tuple[float, float]:
    """Floats ``lo <= s <= hi`` (equal when ``s`` is a float)."""
    f = float(s)
    if Fraction(f) == s:
        return f, f
    return (f, float(up(f))) if Fraction(f) < s else (float(down(f)), f)


def mul_interval(s_lo: float, s_hi: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on ``s * t`` for ``s in [s_lo, s_hi]`` (``s >= 0``) and float ``t``."""
    a, b = s_lo * t, s_hi * t
    return down(np.minimum(a, b)), up(np.maximum(a, b))


def weight_interval(W: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(centre, radius)`` with the stored (exact) weight within ``centre ± radius``; radius None
    for float64 weights (then the centre is exact)."""
    arr = np.asarray(W)
    c = to_float_array(arr, np.float64)
    if arr.dtype != object:
        return c, None
    return c, up(_rep_err(arr, np.float64))


def dual_norm_upper(A: np.ndarray, norm: str) -> np.ndarray:
    """Upper bound on ``||row||_q`` for each row along the last axis, q the dual of ``norm``."""
    if norm == "inf":
        return sum_upper(np.abs(A))
    if norm == "1":
        return np.abs(A).max(axis=-1)
    if norm == "2":
        s = sum_upper(up(np.square(np.abs(A)) + ETA))
        return up(np.sqrt(up(s)))
    raise ValueError(f"unknown norm {norm!r}")


class Lin:
    """A weight matrix W (out, in) with products ``A @ W.T`` and ``L @ W`` that use a sparse copy
    when W is mostly zeros (the yu-robust layers are), plus their rigorous error margins."""

    #: use the sparse copy when at most this fraction of W is nonzero (and W has >= 400 entries)
    SPARSE_MAX_DENSITY = 0.25

    def __init__(self, W: np.ndarray) -> None:
        from scipy import sparse

        self.W = W
        self.absW = np.abs(W)
        self.S = self.absS = None
        if W.size >= 400 and np.count_nonzero(W) <= self.SPARSE_MAX_DENSITY * W.size:
            self.S = sparse.csr_matrix(W)
            self.absS = abs(self.S)

    def right(self, A: np.ndarray, absolute: bool = False) -> np.ndarray:
        """``A @ W.T`` (or ``A @ |W|.T``) for A of shape (..., in)."""
        if self.S is None:
            return A @ (self.absW if absolute else self.W).T
        S = self.absS if absolute else self.S
        A2 = A.reshape(-1, A.shape[-1])
        return np.asarray(S @ A2.T).T.reshape(A.shape[:-1] + (self.W.shape[0],))

    def left(self, L: np.ndarray, absolute: bool = False) -> np.ndarray:
        """``L @ W`` (or ``L @ |W|``) for L of shape (..., out)."""
        if self.S is None:
            return L @ (self.absW if absolute else self.W)
        S = self.absS if absolute else self.S
        L2 = L.reshape(-1, L.shape[-1])
        return np.asarray(S.T @ L2.T).T.reshape(L.shape[:-1] + (self.W.shape[1],))

    def right_err(self, A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(fl(A @ W.T + b), E)`` with E >= the rounding error (inner products of length in+1)."""
        n = self.W.shape[1]
        C = self.right(A) + b
        E = (1.02 * gamma(n + 2)) * (self.right(np.abs(A), True) + np.abs(b)) + (n + 2) * ETA
        return C, E

    def left_err(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = self.W.shape[0]
        C = self.left(L)
        E = (1.02 * gamma(m + 2)) * self.left(np.abs(L), True) + (m + 2) * ETA
        return C, E

    def right_abs_upper(self, A: np.ndarray) -> np.ndarray:
        """Upper bound on ``A @ |W|.T`` for nonnegative A."""
        n = self.W.shape[1]
        return up(self.right(A, True) * (1 + 1.02 * gamma(n + 2)) + (n + 2) * ETA)
