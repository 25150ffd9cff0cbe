"""Small reusable weight gadgets shared by every construction (each tested on its own)."""

from __future__ import annotations

from typing import Any

import numpy as np

from memcap.constructions.base import Field
from memcap.network import HARDTANH, Activation, Dense

__all__ = ["hardtanh_to_relu_like", "pad_units", "affine_output", "HT", "carrier", "gate_pair", "gate_layer"]

#: unit tag for :func:`hardtanh_to_relu_like`: an ordinary hard-tanh unit (Gadget H, 2 ReLU units)
HT: tuple[Any, ...] = ("ht",)


def carrier(lb: Any) -> tuple[Any, ...]:
    """Unit tag: a hard-tanh unit whose pre-activation ``z`` stays in ``[lb, 1]`` on the data
    (``lb > -1``), so it is the identity there. In ReLU-like form it is ONE unit with pre-activation
    ``z - lb >= 0``; downstream reads ``r/s+ + lb``."""
    return ("carrier", lb)


def gate_pair(partner: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Unit tags for a gate σ_G(t) built as the hard-tanh pair ``(2t+1, -2t+1)`` at indices
    ``(i, partner)`` whose outgoing weights are equal, converted to memcap's 3-unit ReLU
    gate (erratum YSJ-9) instead of Gadget H's 4 units. Returns (tag of unit i, tag of the
    partner)."""
    return ("gate3", partner), ("gate3_partner",)


def gate_layer(w: np.ndarray, b: Any, centers: np.ndarray, halfwidth: Any, field: Field,
               three_unit: bool = False) -> tuple[np.ndarray, np.ndarray, list[tuple[Any, ...]], np.ndarray]:
    """Gadget G (App. C, F.1): one gate per center γ_j on the scalar ``S = w·a + b``.

    ``σ_G(t) = 1 - |t|`` for ``|t| <= 1``, else 0, ``= (σ_H(2t+1) + σ_H(-2t+1))/2`` with
    ``t_j = (S - γ_j)/halfwidth``. Returns ``(W, bias, tags, R)``: hard-tanh units ``2j`` (pre-activation
    ``2t_j+1``) and ``2j+1`` (``-2t_j+1``), their tags (Gadget H, or the 3-unit gate) and the readout
    ``R`` (n_gates, 2 n_gates) with ``R @ a = (σ_G(t_j))_j``. With γ_j spaced ≥ halfwidth apart, the
    gate of γ_j outputs 1 at S = γ_j and 0 at every other center.
    """
    n = len(centers)
    w = field.array(w) if not isinstance(w, np.ndarray) else w
    k = 2 / field.const(halfwidth) if not isinstance(halfwidth, np.ndarray) else 2 / halfwidth
    rows, bias, tags = [], [], []
    R = field.zeros((n, 2 * n))
    half = field.const(1) / 2
    for j in range(n):
        zt = k * (b - centers[j])  # 2 t_j at a = 0
        rows += [w * k, -(w * k)]
        bias += [zt + 1, -zt + 1]
        tags += list(gate_pair(2 * j + 1)) if three_unit else [HT, HT]
        R[j, 2 * j] = half
        R[j, 2 * j + 1] = half
    W = np.stack(rows) if rows else field.zeros((0, len(w)))
    return W, np.array(bias, dtype=object if field.exact else np.float64), tags, R


def hardtanh_to_relu_like(layers: list[Dense], act: Activation, field: Field,
                          tags: dict[int, list[tuple[Any, ...]]] | None = None) -> list[Dense]:
    """Gadget H (Yun et al. 2019, Sec. 2): replace every hard-tanh unit by two
    ReLU-like units.

    ``sH(t) = (sR(t+1) - sR(t-1) - s+ - s-) / (s+ - s-)``: a unit with pre-activation ``z`` becomes
    units ``z+1`` and ``z-1``; an outgoing weight ``w`` becomes ``w/(s+-s-)`` and ``-w/(s+-s-)``, and
    ``-w (s+ + s-)/(s+ - s-)`` moves into the downstream bias. Units are interleaved (2i, 2i+1).

    ``tags`` (layer index -> one tag per unit, default :data:`HT`) marks units that convert more
    cheaply: :func:`carrier` units become ONE ReLU-like unit, :func:`gate_pair` gates THREE
    (``σ_G(t) = (sR(t+1) - 2 sR(t) + sR(t-1))/(s+ - s-)``). New units keep the order
    of the units they come from. A hard-tanh target returns the layers unchanged.
    """
    if act.kind == "hardtanh":
        return layers
    if act.kind != "relu_like":
        raise ValueError(f"cannot convert hard-tanh to {act.name}")
    if tags is not None:
        return _convert_tagged(layers, act, field, tags)
    sp, sm = field.const(act.s_plus), field.const(act.s_minus)
    den = sp - sm
    out = [Dense(layer.weight.copy(), layer.bias.copy(), layer.activation) for layer in layers]
    one = field.const(1)
    for li, layer in enumerate(out):
        if layer.activation != HARDTANH:
            continue
        W, b = layer.weight, layer.bias
        W2 = np.repeat(W, 2, axis=0)
        b2 = np.repeat(b, 2)
        b2[0::2] = b2[0::2] + one
        b2[1::2] = b2[1::2] - one
        out[li] = Dense(W2, b2, act)
        nxt = out[li + 1]
        Wn = nxt.weight
        Wn2 = np.repeat(Wn, 2, axis=1)
        Wn2[:, 0::2] = Wn2[:, 0::2] / den
        Wn2[:, 1::2] = -Wn2[:, 1::2] / den
        bn = nxt.bias - Wn.sum(axis=1) * ((sp + sm) / den)
        out[li + 1] = Dense(Wn2, bn, nxt.activation)
    return out


def pad_units(layers: list[Dense], index: int, width: int, field: Field) -> list[Dense]:
    """Widen hidden layer ``index`` to ``width`` with idle units (zero weights in and out).

    An idle unit outputs act(0) = 0 for ReLU-like and hard-tanh, so the function is unchanged.
    """
    layer, nxt = layers[index], layers[index + 1]
    extra = width - layer.out_dim
    if extra < 0:
        raise ValueError(f"layer {index} already has {layer.out_dim} > {width} units")
    if extra == 0:
        return layers
    W = np.concatenate([layer.weight, field.zeros((extra, layer.in_dim))], axis=0)
    b = np.concatenate([layer.bias, field.zeros(extra)])
    Wn = np.concatenate([nxt.weight, field.zeros((nxt.out_dim, extra))], axis=1)
    out = list(layers)
    out[index] = Dense(W, b, layer.activation)
    out[index + 1] = Dense(Wn, nxt.bias, nxt.activation)
    return out


def affine_output(layer: Dense, scale: np.ndarray, center: np.ndarray) -> Dense:
    """Compose an output layer with ``y -> scale * y + center`` (undo a target rescaling)."""
    return Dense(layer.weight * scale[:, None], layer.bias * scale + center, layer.activation)


def _convert_tagged(layers: list[Dense], act: Activation, field: Field,
                    tags: dict[int, list[tuple[Any, ...]]]) -> list[Dense]:
    sp, sm = field.const(act.s_plus), field.const(act.s_minus)
    den = sp - sm
    one, half = field.const(1), field.const(1) / 2
    out = [Dense(layer.weight.copy(), layer.bias.copy(), layer.activation) for layer in layers]
    for li, layer in enumerate(out):
        if layer.activation != HARDTANH:
            continue
        tl = tags.get(li, [HT] * layer.out_dim)
        if len(tl) != layer.out_dim:
            raise ValueError(f"layer {li} has {layer.out_dim} units but {len(tl)} tags")
        W, b, nxt = layer.weight, layer.bias, out[li + 1]
        Wn = nxt.weight
        # each new unit: (source unit, α, β) with pre-activation α z_src + β, and its outgoing column
        # as a combination of old columns; plus a downstream bias shift
        rows, biases, cols = [], [], []
        shift = field.zeros(nxt.out_dim)
        for i, tag in enumerate(tl):
            if tag[0] == "ht":
                rows += [W[i], W[i]]
                biases += [b[i] + one, b[i] - one]
                cols += [Wn[:, i] / den, -Wn[:, i] / den]
                shift = shift - Wn[:, i] * ((sp + sm) / den)
            elif tag[0] == "carrier":
                lb = field.const(tag[1])
                rows.append(W[i])
                biases.append(b[i] - lb)
                cols.append(Wn[:, i] / sp)
                shift = shift + Wn[:, i] * lb
            elif tag[0] == "gate3":
                j = int(tag[1])
                if tl[j][0] != "gate3_partner" or np.any(Wn[:, i] != Wn[:, j]):
                    raise ValueError(f"layer {li}: unit {i} is a 3-unit gate but unit {j} is not its "
                                     "partner with equal outgoing weights")
                w_sum = Wn[:, i] + Wn[:, j]
                for beta, c in ((half, one), (-half, -2 * one), (-3 * half, one)):
                    rows.append(W[i] * half)  # z_i = 2t + 1  ->  t + 1, t, t - 1
                    biases.append(b[i] * half + beta)
                    cols.append(w_sum * (c / den))
            elif tag[0] == "gate3_partner":
                continue
            else:
                raise ValueError(f"unknown unit tag {tag!r}")
        in_dim = W.shape[1]
        newW = np.stack(rows) if rows else field.zeros((0, in_dim))
        newb = np.array(biases, dtype=b.dtype) if biases else field.zeros(0)
        newWn = np.stack(cols, axis=1) if cols else field.zeros((nxt.out_dim, 0))
        out[li] = Dense(newW, newb, act)
        out[li + 1] = Dense(newWn, nxt.bias + shift, nxt.activation)
    return out
