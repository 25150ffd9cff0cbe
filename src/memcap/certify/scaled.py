"""Exact evaluation of rational-weight networks with Python integers over one denominator per layer.

Every float64 weight is a dyadic rational, and exact constructions mostly use few denominators per
layer (the Park et al. lookup weights are dyadic; their projection shares one denominator). A layer's
values for a batch of points are held as one integer array ``A`` and one positive integer ``D``
(value ``A / D``): an affine map multiplies by the layer's integer numerators and brings the bias to
the common denominator, a ReLU is ``max(A, 0)``, a hard-tanh is ``clip(A, -D, D)`` and a ReLU-like
slope ``s/t`` multiplies by ``s`` and ``D`` by ``t``. All of this is exact; after every layer the
common factor ``gcd(D, A)`` is divided out, so the integers stay as short as the values need. The
result is the exact output (the verdict is final), at the speed of Python integers instead of one
Python ball operation per activation — the cost that dominates for deep, narrow networks.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap.network import Dense, Network, Residual

__all__ = ["applicable", "ScaledPlan"]

_KINDS = ("identity", "relu_like", "hardtanh")


def _ratio(v: Any) -> tuple[int, int]:
    if isinstance(v, flint.fmpq):
        return int(v.p), int(v.q)
    if isinstance(v, float | np.floating):
        return float(v).as_integer_ratio()
    f = Fraction(v)
    return f.numerator, f.denominator


#: a layer whose common denominator needs more bits than this is not run on this path (the yun-*
#: exact weights have thousands of different denominators; their lcm is astronomically long)
MAX_DENOMINATOR_BITS = 4096


def _int_array(a: np.ndarray) -> tuple[np.ndarray, int]:
    """(integer object array A, denominator D) with a = A / D exactly (a sparse matrix is read dense)."""
    arr = np.asarray(a.toarray() if hasattr(a, "toarray") else a)
    parts = [_ratio(v) for v in arr.ravel()]
    D = 1
    for _n, d in parts:
        if D % d:
            D = math.lcm(D, d)
            if D.bit_length() > MAX_DENOMINATOR_BITS:
                raise ValueError(f"a layer's common denominator exceeds {MAX_DENOMINATOR_BITS} bits")
    out = np.empty(arr.shape, dtype=object)
    out.ravel()[:] = [n * (D // d) for n, d in parts]
    return out, D


def applicable(net: Network) -> bool:
    """Piecewise-linear activations (any weights: every float and rational is a ratio of integers)."""
    return all(layer.activation.kind in _KINDS for layer in net.layers)


#: the common factor is divided out only once the denominator passes this many bits (a gcd pass
#: over the batch costs as much as a layer; short denominators are cheaper to carry)
NORMALIZE_BITS = 192


def _normalize(A: np.ndarray, D: int, force: bool = False) -> tuple[np.ndarray, int]:
    if D == 1 or not A.size or (not force and D.bit_length() <= NORMALIZE_BITS):
        return A, D
    g = D
    for v in A.ravel():
        g = math.gcd(g, v)
        if g == 1:
            return A, D
    return A // g, D // g


def _align(A: np.ndarray, D: int, B: np.ndarray, F: int) -> tuple[np.ndarray, np.ndarray, int]:
    if D == F:
        return A, B, D
    M = math.lcm(D, F)
    return A * (M // D), B * (M // F), M


class ScaledPlan:
    """The network's layers as integer arrays with one denominator each."""

    def __init__(self, net: Network) -> None:
        if not applicable(net):
            raise ValueError("the integer path needs piecewise-linear activations")
        self.net = net
        self.layers: list[Any] = []
        self.max_bits = 0
        for layer in net.layers:
            arrs = [_int_array(a) for a in layer.arrays()]
            for A, D in arrs:
                top = max((abs(int(v)) for v in A.ravel()), default=0)
                self.max_bits = max(self.max_bits, top.bit_length(), D.bit_length())
            act = layer.activation
            slopes = None
            if act.kind == "relu_like" and not (act.s_plus == 1 and act.s_minus == 0):
                K = math.lcm(act.s_plus.denominator, act.s_minus.denominator)
                slopes = (int(act.s_plus * K), int(act.s_minus * K), K)
            self.layers.append((layer, arrs, slopes))

    @staticmethod
    def _affine(A: np.ndarray, D: int, W: tuple[np.ndarray, int], b: tuple[np.ndarray, int]
                ) -> tuple[np.ndarray, int]:
        if A.shape[1]:
            Z = A @ W[0].T
        else:
            Z = np.zeros((A.shape[0], W[0].shape[0]), dtype=object)
            Z[...] = 0
        Z, B, F = _align(Z, D * W[1], b[0], b[1])
        return Z + B[None, :], F

    @staticmethod
    def _act(Z: np.ndarray, D: int, kind: str, slopes: Any) -> tuple[np.ndarray, int]:
        if kind == "identity":
            return Z, D
        if kind == "hardtanh":
            return np.minimum(np.maximum(Z, -D), D), D
        if slopes is None:  # plain ReLU
            return np.maximum(Z, 0), D
        sp, sm, K = slopes
        pos = np.array([v >= 0 for v in Z.ravel()], dtype=bool).reshape(Z.shape)
        return np.where(pos, Z * sp, Z * sm), D * K

    def evaluate(self, X: np.ndarray) -> list[list[flint.fmpq]]:
        """Exact outputs (fmpq) for the float rows of X."""
        A, D = _int_array(np.asarray(X, dtype=np.float64))
        A, D = _normalize(A, D, force=True)
        for layer, arrs, slopes in self.layers:
            kind = layer.activation.kind
            if isinstance(layer, Dense):
                Z, F = self._affine(A, D, arrs[0], arrs[1])
                A, D = self._act(Z, F, kind, slopes)
            else:
                assert isinstance(layer, Residual)
                Z, F = self._affine(A, D, arrs[0], arrs[1])
                H, G = self._act(Z, F, kind, slopes)
                H, G = _normalize(H, G)
                Zo, Fo = self._affine(H, G, arrs[2], arrs[3])
                Zo, A2, D = _align(Zo, Fo, A, D)
                A = Zo + A2
            A, D = _normalize(A, D)
        return [[flint.fmpq(int(v), D) for v in row] for row in A]
