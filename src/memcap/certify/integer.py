"""Exact evaluation of networks with dyadic weights after the first layer, in Python integers.

Deep exact constructions (vardi-*, park-*) have thousands of layers whose weights and biases are
integers or dyadic rationals m/2^e, while only the first layer (a rational projection) is not
dyadic. For such networks this module computes every output EXACTLY, for many points at once, with
integer arithmetic on numpy object arrays (one vectorized operation per nonzero weight):

* layer 1 is evaluated in exact rationals (fmpq); each point i gets a positive integer scale
  S_i (the lcm of the denominators of its layer-1 activations) and integer activations A_i = a_i·S_i;
* a later layer with weights W = Wn/2^E, biases b = bn/2^E (Wn, bn integers, E ≥ 0 the layer's
  largest denominator exponent) gives P = Wn·A + bn·S = 2^E·S·(W a + b), integers. When every entry
  of P for point i is divisible by 2^E, A_i ← P_i / 2^E (exact shift); otherwise S_i ← S_i·2^E;
* the activation acts on A_i alone: σ(A/S) = σ(A)/S since S > 0 (ReLU; ReLU-like slopes
  p/2^k are applied as integer multiplications with S scaled by 2^k; hard-tanh clips to ±S);
* every 16 layers the common power of two of (A_i, S_i) is divided out (exact).

Soundness: the invariant a = A/S holds exactly after every layer (induction: integer sums and
products are exact, shifts are applied only when divisibility was checked, and the positive scale
commutes with the piecewise-linear activation), so the outputs are the network's outputs in exact
rational arithmetic of its stored weights, for any input given as floats (which are dyadic). A
certificate decided on them is exact — the same arithmetic as :func:`memcap.numerics.forward_exact`,
without per-entry rational normalization.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap.network import Dense, Network
from memcap.numerics import to_exact_array

__all__ = ["IntegerLayer", "IntegerProgram", "prepare", "forward", "qualifies"]

NORMALIZE_EVERY = 16


@dataclass
class IntegerLayer:
    """One affine layer as integers: rows of (column, coefficient) pairs over 2^E, then the activation."""

    rows: list[list[tuple[int, int]]]
    bias: list[int]
    E: int
    kind: str            # "relu" | "relu_like" | "identity" | "hardtanh"
    slopes: tuple[int, int, int] = (1, 0, 0)  # relu_like: (s_plus·2^k, s_minus·2^k, k)


@dataclass
class IntegerProgram:
    first: Dense
    layers: list[IntegerLayer]


def _dyadic(v: Any) -> tuple[int, int] | None:
    """(m, e) with v = m / 2^e, or None if v is not a dyadic rational."""
    if isinstance(v, flint.fmpq):
        p, q = int(v.p), int(v.q)
    elif isinstance(v, float | np.floating):
        if not math.isfinite(float(v)):
            return None
        f = Fraction(float(v))
        p, q = f.numerator, f.denominator
    elif isinstance(v, int | np.integer):
        return int(v), 0
    else:
        return None
    if q & (q - 1):
        return None
    return p, q.bit_length() - 1


def _activation(act: Any) -> tuple[str, tuple[int, int, int]] | None:
    if act.kind == "identity":
        return "identity", (1, 0, 0)
    if act.kind == "hardtanh":
        return "hardtanh", (1, 0, 0)
    if act.kind != "relu_like":
        return None
    if act.s_plus == 1 and act.s_minus == 0:
        return "relu", (1, 0, 0)
    sp, sm = act.s_plus, act.s_minus
    if sp.denominator & (sp.denominator - 1) or sm.denominator & (sm.denominator - 1):
        return None
    k = max(sp.denominator, sm.denominator).bit_length() - 1
    return "relu_like", (int(sp * 2**k), int(sm * 2**k), k)


def prepare(net: Network) -> IntegerProgram | None:
    """The integer form of ``net``, or None when it does not qualify (a residual block, a smooth
    activation, or a non-dyadic weight after the first layer)."""
    if not all(isinstance(L, Dense) for L in net.layers):
        return None
    if _activation(net.layers[0].activation) is None:
        return None
    out: list[IntegerLayer] = []
    for L in net.layers[1:]:
        act = _activation(L.activation)
        if act is None:
            return None
        W, b = L.weight, L.bias
        nz = np.argwhere(W != 0)
        ent: list[tuple[int, int, int, int]] = []
        for r, c in nz:
            md = _dyadic(W[r, c])
            if md is None:
                return None
            ent.append((int(r), int(c), md[0], md[1]))
        bias: list[tuple[int, int]] = []
        for v in b:
            md = _dyadic(v)
            if md is None:
                return None
            bias.append(md)
        E = max([e for *_, e in ent] + [e for _, e in bias] + [0])
        rows: list[list[tuple[int, int]]] = [[] for _ in range(L.out_dim)]
        for r, c, m, e in ent:
            rows[r].append((c, m << (E - e)))
        out.append(IntegerLayer(rows, [m << (E - e) for m, e in bias], E, act[0], act[1]))
    return IntegerProgram(net.layers[0], out)


def qualifies(net: Network) -> bool:
    """Exact-weight network whose layers after the first are dyadic (the integer path applies)."""
    return net.exact and prepare(net) is not None


def _act(P: list[np.ndarray], S: np.ndarray, L: IntegerLayer) -> tuple[list[np.ndarray], np.ndarray]:
    if L.kind == "relu":
        return [np.maximum(p, 0) for p in P], S
    if L.kind == "identity":
        return P, S
    if L.kind == "hardtanh":
        return [np.minimum(np.maximum(p, -S), S) for p in P], S
    sp, sm, k = L.slopes
    return [np.where(p >= 0, p * sp, p * sm) for p in P], S * (1 << k)


def _first_layer(first: Dense, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    Xq = to_exact_array(np.asarray(X, dtype=np.float64))
    W = first.weight if first.weight.dtype == object else to_exact_array(first.weight)
    b = first.bias if first.bias.dtype == object else to_exact_array(first.bias)
    Z = Xq @ W.T + b[None, :]
    kind = _activation(first.activation)
    assert kind is not None
    n, w = Z.shape
    S = np.empty(n, dtype=object)
    cols = [np.empty(n, dtype=object) for _ in range(w)]
    for i in range(n):
        row = [v if isinstance(v, flint.fmpq) else flint.fmpq(v) for v in Z[i]]
        s = 1
        for v in row:
            q = int(v.q)
            s = s * q // math.gcd(s, q)
        S[i] = s
        for c, v in enumerate(row):
            cols[c][i] = int(v.p) * (s // int(v.q))
    fake = IntegerLayer([], [], 0, kind[0], kind[1])
    return _act(cols, S, fake)


def _normalize(A: list[np.ndarray], S: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    o = S.copy()
    for a in A:
        o = o | a
    tz = np.array([(int(v) & -int(v)).bit_length() - 1 if v else 0 for v in o], dtype=object)
    if not any(tz):
        return A, S
    return [a >> tz for a in A], S >> tz


def forward(prog: IntegerProgram, X: np.ndarray, progress: Callable[[str], None] | None = None
            ) -> list[list[flint.fmpq]]:
    """Exact outputs (fmpq) of the network at the rows of ``X``; see the module docstring."""
    A, S = _first_layer(prog.first, X)
    n = len(S)
    for li, L in enumerate(prog.layers):
        P: list[np.ndarray] = []
        for r, terms in enumerate(L.rows):
            acc: Any = None
            for c, m in terms:
                t = A[c] if m == 1 else (-A[c] if m == -1 else A[c] * m)
                acc = t if acc is None else acc + t
            if L.bias[r]:
                acc = S * L.bias[r] if acc is None else acc + S * L.bias[r]
            if acc is None:
                acc = np.zeros(n, dtype=object)
                acc[:] = 0
            P.append(acc)
        if L.E:
            mask = (1 << L.E) - 1
            bad = np.zeros(n, dtype=bool)
            for p in P:
                bad |= (p & mask) != 0
            if bad.any():
                S = np.where(bad, S << L.E, S)
                P = [np.where(bad, p, p >> L.E) for p in P]
            else:
                P = [p >> L.E for p in P]
        A, S = _act(P, S, L)
        if (li + 1) % NORMALIZE_EVERY == 0:
            A, S = _normalize(A, S)
        if progress is not None and (li + 1) % 1000 == 0:
            progress(f"exact integer evaluation: layer {li + 2} of {len(prog.layers) + 1}")
    out: list[list[flint.fmpq]] = []
    for i in range(n):
        s = int(S[i])
        out.append([flint.fmpq(int(a[i]), s) for a in A])
    return out
