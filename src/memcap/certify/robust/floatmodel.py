"""Robustness claims about a *float32 model* (an exported ONNX file), sound for its float evaluation.

The certificates of :mod:`memcap.certify.robust.bounds` are about the exact network. A model exported
with float32 weights and evaluated in float32 (onnxruntime, a verifier's torch re-implementation,
any BLAS) computes something slightly different. This module makes claims about that computation:

* the *stored* model is the network whose weights are exactly the float32 numbers in the file
  (:func:`round_network`; read them back from the file, see :func:`memcap.io.suite.network_from_onnx`);
* its float32 evaluation on a float32 input ``x̃`` from the box ``[lo, hi]`` is modelled as the exact
  network with an additive *rounding noise* ``e_k`` on every pre-activation,
  ``z̃_k = W_k ã_{k-1} + b_k + e_k``, ``|e_k| <= ε_k``, where ``ã`` are the computed (float32)
  activations. ReLU and identity are exact on floats. Higham's bound for a dot product of ``n``
  terms plus a bias, in ANY summation order, with or without FMA:
  ``|e| <= γ_{n+2} (|W| |ã| + |b|)`` with ``γ_m = m u / (1 - m u)``, ``u = 2^-24``, plus
  ``(n + 2 + Σ|W_j|)·2^-125`` for underflow (this also covers flush-to-zero / denormals-are-zero
  kernels, whose error per operation is below 2^-126, and a denormal input read as zero). ``|ã|`` is bounded
  by the noisy interval propagation itself (:func:`noise_bounds`), layer by layer. A row with a
  single term ``±1·a`` and no bias (the carry channels of yu-robust) is computed exactly: ε = 0.
* the noise enters the existing sound bound machinery as an *interval bias* (the ``br`` radius of
  :class:`~memcap.certify.robust.bounds.Op`), so IBP and CROWN give lower bounds on every margin
  that hold for the exact, the float64 and every float32 evaluation of the stored model at once;
  the exact MILP tier (:mod:`.exact`) takes the same noise as range rows.

Every input of a float32 model is a float32 number; a box whose end points are float32 numbers
(:func:`float32_box` rounds outward) contains every rounding of a real point of the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memcap.certify.robust.bounds import Op, act_box, bound_margins
from memcap.certify.robust.floatbound import Lin, down, up
from memcap.errors import OptionError
from memcap.network import Dense, Network, Residual
from memcap.numerics import to_float_array

__all__ = ["round_network", "float32_box", "noise_bounds", "noisy_ops", "certify_box", "BoxCertificate",
           "UNIT", "dense_relu_only"]

#: unit roundoff of the evaluation formats
UNIT = {"float32": 2.0**-24, "float64": 2.0**-53}
#: per-operation absolute error floor (underflow, flush-to-zero)
TINY = {"float32": 2.0**-125, "float64": 2.0**-1021}


def _dtype(name: str) -> Any:
    if name not in UNIT:
        raise OptionError(f"the evaluation format must be float32 or float64, got {name!r}")
    return np.float32 if name == "float32" else np.float64


def round_network(net: Network, dtype: str = "float32") -> Network:
    """The network whose weights are ``net``'s rounded to nearest in ``dtype`` (stored as float64
    arrays, so the values are exactly the ``dtype`` numbers an exported file holds)."""
    dt = _dtype(dtype)

    def r(a: np.ndarray) -> np.ndarray:
        out = to_float_array(np.asarray(a), dt).astype(np.float64)
        if not np.all(np.isfinite(out)):
            big = float(np.max(np.abs(to_float_array(a))))
            raise OptionError(f"a weight overflows {dtype} (max |w| = {big:.3g})")
        return out

    layers: list[Any] = []
    for L in net.layers:
        if isinstance(L, Dense):
            layers.append(Dense(r(L.weight), r(L.bias), L.activation))
        else:
            layers.append(Residual(r(L.U), r(L.b), r(L.V), r(L.c), L.activation))
    return Network(layers, dict(net.meta or {}))


def dense_relu_only(net: Network) -> str | None:
    """None when every layer is Dense with ReLU or identity activation, else why not."""
    for k, L in enumerate(net.layers):
        if not isinstance(L, Dense):
            return f"layer {k} is a residual block"
        a = L.activation
        if not (a.kind == "identity" or (a.kind == "relu_like" and a.s_plus == 1 and a.s_minus == 0)):
            return f"layer {k} has activation {a.name} (only relu and identity are supported)"
    return None


def float32_box(lo: np.ndarray, hi: np.ndarray, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """The smallest box with ``dtype`` end points containing ``[lo, hi]`` (as float64 arrays)."""
    dt = _dtype(dtype)
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    l32 = lo.astype(dt)
    h32 = hi.astype(dt)
    l32 = np.where(l32.astype(np.float64) > lo, np.nextafter(l32, dt(-np.inf)), l32)
    h32 = np.where(h32.astype(np.float64) < hi, np.nextafter(h32, dt(np.inf)), h32)
    return l32.astype(np.float64), h32.astype(np.float64)


def _exact_rows(W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows computed exactly in any format: one term ±1·a and no bias, or no term at all."""
    nnz = np.count_nonzero(W, axis=1)
    unit = np.all((W == 0) | (np.abs(W) == 1.0), axis=1)
    return ((nnz == 1) & unit & (b == 0)) | (nnz == 0)


def noise_bounds(net: Network, lo: np.ndarray, hi: np.ndarray, dtype: str = "float32",
                 boxes: list[tuple[np.ndarray, np.ndarray]] | None = None) -> list[np.ndarray]:
    """Per layer, ``ε_k``: a bound on the rounding noise of every pre-activation when the stored
    model (float weights) is evaluated in ``dtype`` on any float input in ``[lo, hi]`` (rows are
    boxes; shape (P, d)). ``boxes``, if given, are already proven pre-activation boxes of the
    computed values (e.g. CROWN-tightened ones from an earlier pass) and replace IBP's."""
    if (why := dense_relu_only(net)) is not None:
        raise OptionError(f"float-model bounds support dense ReLU networks only: {why}")
    u = UNIT[dtype]
    lo = np.atleast_2d(np.asarray(lo, np.float64))
    hi = np.atleast_2d(np.asarray(hi, np.float64))
    alo, ahi = lo, hi
    eps_all: list[np.ndarray] = []
    for k, L in enumerate(net.layers):
        W, b = np.asarray(L.weight, np.float64), np.asarray(L.bias, np.float64)
        lin = Lin(W)
        n = W.shape[1]
        g = (n + 2) * u / (1 - (n + 2) * u) * (1 + 2.0**-40)
        mag = np.maximum(np.abs(alo), np.abs(ahi))
        S = up(lin.right_abs_upper(mag) + np.abs(b))
        # underflow / flush-to-zero: below TINY per operation; a denormal input read as zero
        # (denormals-are-zero) loses at most |w|·TINY per term
        eps = up(up(g * S) + up((n + 2 + np.abs(W).sum(axis=1)) * TINY[dtype]))
        eps[:, _exact_rows(W, b)] = 0.0
        eps_all.append(eps)
        if boxes is not None:
            zlo, zhi = boxes[k]
        else:
            c = (alo + ahi) / 2
            rad = np.maximum(up(ahi - c), up(c - alo))
            zc, E = lin.right_err(c, b)
            R = up(up(lin.right_abs_upper(rad) + E) + eps)
            zlo, zhi = down(zc - R), up(zc + R)
        alo, ahi = act_box(np.atleast_2d(zlo), np.atleast_2d(zhi), L.activation)
    return eps_all


def noisy_ops(net: Network, eps: list[np.ndarray]) -> list[Op]:
    """The layers of ``net`` (float weights, exact) with the rounding noise ``eps`` (one box: the max
    over rows is taken) as an interval bias, for :func:`~memcap.certify.robust.bounds.bound_margins`."""
    ops = []
    for L, e in zip(net.layers, eps, strict=True):
        W = np.asarray(L.weight, np.float64)
        b = np.asarray(L.bias, np.float64)
        ops.append(Op("dense", W, np.zeros_like(W), b, np.max(np.atleast_2d(e), axis=0), L.activation))
    return ops


@dataclass
class BoxCertificate:
    """Certified lower bound on ``min over the box of Y_label - max_{c != label} Y_c`` for every
    evaluation of the stored model in ``dtype`` (and in exact or float64 arithmetic)."""

    margin: float
    by: str                         # "ibp" | "crown" | "none"
    per_class: np.ndarray           # lower bound on Y_label - Y_c per class (+inf at the label)
    dtype: str
    z_bounds: list[tuple[np.ndarray, np.ndarray]]
    eps: list[np.ndarray]

    @property
    def robust(self) -> bool:
        return self.margin > 0


def certify_box(net: Network, lo: np.ndarray, hi: np.ndarray, label: int, dtype: str = "float32",
                crown: bool = True, refine: bool = True) -> BoxCertificate:
    """Lower bound on the label's margin over the box ``[lo, hi]`` for the stored model ``net``
    evaluated in ``dtype`` (any summation order). ``net`` must hold exactly the model's weights
    (see :func:`round_network`); ``lo``/``hi`` should have ``dtype`` end points (:func:`float32_box`).
    With ``refine``, the noise is recomputed once from the CROWN-tightened boxes of a first pass."""
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    if lo.shape != (net.in_dim,) or hi.shape != lo.shape or np.any(lo > hi):
        raise OptionError(f"the box needs lo <= hi of length {net.in_dim}")
    c = (lo + hi) / 2
    r = float(np.max(np.maximum(up(hi - c), up(c - lo))))
    r = r if r > 0 else 2.0**-1074
    eps = noise_bounds(net, lo, hi, dtype)
    best: BoxCertificate | None = None
    for rnd in range(2 if refine else 1):
        ops = noisy_ops(net, eps)
        res = bound_margins(net, c[None, :], np.array([label]), r, "inf", crown="auto" if crown else False,
                            ops=ops)
        ibp_m = float(res.ibp[0])
        cr = float(res.crown[0]) if res.crown is not None else -np.inf
        m = max(ibp_m, cr)
        by = "ibp" if ibp_m > 0 else "crown" if cr > 0 else "none"
        cert = BoxCertificate(m, by, res.per_class[0], dtype, res.z_bounds[0], eps)
        if best is None or cert.margin > best.margin:
            best = cert
        if cert.robust or rnd == 1:
            break
        tight = [(zl[None, :], zh[None, :]) for zl, zh in res.z_bounds[0]]
        eps = noise_bounds(net, lo, hi, dtype, boxes=tight)
    assert best is not None
    return best
