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

Sparse layers (a `Dense` weight held as scipy CSR, float64) are evaluated in sparse form by every
tier: float products use scipy.sparse, the rigorous bound counts each row's stored non-zeros, and the
ball / exact tiers sum only the stored entries of each row (exact zeros contribute nothing, so the
exact tier's result is identical to the dense layer's; a ball's radius may differ by the order of
the additions, its exact value is the same).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap.network import Activation, Dense, Network, Residual, is_sparse

__all__ = [
    "unit_roundoff",
    "to_exact_array",
    "to_float_array",
    "forward_float",
    "forward_float_bounded",
    "forward_balls",
    "forward_exact",
]

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
    """An object array of ``flint.fmpq`` equal (exactly) to ``a`` (floats are dyadic rationals;
    a sparse matrix is densified)."""
    arr = a.toarray() if is_sparse(a) else np.asarray(a)
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
    """Round to the nearest float64 (via ``Fraction`` for exact entries, correctly rounded); a
    sparse matrix is densified (use ``W.astype(dtype)`` to keep it sparse)."""
    arr = a.toarray() if is_sparse(a) else np.asarray(a)
    if arr.dtype != object:
        return arr.astype(dtype)
    out = np.array(
        # int / int is correctly rounded, like float(Fraction) (which computes exactly this), without
        # Fraction's gcd of the already-reduced fmpq (the whole cost for thousand-bit weights)
        [int(v.p) / int(v.q) if isinstance(v, flint.fmpq) else float(v)
         for v in arr.ravel()],
        dtype=np.float64,
    ).reshape(arr.shape)
    return out.astype(dtype)


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
            b = to_float_array(layer.bias, dtype)
            if layer.sparse:
                W = _sparse_round(layer.weight, dtype)
                a = _act_float(np.asarray(W @ a.T).T.astype(dtype) + b, layer.activation)
                continue
            W = to_float_array(layer.weight, dtype)
            a = _act_float(a @ W.T + b, layer.activation)
        else:
            U, b, V, c = (to_float_array(x, dtype) for x in layer.arrays())
            a = (_act_float(a @ U.T + b, layer.activation) @ V.T + c) + a
    return a


# ---- floating point with a rigorous error bound ------------------------------------------------
# Soundness notes (issue 8 review of the foundation's bound):
# * The bound must hold for the user's evaluation (torch, BLAS, any summation order), not only for
#   numpy's trajectory. Every quantity that depends on the computed intermediate values therefore
#   uses |â| + 2e (an upper bound on |a'| for ANY order's a', since |a' - a| <= e and |â - a| <= e),
#   and a flat piece is used only when z_hat ± 2·ez stays inside it (then the exact z and every
#   order's z' are inside it, so that piece's exact zero / saturation is reached in every order).
# * Exact zeros: a product with an exact zero factor is an exact zero, and adding an exact zero is
#   exact, so a dot product with k possibly-nonzero terms has error <= gamma_k (mass). k is bounded
#   per output row (non-zeros of the weight row) and per point (inputs not certainly zero in every
#   order). This keeps the bound tight for sparse layers and exactly-gated ReLU constructions.
# * The absolute underflow term uses the smallest *normal* number, which also covers
#   flush-to-zero / denormals-are-zero modes some BLAS kernels use.
_TINY_NORMAL = {np.dtype(np.float64): 2.0**-1022, np.dtype(np.float32): 2.0**-126,
                np.dtype(np.longdouble): 2.0**-1022}  # longdouble: a larger tiny is still sound
_CHUNK_ELEMENTS = 4_000_000  # points are processed in chunks so memory stays bounded


def _tiny(dtype: Any) -> float:
    return _TINY_NORMAL.get(np.dtype(dtype), 2.0**-1022)


def _abs64(a: np.ndarray) -> np.ndarray:
    """|a| as float64, rounded *up* for exact entries (so it is an upper bound)."""
    f = to_float_array(a, np.float64)
    r = np.abs(f)
    if np.asarray(a).dtype == object:
        r = r * (1 + 2.0**-51)
    return r


def _rep_err(a: np.ndarray, dtype: Any) -> np.ndarray:
    """Upper bound on |round_dtype(a) - a| elementwise (exact difference for float arrays)."""
    arr = np.asarray(a)
    u = unit_roundoff(dtype)
    if arr.dtype == object:  # rounded to float64 first, then to dtype
        u = 2 * max(u, unit_roundoff(np.float64))
        return _abs64(arr) * u * (1 + 2.0**-50) + _tiny(np.float32)
    if np.finfo(dtype).nmant >= np.finfo(arr.dtype).nmant:
        return np.zeros(arr.shape)  # widening is exact
    a64 = arr.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        # round-to-nearest keeps the rounded value within a factor 2 of a, so the float64
        # difference is exact (Sterbenz); overflow gives inf, which makes every bound inf
        d = np.abs(arr.astype(dtype).astype(np.float64) - a64)
    d = np.where(np.isfinite(d), d, np.inf)
    # a value that converts exactly stays exact unless it is subnormal in dtype (flush-to-zero)
    return d + np.where((d > 0) | (np.abs(a64) < 2 * _tiny(dtype)) & (a64 != 0), _tiny(dtype), 0.0)


def _sparse_round(W: Any, dtype: Any) -> Any:
    """A CSR float64 matrix rounded to ``dtype`` (entries that round to 0 dropped: they are exact
    zeros of the evaluation)."""
    Wd = W.astype(dtype)
    Wd.eliminate_zeros()
    return Wd


def _sparse_or_dense(M: np.ndarray) -> Any:
    """M itself, or a CSR copy when it is mostly zeros (cheaper products, same values)."""
    if M.size >= 4096 and np.count_nonzero(M) < 0.15 * M.size:
        from scipy import sparse

        return sparse.csr_matrix(M)
    return M


def _mm(A: np.ndarray, Bt: Any) -> np.ndarray:
    """A @ Bt where either factor may be mostly zero (then scipy.sparse does the product)."""
    from scipy import sparse

    As = _sparse_or_dense(A)
    if sparse.issparse(Bt):
        if sparse.issparse(As):
            return np.asarray((As @ Bt).toarray())
        return np.asarray((Bt.T @ A.T).T)
    if sparse.issparse(As):
        return np.asarray(As @ Bt)
    return A @ Bt


def _prod_up(A: np.ndarray, Bt: Any) -> np.ndarray:
    """Upper bound on A @ Bt for nonnegative float64 A, Bt (inflates the rounding of the product)."""
    n = A.shape[1] if A.ndim == 2 else 1
    g = _gamma(n + 2, unit_roundoff(np.float64))
    return _mm(A, Bt) * (1 + 2 * g) + (n + 1) * 2.0**-1022


def _act_bound(z_hat: np.ndarray, ez: np.ndarray, act: Activation, dtype: Any
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(â, e, nonzero): act of the computed z, a bound on |act(z') - act(z)| for every order's z',
    and a mask of the units that are NOT certainly an exact zero in every order."""
    a_hat = _act_float(z_hat, act)
    e = ez * float(act.lipschitz) * (1 + 2.0**-52)
    z64 = z_hat.astype(np.float64)
    reach = 2 * ez * (1 + 2.0**-48) + 2 * _tiny(np.float64)  # exact z and every z' lie in z64 ± reach
    nonzero = np.ones(z_hat.shape, dtype=bool)
    if act.kind == "hardtanh":
        e = np.where((z64 - reach >= 1) | (z64 + reach <= -1) | (ez == 0), 0.0, e)
    elif act.kind == "relu_like":
        flat = (z64 + reach <= 0) | ((ez == 0) & (z64 <= 0))
        e = np.where(flat, ez * float(act.s_minus) * (1 + 2.0**-52), e)
        if act.s_minus == 0:
            nonzero = ~flat
    if act.smooth:
        # tanh and softplus are 1-Lipschitz (e above); the libm evaluation itself is assumed accurate to
        # SMOOTH_ULPS units of roundoff relative to the result (glibc and numpy's SIMD kernels document
        # at most a few ulps), plus an absolute floor for results near 0 / in the subnormal range.
        # |â| + 2e bounds the result of every evaluation order.
        e = e + (np.abs(a_hat.astype(np.float64)) + 2 * e) * SMOOTH_ULPS * unit_roundoff(dtype) \
            + SMOOTH_ULPS * _tiny(dtype)
    if act.kind == "relu_like" and not (act.s_plus == 1 and act.s_minus == 0):
        # slopes are rounded to dtype and the product rounds once more
        zmax = np.abs(z64) + reach
        e = e + zmax * float(act.s_plus) * 3 * unit_roundoff(dtype) + _tiny(dtype)
    return a_hat, e, nonzero


def _gamma_vec(n: np.ndarray, u: float) -> np.ndarray:
    nu = n.astype(np.float64) * u
    with np.errstate(divide="ignore"):
        return np.where(nu < 1, nu / (1 - nu), np.inf) * (1 + 2.0**-50)


class _Prepared:
    """One affine map's rounded weights and their bounds, computed once for all chunks."""

    def __init__(self, W: Any, b: np.ndarray, dtype: Any) -> None:
        if is_sparse(W):
            self._init_sparse(W, b, dtype)
            return
        self.Wd, self.bd = to_float_array(W, dtype), to_float_array(b, dtype)
        self.WdT = _sparse_or_dense(np.ascontiguousarray(self.Wd.T))
        self.absWdT = _sparse_or_dense(np.abs(self.Wd.astype(np.float64)).T)
        self.absWT = _sparse_or_dense(_abs64(W).T)
        dW = _rep_err(W, dtype)
        self.dWT = _sparse_or_dense(dW.T) if np.any(dW) else None
        self.db = _rep_err(b, dtype)
        self.absbd = np.abs(self.bd.astype(np.float64))
        # terms of the computed sum that can be non-zero: the non-zero *rounded* weights (an entry
        # rounded to 0 contributes an exact 0; its representation error is in dW)
        self.row_nnz = np.count_nonzero(self.Wd, axis=1)
        self.in_dim = self.Wd.shape[1]
        # rows that compute exactly their bias in every order (idle / padding units)
        self.exact_rows = (self.row_nnz == 0) & ~np.any(dW != 0, axis=1) & (self.db == 0)

    def _init_sparse(self, W: Any, b: np.ndarray, dtype: Any) -> None:
        """The same quantities for a CSR float64 weight, never densified."""
        from scipy import sparse

        Wd = _sparse_round(W, dtype)
        self.Wd, self.bd = Wd, to_float_array(b, dtype)
        self.WdT = Wd.T.tocsr()
        self.absWdT = abs(Wd).astype(np.float64).T.tocsr()
        self.absWT = abs(W).T.tocsr()  # float64 weights: |W| is exact
        d = _rep_err(W.data, dtype)
        if np.any(d):
            dW = sparse.csr_matrix((d, W.indices.copy(), W.indptr.copy()), shape=W.shape)
            dW.eliminate_zeros()
            self.dWT = dW.T.tocsr()
            has_dw = np.diff(dW.indptr) > 0
        else:
            self.dWT, has_dw = None, np.zeros(W.shape[0], dtype=bool)
        self.db = _rep_err(b, dtype)
        self.absbd = np.abs(self.bd.astype(np.float64))
        self.row_nnz = np.diff(Wd.indptr)
        self.in_dim = W.shape[1]
        self.exact_rows = (self.row_nnz == 0) & ~has_dw & (self.db == 0)

    def row_gamma(self, u: float, k: int) -> np.ndarray:
        return _gamma_vec(self.row_nnz + k, u)


def _affine_bound(a_hat: np.ndarray, e: np.ndarray, nz: np.ndarray, P: _Prepared, dtype: Any,
                  extra: np.ndarray | None = None, e_extra: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Computed fl(a W^T + b [+ extra]) and a bound on |z' - (a W^T + b [+ extra])| valid for every
    evaluation order z' (see the soundness notes above)."""
    z_hat = _mm(a_hat, P.WdT).astype(dtype) + P.bd
    if extra is not None:
        z_hat = z_hat + extra
    k = 2 if extra is not None else 1  # the bias (and the skip term) add one rounding each
    u = unit_roundoff(dtype)
    # gamma_n with n = min(possibly non-zero inputs of the point, non-zeros of the row) + k
    gam = np.minimum(_gamma_vec(nz.sum(axis=1) + k, u)[:, None], P.row_gamma(u, k)[None, :])
    has_e = bool(np.any(e))
    amax = np.abs(a_hat.astype(np.float64)) + 2 * e if has_e else np.abs(a_hat.astype(np.float64))
    mass = _prod_up(amax, P.absWdT) + P.absbd
    if extra is not None:
        mass = mass + np.abs(extra.astype(np.float64)) + 2 * e_extra
    ez = gam * mass + P.db
    if has_e:
        ez = ez + _prod_up(e, P.absWT)
    if P.dWT is not None:
        ez = ez + _prod_up(amax, P.dWT)
    ez = ez * (1 + 2.0**-48) + (P.in_dim + k + 1) * _tiny(dtype)
    if extra is None and np.any(P.exact_rows):
        ez[:, P.exact_rows] = 0.0  # all products are exact zeros: z' = b exactly
    return z_hat, ez


def _bounded_chunk(net: Network, X64: np.ndarray, dtype: Any, prepared: list[Any]
                   ) -> tuple[np.ndarray, np.ndarray]:
    a_hat = X64.astype(dtype)
    e = _rep_err(X64, dtype)
    nz = (a_hat != 0) | (e > _tiny(dtype))
    for layer, P in zip(net.layers, prepared, strict=True):
        if isinstance(layer, Dense):
            z_hat, ez = _affine_bound(a_hat, e, nz, P, dtype)
            a_hat, e, nz = _act_bound(z_hat, ez, layer.activation, dtype)
        else:
            Pu, Pv = P
            z_hat, ez = _affine_bound(a_hat, e, nz, Pu, dtype)
            h_hat, eh, hnz = _act_bound(z_hat, ez, layer.activation, dtype)
            out, eo = _affine_bound(h_hat, eh, hnz, Pv, dtype, extra=a_hat, e_extra=e)
            a_hat, e = out, (eo + e) * (1 + 2.0**-52)
            nz = np.ones(a_hat.shape, dtype=bool)
    out64 = a_hat.astype(np.float64)
    if np.finfo(dtype).nmant > np.finfo(np.float64).nmant:
        # the returned float64 copy of an extended-precision result is itself rounded
        e = e + np.abs(a_hat - out64.astype(dtype)).astype(np.float64) * (1 + 2.0**-50) + 2.0**-1074
    bad = ~(np.isfinite(out64) & np.isfinite(e))
    return out64, np.where(bad, np.inf, e)


def forward_float_bounded(net: Network, X: np.ndarray, dtype: Any = np.float64
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(out, bound)``: the ``dtype`` evaluation and a rigorous elementwise bound on
    ``|out' - f(X)|`` where ``f`` is the network with exactly its stored weights evaluated in exact
    arithmetic on exactly the float64 inputs ``X``, and ``out'`` is the ``dtype`` evaluation in ANY
    summation order (numpy's, torch's, any BLAS; weights and inputs rounded to nearest in
    ``dtype``; with or without FMA and flush-to-zero). Non-finite results get an infinite bound.
    """
    X64 = np.asarray(X, dtype=np.float64)
    axis = _prune_axis(net)
    if axis is not None and X64.shape[0] > _PRUNE_MIN_POINTS:
        return _bounded_pruned(net, X64, dtype, axis)
    prepared: list[Any] = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            prepared.append(_Prepared(layer.weight, layer.bias, dtype))
        else:
            prepared.append((_Prepared(layer.U, layer.b, dtype), _Prepared(layer.V, layer.c, dtype)))
    widest = max([X64.shape[1], *[L.out_dim for L in net.layers],
                  *[L.hidden for L in net.layers if isinstance(L, Residual)]])
    step = max(1, _CHUNK_ELEMENTS // max(1, widest))
    outs, bnds = [], []
    for s in range(0, max(1, X64.shape[0]), step):
        o, b = _bounded_chunk(net, X64[s:s + step], dtype, prepared)
        outs.append(o)
        bnds.append(b)
    return np.concatenate(outs, axis=0), np.concatenate(bnds, axis=0)


# ---- pruned evaluation: exact-zero units dropped per chunk of points ---------------------------
# Wide gated networks (axisgate-5layer: a gate per group along one coordinate axis) have, for the
# points of one slab of that axis, almost every hidden unit an exact zero in every summation order.
# Points are sorted along the axis and cut into chunks; for each chunk, interval bounds over the box
# of its inputs (exact values, plus the deviation bound of any float evaluation, as in
# _affine_bound) certify which ReLU units are exact zeros for every point of the chunk and every
# order (upper end of the pre-activation + its deviation bound <= 0). Those units, and the units
# that feed only them, are removed; the rest — a small sub-network — is evaluated with the bound
# above. Sound: a removed unit contributes an exact 0 (or nothing) to every order's sums, so every
# order's value of the full network equals an order's value of the sub-network, which the sub-network's
# bound covers. Cost per chunk: a few sparse matrix-vector products (intervals), instead of
# points × width.
_PRUNE_MIN_POINTS = 512
_PRUNE_MIN_WIDTH = 512


def _prune_axis(net: Network) -> int | None:
    """The coordinate most first-layer rows read alone (an axis-gated network), when the network is
    wide, plain (Dense, float weights, monotone piecewise-linear activations); else None."""
    if len(net.layers) < 3 or max(la.out_dim for la in net.layers) < _PRUNE_MIN_WIDTH:
        return None
    for la in net.layers:
        if not isinstance(la, Dense) or la.weight.dtype == object or la.bias.dtype == object:
            return None
        if la.activation.smooth:
            return None
    W = net.layers[0].weight
    if is_sparse(W):
        nnz = np.diff(W.indptr)
        cols = W.indices[W.indptr[:-1][nnz == 1]]
    else:
        nnz = np.count_nonzero(W, axis=1)
        cols = np.argmax(W[nnz == 1] != 0, axis=1)
    if len(cols) < 16:
        return None
    return int(np.bincount(cols, minlength=W.shape[1]).argmax())


def _mv_up(M: Any, v: np.ndarray) -> np.ndarray:
    """Upper bound on M @ v for nonnegative float64 M, v (inflates the rounding of the products)."""
    n = M.shape[1]
    return np.asarray(M @ v).ravel() * (1 + 2 * _gamma(n + 2, unit_roundoff(np.float64))) \
        + (n + 1) * 2.0**-1022


def _ibp_layer(lo: np.ndarray, hi: np.ndarray, e: np.ndarray, P: _Prepared, W: Any, b: np.ndarray,
               act: Activation, dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact-value interval [lo', hi'] of act(W a + b) over a in [lo, hi], an upper bound e' on the
    deviation of any ``dtype`` evaluation (inputs within e of exact), and the mask of units that
    are exact zeros for every point of the box and every order."""
    Wp = W.maximum(0) if is_sparse(W) else np.maximum(W, 0)
    Wn = W.minimum(0) if is_sparse(W) else np.minimum(W, 0)
    z_lo = np.asarray(Wp @ lo + Wn @ hi).ravel() + b
    z_hi = np.asarray(Wp @ hi + Wn @ lo).ravel() + b
    amag = np.maximum(np.abs(lo), np.abs(hi))
    absW = abs(W) if is_sparse(W) else np.abs(W)
    n = P.row_nnz + 2
    # float64 rounding of this interval computation (outward)
    r64 = _gamma_vec(n, unit_roundoff(np.float64)) * (_mv_up(absW, amag) + np.abs(b)) \
        + (W.shape[1] + 2) * 2.0**-1022
    z_lo, z_hi = z_lo - 2 * r64, z_hi + 2 * r64
    # deviation of any dtype evaluation (the terms of _affine_bound, with per-row gamma)
    amax = amag + 2 * e
    u = unit_roundoff(dtype)
    absWd = P.absWdT.T
    ez = P.row_gamma(u, 1) * (_mv_up(absWd, amax) + P.absbd) + P.db
    if np.any(e):
        ez = ez + _mv_up(absW, e)
    if P.dWT is not None:
        ez = ez + _mv_up(P.dWT.T, amax)
    ez = ez * (1 + 2.0**-48) + (P.in_dim + 2) * _tiny(dtype)
    ez = np.where(P.exact_rows, 0.0, ez)
    lip = float(act.lipschitz)
    zero = np.zeros(len(b), dtype=bool)
    if act.kind == "identity":
        return z_lo, z_hi, ez, zero
    if act.kind == "hardtanh":
        return np.clip(z_lo, -1, 1), np.clip(z_hi, -1, 1), ez, zero
    sp, sm = float(act.s_plus), float(act.s_minus)
    e_out = ez * lip * (1 + 2.0**-52)
    if not (act.s_plus == 1 and act.s_minus == 0):
        zmax = np.maximum(np.abs(z_lo), np.abs(z_hi)) + ez
        e_out = e_out + zmax * sp * 3 * u + _tiny(dtype)
    if act.s_minus == 0:
        zero = z_hi + 2 * ez * (1 + 2.0**-48) <= 0
        e_out = np.where(zero, 0.0, e_out)

    def f(z: np.ndarray) -> np.ndarray:
        return np.where(z >= 0, sp * z, sm * z)

    # monotone: exact outputs lie in [f(lo), f(hi)] (rounded outward by one ulp-ish factor)
    lo2, hi2 = f(z_lo), f(z_hi)
    return lo2 - np.abs(lo2) * 2.0**-50, hi2 + np.abs(hi2) * 2.0**-50, e_out, zero


def _bounded_pruned(net: Network, X64: np.ndarray, dtype: Any, axis: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    prepared = [_Prepared(la.weight, la.bias, dtype) for la in net.layers]
    order = np.argsort(X64[:, axis], kind="stable")
    out = np.empty((X64.shape[0], net.out_dim))
    bnd = np.empty((X64.shape[0], net.out_dim))
    # chunk ≈ 5·√N points: the sub-networks' width grows with the chunk, the interval passes' count
    # (each O(stored parameters)) shrinks with it
    chunk = max(256, min(8192, int(5 * math.sqrt(X64.shape[0]))))
    for s in range(0, X64.shape[0], chunk):
        idx = order[s:s + chunk]
        Xc = X64[idx]
        lo, hi = Xc.min(axis=0), Xc.max(axis=0)
        e = _rep_err(Xc, dtype).max(axis=0)
        zeros = []
        for la, P in zip(net.layers, prepared, strict=True):
            lo, hi, e, z = _ibp_layer(lo, hi, e, P, la.weight, la.bias, la.activation, dtype)
            zeros.append(z)
        need = [np.ones(net.out_dim, dtype=bool)]
        for k in range(len(net.layers) - 2, -1, -1):
            W = net.layers[k + 1].weight
            Wk = W[np.flatnonzero(need[0])]
            used = (np.asarray(abs(Wk).sum(axis=0)).ravel() > 0) if is_sparse(Wk) else \
                np.any(Wk != 0, axis=0)
            need.insert(0, used & ~zeros[k])
        layers = []
        prev = np.arange(net.in_dim)
        for la, keep in zip(net.layers, need, strict=True):
            rows = np.flatnonzero(keep)
            W = la.weight[rows][:, prev]
            layers.append(Dense(W, la.bias[rows], la.activation))
            prev = rows
        sub = Network(layers)
        sub_prep = [_Prepared(la.weight, la.bias, dtype) for la in sub.layers]
        widest = max([sub.in_dim, *[la.out_dim for la in sub.layers]])
        step = max(1, _CHUNK_ELEMENTS // max(1, widest))
        for t in range(0, len(idx), step):
            o, b = _bounded_chunk(sub, Xc[t:t + step], dtype, sub_prep)
            out[idx[t:t + step]] = o
            bnd[idx[t:t + step]] = b
    return out, bnd


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


def _sparse_affine(entries: list[Any], rows: int, cols: int, W: Any, b: np.ndarray, kind: str
                   ) -> list[Any]:
    """Entries of A W^T + b for a CSR float64 W: each output sums only the row's stored entries."""
    conv = (lambda v: flint.arb(float(v))) if kind == "arb" else (lambda v: _fmpq(float(v)))
    barr = np.asarray(b)
    bias = [flint.arb(_fmpq(v)) if barr.dtype == object else conv(v) for v in barr.ravel()] \
        if kind == "arb" else list(to_exact_array(barr).ravel())
    ptr, idx = W.indptr, W.indices
    vals = [conv(v) for v in W.data]
    out_dim = W.shape[0]
    out: list[Any] = []
    for r in range(rows):
        row = entries[r * cols:(r + 1) * cols]
        for o in range(out_dim):
            acc = bias[o]
            for k in range(ptr[o], ptr[o + 1]):
                acc = acc + row[idx[k]] * vals[k]
            out.append(acc)
    return out


def _forward_generic(net: Network, X: np.ndarray, kind: str) -> list[list[Any]]:
    X64 = np.asarray(X, dtype=np.float64)
    rows, cols = X64.shape
    if kind == "arb":
        entries: list[Any] = [flint.arb(float(v)) for v in X64.ravel()]
    else:
        entries = list(to_exact_array(X64).ravel())
    act_fn = _act_ball if kind == "arb" else _exact_act
    for layer in net.layers:
        if isinstance(layer, Dense) and layer.sparse:
            zs = _sparse_affine(entries, rows, cols, layer.weight, layer.bias, kind)
            cols = layer.out_dim
            entries = [act_fn(v, layer.activation) for v in zs]
        elif isinstance(layer, Dense):
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
