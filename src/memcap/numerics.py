"""Arithmetic backends and certified evaluation.

Three ways to evaluate a :class:`~memcap.network.Network` on inputs ``X`` (rows are points):

* :func:`forward_float` — plain numpy in float64 or float32 (what users run);
* :func:`forward_float_bounded` — the same float evaluation plus a *rigorous* elementwise bound on
  the distance between the computed output and the exact output of the stored network, valid for
  any summation order (Higham's ``|fl(Wa+b) - (Wa+b)| <= gamma_{n+1}(|W||a| + |b|)``, propagated
  through 1-Lipschitz-scaled activations);
* :func:`forward_balls` — ball arithmetic (python-flint ``arb``) at a chosen precision, outward
  rounded, and :func:`forward_exact` — exact rationals (``fmpq``).

The verifier (:mod:`memcap.verify`) uses them in that order and escalates only where a cheaper
tier cannot decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap.network import Activation, Dense, Network

__all__ = [
    "unit_roundoff",
    "to_exact_array",
    "to_float_array",
    "forward_float",
    "forward_float_bounded",
    "forward_balls",
    "forward_exact",
    "exact_inputs",
]

_TINY = {np.dtype(np.float64): 2.0**-1074, np.dtype(np.float32): 2.0**-149,
         np.dtype(np.longdouble): 2.0**-1074}  # longdouble: any tiny >= its own is a sound bound
#: an extended format with a 64-bit significand (x86 80-bit) exists on this platform
#: assumed worst-case error of the libm tanh / log1p∘exp evaluation, in units of roundoff of the result
SMOOTH_ULPS = 16

HAS_EXTENDED = np.finfo(np.longdouble).nmant >= 63


def unit_roundoff(dtype: Any) -> float:
    """u = 2^-t for a float format with t-bit significand (float64: 2^-53, float32: 2^-24)."""
    return float(np.finfo(dtype).eps) / 2


def _gamma(n: int, u: float) -> float:
    if n * u >= 1:
        return float("inf")
    return n * u / (1 - n * u)


# ---- conversions ------------------------------------------------------------------------------
def to_exact_array(a: Any) -> np.ndarray:
    """An object array of ``flint.fmpq`` equal (exactly) to ``a`` (floats are dyadic rationals)."""
    arr = np.asarray(a)
    if arr.dtype == object:
        return np.vectorize(_fmpq, otypes=[object])(arr) if arr.size else arr
    flat = [_fmpq(float(v)) for v in arr.ravel()]
    out = np.empty(arr.shape, dtype=object)
    out.ravel()[:] = flat
    return out


def _fmpq(v: Any) -> flint.fmpq:
    if isinstance(v, flint.fmpq):
        return v
    if isinstance(v, float | np.floating):
        f = Fraction(float(v))  # exact
        return flint.fmpq(f.numerator, f.denominator)
    if isinstance(v, Fraction):
        return flint.fmpq(v.numerator, v.denominator)
    if isinstance(v, int | np.integer | flint.fmpz):
        return flint.fmpq(int(v))
    raise TypeError(f"cannot convert {type(v).__name__} to an exact rational")


def to_float_array(a: Any, dtype: Any = np.float64) -> np.ndarray:
    """Round to the nearest float64 (via ``Fraction`` for exact entries, correctly rounded)."""
    arr = np.asarray(a)
    if arr.dtype != object:
        return arr.astype(dtype)
    out = np.array(
        [float(Fraction(int(v.p), int(v.q))) if isinstance(v, flint.fmpq) else float(v)
         for v in arr.ravel()],
        dtype=np.float64,
    ).reshape(arr.shape)
    return out.astype(dtype)


def exact_inputs(X: np.ndarray) -> np.ndarray:
    return to_exact_array(np.asarray(X, dtype=np.float64))


# ---- plain floating point ---------------------------------------------------------------------
def _act_float(z: np.ndarray, act: Activation) -> np.ndarray:
    if act.kind == "identity":
        return z
    if act.kind == "tanh":
        return np.tanh(z)
    if act.kind == "softplus":
        return np.logaddexp(z.dtype.type(0), z)  # log(1 + e^z) without overflow
    if act.kind == "hardtanh":
        return np.clip(z, -1, 1)
    if act.s_plus == 1 and act.s_minus == 0:
        return np.maximum(z, 0)
    sp, sm = z.dtype.type(float(act.s_plus)), z.dtype.type(float(act.s_minus))
    return np.where(z >= 0, sp * z, sm * z)


def forward_float(net: Network, X: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    """Evaluate in ``dtype`` with numpy (weights rounded to ``dtype`` first)."""
    a = np.asarray(X, dtype=dtype)
    for layer in net.layers:
        if isinstance(layer, Dense):
            W, b = to_float_array(layer.weight, dtype), to_float_array(layer.bias, dtype)
            a = _act_float(a @ W.T + b, layer.activation)
        else:
            U, b, V, c = (to_float_array(x, dtype) for x in layer.arrays())
            a = a + _act_float(a @ U.T + b, layer.activation) @ V.T + c
    return a


# ---- floating point with a rigorous error bound ------------------------------------------------
def _abs64(a: np.ndarray) -> np.ndarray:
    """|a| as float64, rounded *up* for exact entries (so it is an upper bound)."""
    f = to_float_array(a, np.float64)
    r = np.abs(f)
    if np.asarray(a).dtype == object:
        r = r * (1 + 2.0**-51)
    return r


def _rep_err(a: np.ndarray, dtype: Any) -> np.ndarray:
    """Upper bound on |round_dtype(a) - a| elementwise."""
    arr = np.asarray(a)
    u = unit_roundoff(dtype)
    if arr.dtype == object:  # rounded to float64 first, then to dtype
        u = 2 * max(u, unit_roundoff(np.float64))
    elif np.finfo(dtype).nmant >= np.finfo(arr.dtype).nmant:
        return np.zeros(arr.shape)  # widening is exact
    return _abs64(arr) * u * (1 + 2.0**-50) + _TINY[np.dtype(np.float32)]


def _prod_up(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Upper bound on A @ B for nonnegative float64 A, B (inflates the rounding of the product)."""
    n = A.shape[1] if A.ndim == 2 else 1
    g = _gamma(n + 2, unit_roundoff(np.float64))
    return (A @ B) * (1 + 2 * g) + (n + 1) * _TINY[np.dtype(np.float64)]


def _act_bound(z_hat: np.ndarray, ez: np.ndarray, act: Activation, dtype: Any
               ) -> tuple[np.ndarray, np.ndarray]:
    a_hat = _act_float(z_hat, act)
    e = ez * float(act.lipschitz)
    # Where the whole interval [z_hat - ez, z_hat + ez] lies in one piece, use that piece's slope:
    # a flat piece (ReLU's negative side, hard-tanh's saturation) passes no error at all.
    z64 = z_hat.astype(np.float64)
    ez_safe = ez * (1 + 2.0**-48) + _TINY[np.dtype(np.float64)]
    if act.kind == "hardtanh":
        e = np.where((z64 - ez_safe >= 1) | (z64 + ez_safe <= -1), 0.0, e)
    elif act.kind == "relu_like":
        e = np.where(z64 + ez_safe <= 0, ez * float(act.s_minus), e)
    if act.smooth:
        # tanh and softplus are 1-Lipschitz (e above); the libm evaluation itself is assumed accurate to
        # SMOOTH_ULPS units of roundoff relative to the result (glibc and numpy's SIMD kernels document
        # at most a few ulps), plus an absolute floor for results near 0 / in the subnormal range.
        e = e + np.abs(a_hat.astype(np.float64)) * SMOOTH_ULPS * unit_roundoff(dtype) \
            + SMOOTH_ULPS * _TINY[np.dtype(dtype)]
    if act.kind == "relu_like" and not (act.s_plus == 1 and act.s_minus == 0):
        # slopes are rounded to dtype and the product rounds once more
        e = e + np.abs(a_hat.astype(np.float64)) * 3 * unit_roundoff(dtype) + _TINY[np.dtype(dtype)]
    return a_hat, e


def _affine_bound(a_hat: np.ndarray, e: np.ndarray, W: np.ndarray, b: np.ndarray, dtype: Any,
                  extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Computed fl(a W^T + b [+ extra]) and a bound on its distance to the exact a W^T + b."""
    Wd, bd = to_float_array(W, dtype), to_float_array(b, dtype)
    z_hat = a_hat @ Wd.T + bd
    if extra is not None:
        z_hat = z_hat + extra
    n = W.shape[1] + (2 if extra is not None else 1)
    aabs = np.abs(a_hat.astype(np.float64))
    absW = _abs64(W)
    absWd = np.abs(Wd.astype(np.float64))
    u = unit_roundoff(dtype)
    dW = _rep_err(W, dtype)
    db = _rep_err(b, dtype)
    mass = _prod_up(aabs, absWd.T) + np.abs(bd.astype(np.float64))
    if extra is not None:
        mass = mass + np.abs(extra.astype(np.float64))
    ez = _gamma(n, u) * mass + _prod_up(aabs, dW.T) + _prod_up(e, absW.T) + db
    ez = ez * (1 + 2.0**-48) + n * _TINY[np.dtype(dtype)]
    return z_hat, ez


def forward_float_bounded(net: Network, X: np.ndarray, dtype: Any = np.float64
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(out, bound)``: the ``dtype`` evaluation and a rigorous elementwise bound on
    ``|out - f(X)|`` where ``f`` is the network with exactly its stored weights evaluated in exact
    arithmetic on exactly the float64 inputs ``X``. Valid for any summation order of the products.
    """
    X64 = np.asarray(X, dtype=np.float64)
    a_hat = X64.astype(dtype)
    e = _rep_err(X64, dtype)
    for layer in net.layers:
        if isinstance(layer, Dense):
            z_hat, ez = _affine_bound(a_hat, e, layer.weight, layer.bias, dtype)
            a_hat, e = _act_bound(z_hat, ez, layer.activation, dtype)
        else:
            z_hat, ez = _affine_bound(a_hat, e, layer.U, layer.b, dtype)
            h_hat, eh = _act_bound(z_hat, ez, layer.activation, dtype)
            out, eo = _affine_bound(h_hat, eh, layer.V, layer.c, dtype, extra=a_hat)
            a_hat, e = out, eo + e
    return a_hat.astype(np.float64), e


# ---- ball arithmetic and exact rationals ------------------------------------------------------
def _act_ball(x: Any, act: Activation) -> Any:
    if act.kind == "identity":
        return x
    if act.kind == "tanh":
        return x.tanh()
    if act.kind == "softplus":
        return x.exp().log1p()
    if act.kind == "hardtanh":
        return x.max(-1).min(1)
    zero = flint.arb(0)
    pos, neg = x.max(zero), x.min(zero)
    return pos * _fmpq(act.s_plus) + neg * _fmpq(act.s_minus) if act.s_minus else pos * _fmpq(act.s_plus)


def _exact_act(x: flint.fmpq, act: Activation) -> flint.fmpq:
    if act.smooth:
        raise ValueError(
            f"{act.kind} is transcendental: a network using it cannot be evaluated exactly in rationals; "
            "its certified evaluation is ball arithmetic (forward_balls), which did not decide here — "
            "use a looser tolerance or a ReLU-like/hard-tanh network")
    if act.kind == "identity":
        return x
    if act.kind == "hardtanh":
        return flint.fmpq(-1) if x < -1 else (flint.fmpq(1) if x > 1 else x)
    return x * _fmpq(act.s_plus) if x >= 0 else x * _fmpq(act.s_minus)


def _mat(entries: Sequence[Any], rows: int, cols: int, kind: str) -> Any:
    if kind == "arb":
        return flint.arb_mat(rows, cols, list(entries))
    return flint.fmpq_mat(rows, cols, list(entries))


def _layer_mat(a: np.ndarray, kind: str) -> Any:
    """Augmented weight matrix [W^T; b] as an arb/fmpq matrix (exact entries)."""
    arr = to_exact_array(a) if kind == "fmpq" else a
    if kind == "arb":
        arr = np.asarray(arr)
        entries = [flint.arb(_fmpq(v)) if arr.dtype == object else flint.arb(float(v))
                   for v in arr.ravel()]
        return entries
    return list(arr.ravel())


def _affine_mat(A: Any, rows: int, W: np.ndarray, b: np.ndarray, kind: str) -> Any:
    Wt = np.concatenate([np.asarray(W).T, np.asarray(b)[None, :]], axis=0)
    M = _mat(_layer_mat(Wt, kind), Wt.shape[0], Wt.shape[1], kind)
    return A * M


def _augment(entries: list[Any], rows: int, cols: int, kind: str) -> Any:
    one = flint.arb(1) if kind == "arb" else flint.fmpq(1)
    aug: list[Any] = []
    for r in range(rows):
        aug.extend(entries[r * cols:(r + 1) * cols])
        aug.append(one)
    return _mat(aug, rows, cols + 1, kind)


def _forward_generic(net: Network, X: np.ndarray, kind: str) -> list[list[Any]]:
    X64 = np.asarray(X, dtype=np.float64)
    rows, cols = X64.shape
    if kind == "arb":
        entries: list[Any] = [flint.arb(float(v)) for v in X64.ravel()]
    else:
        entries = list(to_exact_array(X64).ravel())
    act_fn = _act_ball if kind == "arb" else _exact_act
    for layer in net.layers:
        if isinstance(layer, Dense):
            Z = _affine_mat(_augment(entries, rows, cols, kind), rows, layer.weight, layer.bias, kind)
            cols = layer.out_dim
            entries = [act_fn(v, layer.activation) for v in Z.entries()]
        else:
            Z = _affine_mat(_augment(entries, rows, cols, kind), rows, layer.U, layer.b, kind)
            H = [act_fn(v, layer.activation) for v in Z.entries()]
            Zo = _affine_mat(_augment(H, rows, layer.hidden, kind), rows, layer.V, layer.c, kind)
            entries = [h + o for h, o in zip(entries, Zo.entries(), strict=True)]
    return [entries[r * cols:(r + 1) * cols] for r in range(rows)]


def forward_balls(net: Network, X: np.ndarray, prec: int) -> list[list[flint.arb]]:
    """Evaluate in ball arithmetic with ``prec`` bits; each output ball contains the exact value."""
    old = flint.ctx.prec
    flint.ctx.prec = prec
    try:
        return _forward_generic(net, X, "arb")
    finally:
        flint.ctx.prec = old


def forward_exact(net: Network, X: np.ndarray) -> list[list[flint.fmpq]]:
    """Evaluate exactly in rationals (slow; for small inputs or as the verifier's last resort)."""
    return _forward_generic(net, X, "fmpq")
