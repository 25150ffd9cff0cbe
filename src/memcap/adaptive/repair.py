"""Per-point float32 certification of a trained network, and the correction subnetwork that repairs
the points that fail.

**Per-point status.** :func:`point_status` evaluates the network in float64 and float32 with
:func:`memcap.numerics.forward_float_bounded`: the exact output lies within the float64 bound of the
float64 result, and every float32 evaluation order lies within ``b32`` of the exact output, hence
within ``2·b32`` of the computed float32 result. A point passes when the exact check (float64 tier)
and this float32 check both hold — classification: own logit beats every other with the bounds
subtracted; regression: ``|f - y| + bound ≤ tolerance``. A sufficient test; the final network is
certified by :func:`memcap.verify` anyway.

**Gate.** For a residual point x_r and a direction w (float32), with ``t(x) = w·x + b`` and
``b = -fl32(w·x_r)`` scaled so that ``|t(x_i)| ≥ 2.5`` at every other training point:

    layer 1:  a⁺ = relu(t),  a⁻ = relu(-t)
    layer 2:  g  = relu(1 - a⁺ - a⁻)          (= relu(1 - |t|))

At every other training point one of a⁺, a⁻ has pre-activation ≤ -2.5 (an exact zero) and g's
pre-activation is ≤ -1.5: g is an exact zero there, in exact arithmetic and in every float32 order
as long as the rounding of ``t`` stays below 1.5 (checked by the bounded evaluation). At x_r,
``|t|`` is tiny and g ≈ 1; its output weight v_r is computed from g's exact value at x_r.

**Assembly** (:func:`assemble`), trained part ``z(x) = W2 relu(W1 x + b1) + b2`` of width w:

    layer 1:  [W1 x + b1 ; ±t_r(x) for every gate]            relu
    layer 2:  [z(x) + K (carry, d_y units) ; g_r (R units)]   relu
    layer 3:  out = carry - K + Σ_r v_r g_r

``K`` (a power of two per output, ≥ 2·max|z| + 2 on the data) keeps the carry units' pre-activation
positive on every training point, so ``carry - K = z`` there exactly. With w = 0 (no trained part)
the carry units are dropped and the output is ``b + Σ_r v_r g_r``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from memcap.adaptive.train import f32
from memcap.data.dataset import Dataset
from memcap.errors import ConstructionError
from memcap.network import IDENTITY, RELU, Dense, Network
from memcap.numerics import forward_exact, forward_float_bounded, unit_roundoff

__all__ = ["Gate", "point_status", "design_gate", "assemble", "repaired_parameters", "trained_net"]

#: |t| at every other training point, in exact arithmetic of the stored gate weights
GATE_REACH = 2.5
U32 = unit_roundoff(np.float32)


@dataclass
class Gate:
    """A gate isolating training point ``r``: t(x) = w·x + b (float32 values)."""

    r: int
    w: np.ndarray
    b: float
    direction: str  # how the direction was found (neighbour difference, axis, random)
    score: float


def trained_net(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> Network:
    return Network([Dense(W1, b1, RELU), Dense(W2, b2, IDENTITY)])


def point_status(net: Network, ds: Dataset, tol_exact: float | None, tol32: float | None
                 ) -> np.ndarray:
    """Boolean (N,): the point is certified (exact and float32, any summation order)."""
    o64, b64 = forward_float_bounded(net, ds.X, np.float64)
    o32, b32 = forward_float_bounded(net, ds.X, np.float32)
    ok = np.isfinite(o64).all(axis=1) & np.isfinite(b64).all(axis=1) & np.isfinite(b32).all(axis=1)
    if ds.task == "classification":
        rows = np.arange(ds.N)
        y = ds.labels
        if ds.d_y == 1:
            return ok
        for out, bnd, k in ((o64, b64, 1.0), (o32, b32, 2.0)):
            own = out[rows, y] - k * bnd[rows, y]
            other = out + k * bnd
            other[rows, y] = -np.inf
            slack = 8 * U32 * (np.abs(out).max(axis=1) + bnd.max(axis=1)) if k == 2.0 else \
                8 * unit_roundoff(np.float64) * np.abs(out).max(axis=1)
            ok &= own - other.max(axis=1) - slack > 0
        return ok
    Y = ds.targets
    ok &= ((np.abs(o64 - Y) + b64).max(axis=1) * (1 + 1e-9) <= tol_exact)
    ok &= ((np.abs(o32 - Y) + 2 * b32).max(axis=1) * (1 + 1e-6) <= tol32)
    return ok


def _candidate_directions(X: np.ndarray, r: int, rng: np.random.Generator, neighbours: int,
                          randoms: int) -> list[tuple[str, np.ndarray]]:
    diff = X - X[r]
    dist = np.sqrt((diff**2).sum(axis=1))
    dist[r] = np.inf
    near = np.argsort(dist, kind="stable")[:neighbours]
    out: list[tuple[str, np.ndarray]] = []
    for j in near:
        if not np.isfinite(dist[j]):
            continue
        dv = diff[j] / dist[j]
        out.append((f"difference to point {int(j)}", dv))
        k = int(np.argmax(np.abs(dv)))
        axis = np.zeros(X.shape[1])
        axis[k] = 1.0
        out.append((f"axis {k}", axis))
    for _ in range(randoms):
        out.append(("random", rng.standard_normal(X.shape[1])))
    return out


def design_gate(X: np.ndarray, r: int, rng: np.random.Generator, neighbours: int = 4,
                randoms: int = 4) -> Gate | None:
    """The best gate for point r among a few directions, by the ratio of the smallest gap
    |w·(x_i - x_r)| to the float32 rounding scale of t; None when no direction separates x_r from
    every other point after rounding to float32."""
    best: Gate | None = None
    absX = np.abs(X)
    for name, u in _candidate_directions(X, r, rng, neighbours, randoms):
        u = f32(u / np.max(np.abs(u)))
        c = X @ u
        gaps = np.abs(c - c[r])
        gaps[r] = np.inf
        gap = float(gaps.min())
        if not gap > 0 or not math.isfinite(gap):
            continue
        s = GATE_REACH * 1.0625 / gap
        w = f32(s * u)
        b = float(np.float32(-(X[r] @ w)))
        t = X @ w + b
        t_others = np.abs(np.delete(t, r))
        if (len(t_others) and not float(t_others.min()) >= GATE_REACH) or not abs(float(t[r])) <= 0.25:
            continue
        nnz = int(np.count_nonzero(w))
        mass = float((absX @ np.abs(w)).max()) + abs(b)
        err = (nnz + 3) * U32 * mass * 2  # float32 rounding scale of t (products, sums, inputs)
        score = 1.0 / max(err + abs(float(t[r])), 1e-300)
        if best is None or score > best.score:
            best = Gate(r, w, b, name, score)
    return best


def repaired_parameters(w: int, R: int, d_x: int, d_y: int) -> int:
    """Dense parameters of the assembled network (w trained units, R gates)."""
    if R == 0:
        return w * (d_x + 1) + d_y * (w + 1)
    if w == 0:
        return 2 * R * (d_x + 1) + R * (2 * R + 1) + d_y * (R + 1)
    return (w + 2 * R) * (d_x + 1) + (d_y + R) * (w + 2 * R + 1) + d_y * (d_y + R + 1)


def _pow2_at_least(v: float) -> float:
    return float(2.0 ** math.ceil(math.log2(max(v, 1.0))))


def assemble(ds: Dataset, trained: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
             gates: list[Gate], margin_boost: float = 2.0) -> Network:
    """The repaired network (see module docstring); correction weights v_r are set from the exact
    values at x_r: regression v_r = (y_r - z(x_r)) / g_r(x_r); classification v_r adds
    ``margin_boost·(deficit + 1) / g_r(x_r)`` to the own class (deficit = how far z misses)."""
    d_x, d_y, R = ds.d_x, ds.d_y, len(gates)
    if not gates:
        if trained is None:
            raise ValueError("nothing to assemble: no trained part and no gates")
        return trained_net(*trained)
    Wg = np.stack([g.w for g in gates])
    bg = np.array([g.b for g in gates])
    idx = np.array([g.r for g in gates])
    # exact values at the residual points: z(x_r) and g_r(x_r)
    if trained is not None:
        W1, b1, W2, b2 = trained
        w = W1.shape[0]
        zdata = np.maximum(ds.X @ W1.T + b1, 0) @ W2.T + b2
        K = np.array([_pow2_at_least(2 * float(np.max(np.abs(zdata[:, c]))) + 2) for c in range(d_y)])
        carry_b = f32(b2 + K)  # stored carry bias; carry - K = W2 h + (carry_b - K) exactly
        z_exact = forward_exact(trained_net(W1, b1, W2, carry_b - K), ds.X[idx])
        z = [[Fraction(int(v.p), int(v.q)) for v in row] for row in z_exact]
    else:
        w = 0
        b_out = f32(np.mean(ds.targets, axis=0)) if ds.task == "regression" else np.zeros(d_y)
        z = [[Fraction(float(v)) for v in b_out] for _ in gates]
    V = np.zeros((d_y, R))
    for k, g in enumerate(gates):
        t = sum((Fraction(float(a)) * Fraction(float(x)) for a, x in zip(g.w, ds.X[g.r], strict=True)),
                Fraction(0)) + Fraction(g.b)
        gval = max(Fraction(0), 1 - abs(t))
        if gval <= Fraction(1, 2):
            raise ConstructionError(f"the gate of point {g.r} is not open at its own point "
                                    f"(g = {float(gval):.3g}): float32 cannot resolve it from its "
                                    "neighbours")
        if ds.task == "regression":
            V[:, k] = [float((Fraction(float(y)) - zc) / gval) for y, zc in zip(ds.targets[g.r], z[k],
                                                                                  strict=True)]
        else:
            y = int(ds.labels[g.r])
            others = [zc for c, zc in enumerate(z[k]) if c != y]
            deficit = max(Fraction(0), max(others) - z[k][y]) if others else Fraction(0)
            V[y, k] = float(margin_boost * (deficit + 1) / gval)
    V = f32(V)
    # layer 1: trained units, then a⁺, a⁻ per gate
    L1W = np.zeros((w + 2 * R, d_x))
    L1b = np.zeros(w + 2 * R)
    if w:
        L1W[:w], L1b[:w] = W1, b1
    L1W[w::2], L1b[w::2] = Wg, bg
    L1W[w + 1::2], L1b[w + 1::2] = -Wg, -bg
    carry = d_y if w else 0
    L2W = np.zeros((carry + R, w + 2 * R))
    L2b = np.zeros(carry + R)
    if w:
        L2W[:d_y, :w], L2b[:d_y] = W2, carry_b
    for k in range(R):
        L2W[carry + k, w + 2 * k] = -1.0
        L2W[carry + k, w + 2 * k + 1] = -1.0
        L2b[carry + k] = 1.0
    L3W = np.zeros((d_y, carry + R))
    if w:
        L3W[:, :d_y] = np.eye(d_y)
        L3b = -K
    else:
        L3b = b_out
    L3W[:, carry:] = V
    return Network([Dense(L1W, L1b, RELU), Dense(L2W, L2b, RELU), Dense(L3W, L3b, IDENTITY)])
