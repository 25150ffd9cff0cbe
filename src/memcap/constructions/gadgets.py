"""Small reusable weight gadgets shared by every construction (each tested on its own)."""

from __future__ import annotations

import numpy as np

from memcap.constructions.base import Field
from memcap.network import HARDTANH, Activation, Dense

__all__ = ["hardtanh_to_relu_like", "pad_units", "affine_output"]


def hardtanh_to_relu_like(layers: list[Dense], act: Activation, field: Field) -> list[Dense]:
    """Gadget H (Yun et al. 2019, Sec. 2 / spec Sec. 0): replace every hard-tanh unit by two
    ReLU-like units.

    ``sH(t) = (sR(t+1) - sR(t-1) - s+ - s-) / (s+ - s-)``: a unit with pre-activation ``z`` becomes
    units ``z+1`` and ``z-1``; an outgoing weight ``w`` becomes ``w/(s+-s-)`` and ``-w/(s+-s-)``, and
    ``-w (s+ + s-)/(s+ - s-)`` moves into the downstream bias. Units are interleaved (2i, 2i+1).
    """
    if act.kind == "hardtanh":
        return layers
    if act.kind != "relu_like":
        raise ValueError(f"cannot convert hard-tanh to {act.name}")
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
