"""Yun, Sra & Jadbabaie (2019): widths, gate sizes and conditions of Theorems 3.1/4.1, Prop. 3.2,
Cor. 4.2, and Theorem 3.3's piece bound — pure formulas, no construction."""

from __future__ import annotations

import math
from typing import Any

from memcap.errors import ConditionError
from memcap.network import Activation
from memcap.theory.conditions import Condition

__all__ = ["three_layer_free_integers", "three_layer_minimal_widths", "gate_units", "gate_count",
           "cor42_theorem_width", "activation_final_units", "resnet_default_widths", "relu_units_per_gate",
           "classifier_conditions", "piece_bound"]


def three_layer_free_integers(d1: int, d2: int, d_y: int, activation: Activation) -> tuple[int, int]:
    """Theorem 3.1's free integers: hard-tanh p = 2⌊d1/2⌋, q = 2⌊d2/(2 d_y)⌋; ReLU-like
    p = 2⌊d1/4⌋, q = 2⌊d2/(4 d_y)⌋ (every unit doubled by Gadget H)."""
    k = 2 if activation.kind == "hardtanh" else 4
    return 2 * (d1 // k), 2 * (d2 // (k * d_y))


def three_layer_minimal_widths(N: int, d_y: int, activation: Activation, d_x: int = 1
                               ) -> tuple[int, int]:
    """The widths (d1, d2) with the fewest hidden neurons meeting Theorem 3.1's condition
    (ties broken by fewer parameters)."""
    k = 1 if activation.kind == "hardtanh" else 2
    best: tuple[int, int, int, int] | None = None
    for p in range(2, 2 * math.ceil(N / 2) + 1, 2):
        q = 2 * math.ceil(N / (2 * p))
        d1, d2 = k * p, k * d_y * q
        neurons = d1 + d2
        params = d1 * (d_x + 1) + d2 * (d1 + 1) + d_y * (d2 + 1)
        if best is None or (neurons, params) < (best[0], best[1]):
            best = (neurons, params, d1, d2)
        if d1 >= best[0]:  # layer 1 alone is already wider than the best pair: stop
            break
    assert best is not None
    return best[2], best[3]


def gate_units(activation: Activation, gate: int | str | None = None) -> int:
    """Units per gate: hard-tanh 2; ReLU-like 4 (the paper, via Gadget H) or 3 (``gate="3unit"``; the
    old spelling ``gate=3`` still works). ``None`` / ``"paper"`` is the paper's choice (the option
    ``gate`` means the same in every method: :data:`memcap.constructions.options.GATE`)."""
    g = {None: None, "paper": None, "2unit": 2, "3unit": 3, "4unit": 4}.get(gate, gate) \
        if not isinstance(gate, int) else gate
    if activation.kind == "hardtanh":
        if g not in (None, 2):
            raise ConditionError(f"a hard-tanh gate has 2 units, got gate={gate!r}")
        return 2
    if activation.kind != "relu_like":
        raise ConditionError(f"the gate σ_G needs a hard-tanh or ReLU-like activation, not {activation.name}")
    if g not in (None, 3, 4):
        raise ConditionError(f"a ReLU-like gate has 4 units (paper) or 3 (gate='3unit'), got gate={gate!r}")
    return 4 if g is None else int(g)


def gate_count(class_counts: Any, d_x: int) -> int:
    """G = Σ_k ⌈N_k / d_x⌉ (App. F.1), at most N/d_x + d_y."""
    return int(sum(-(-int(n) // d_x) for n in class_counts if n))


def cor42_theorem_width(N: int, d_x: int, d_y: int, activation: Activation, gate: str = "paper") -> int:
    """Corollary 4.2's width condition as printed: the smallest integer d1 ≥ kN/d_x + k·d_y
    (k = 2 hard-tanh, 4 ReLU-like; 3 for the 3-unit gate, our improvement). CIFAR-10: 106."""
    k = gate_units(activation, gate)
    return -(-(k * N + k * d_y * d_x) // d_x)


def activation_final_units(activation: Activation) -> int:
    return 1 if activation.kind == "hardtanh" else 2


def resnet_default_widths(G: int, k: int, d_y: int, activation: Activation, layers: int = 2) -> list[int]:
    """Gates spread evenly over ``min(layers, G)`` residual layers, then d_L."""
    nl = max(1, min(layers, G))
    per = [G // nl + (1 if i < G % nl else 0) for i in range(nl)]
    return [k * g for g in per] + [activation_final_units(activation) * d_y]


def relu_units_per_gate(act: Activation, gate: str) -> int:
    """Units one gate σ_G costs: hard-tanh 2; ReLU-like 4 (paper: two σ_H via Gadget H) or 3 with
    ``gate="3unit"``."""
    if gate not in ("paper", "3unit"):
        raise ValueError(f"gate must be 'paper' (4 ReLU-like units) or '3unit', got {gate!r}")
    if act.kind == "hardtanh":
        if gate == "3unit":
            raise ValueError("gate='3unit' is a ReLU-like gadget; a hard-tanh gate already needs only "
                             "2 units (use gate='paper')")
        return 2
    return 3 if gate == "3unit" else 4


def classifier_conditions(N: int, d_y: int, widths: tuple[int, int, int], act: Activation,
                          gate: str = "paper") -> list[Condition]:
    """Prop. 3.2's two conditions with their numbers (d1 d2 part, gate layer part)."""
    d1, d2, d3 = widths
    k = 2 if act.kind == "hardtanh" else 4
    g = relu_units_per_gate(act, gate)
    lhs = 4 * (d1 // k) * (d2 // k)
    kind = "hard-tanh" if k == 2 else "ReLU-like"
    return [
        Condition(f"4·⌊d1/{k}⌋·⌊d2/{k}⌋ ≥ N ({kind})", {"d1": d1, "d2": d2, "lhs": lhs, "N": N}, lhs >= N),
        Condition(f"d3 ≥ {g}·d_y ({kind}{', 3-unit gate' if gate == '3unit' else ''})",
                  {"d3": d3, "d_y": d_y, "needed": g * d_y}, d3 >= g * d_y),
    ]


def piece_bound(widths: list[int] | tuple[int, ...], p: int, residual: bool = False) -> int:
    """Pieces of any network with these hidden widths and a p-piece activation along any line.

    Union-of-breakpoints form of Lemma D.1: with B breakpoints so far, a layer of width d adds at most
    (p - 1)(B + 1) per unit: ``B' = B + d (p - 1)(B + 1)`` (residual blocks likewise). For 2 layers this
    is Theorem 3.3's (p-1)d1 + 1; for 3 layers (p-1)²d1d2 + (p-1)(d1+d2) + 1 ≤ p(p-1)d1d2 + (p-1)d2 + 1.
    """
    B = 0
    for d in widths:
        B = B + d * (p - 1) * (B + 1)
    return B + 1
