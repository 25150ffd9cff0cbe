"""Proposition 3.2 of Yun, Sra & Jadbabaie (2019): the 4-layer classifier (App. C).

Layers 1-2 are Theorem 3.1's network (App. B) fitting the scalar class numbers ρ_j; layer 3 is one
gate σ_G per class (Gadget G) that lets ρ_j through and blocks every other class; the output reads
the gates as a one-hot vector. Errata: docs/errata.md.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import (
    Certificate,
    Condition,
    ConditionError,
    Construction,
    Field,
    register,
)
from memcap.constructions.gadgets import HT, gate_layer, hardtanh_to_relu_like, pad_units
from memcap.constructions.options import ACTIVATION, CANDIDATES, GATE, MARGIN, SEED, WIDTHS
from memcap.constructions.yun2019.three_layer import sorted_projection, thm31_block
from memcap.data.dataset import Dataset
from memcap.network import HARDTANH, IDENTITY, Activation, Dense, Network, as_activation
from memcap.theory.yun2019 import (
    classifier_conditions,
    relu_units_per_gate,
    three_layer_free_integers,
    three_layer_minimal_widths,
)

__all__ = ["four_layer_classifier", "classifier_sizes", "class_numbers", "sorted_projection",
           "padded_neighbours"]

REFERENCE = "Yun, Sra & Jadbabaie (2019), Proposition 3.2; proof in Appendix C"


# ---- shared with Prop. 3.4 (deep.py) -------------------------------------------------------------
def padded_neighbours(c: np.ndarray, delta: Any, n: int, F: Field) -> np.ndarray:
    """``c_0, c_1..c_n, c_{n+1}``: the sorted projections padded on the right with virtual points
    ``c_N + s·δ`` up to n, extended by δ at both ends (App. B.2)."""
    N = len(c)
    if n > N:
        c = np.concatenate([c, c[-1] + delta * F.array(np.arange(1, n - N + 1))])
    return np.concatenate([[c[0] - delta], c, [c[-1] + delta]])


def class_numbers(n_classes: int, F: Field) -> tuple[np.ndarray, Any]:
    """ρ_j = -1 + 2(j-1)/(d_y-1), equally spaced in [-1, 1] (memcap's best choice: it
    maximizes the smallest gap h = 2/(d_y-1)); returns ``(ρ, h)``. One class: ρ = (0), h = 1."""
    if n_classes == 1:
        return F.array(np.zeros(1)), F.const(1)
    h = F.const(2) / (n_classes - 1)
    return F.array(np.zeros(n_classes)) - 1 + h * F.array(np.arange(n_classes)), h


# ---- Proposition 3.2 ---------------------------------------------------------------------------
def _parse(activation: str | Activation) -> Activation:
    act = as_activation(activation)
    if act.kind not in ("hardtanh", "relu_like"):
        raise ConditionError(f"Proposition 3.2 needs a hard-tanh or ReLU-like activation, not {act.name}")
    return act


def classifier_sizes(ds: Dataset, widths: tuple[int, ...] | None = None,
                     activation: str | Activation = "relu", gate: str = "paper", **_: Any
                     ) -> dict[str, Any]:
    """Sizes of :func:`four_layer_classifier` without building.

    Default widths: (d1, d2) = Theorem 3.1's fewest-neuron pair for N points and d_y = 1 (ReLU-like
    (2p, 2q), hard-tanh (p, q), pq ≥ N), d3 = units per gate · d_y (hard-tanh 2, ReLU-like 4, or 3
    with ``gate="3unit"``). Parameters ``P = d1(dx+1) + d2(d1+1) + d3(d2+1) + dy(d3+1)``.
    """
    act = _parse(activation)
    if widths is None:
        d1, d2 = three_layer_minimal_widths(ds.N, 1, act, ds.d_x)
        d3 = relu_units_per_gate(act, gate) * ds.d_y
    else:
        d1, d2, d3 = _three(widths)
    dims = [ds.d_x, d1, d2, d3, ds.d_y]
    return {"widths": [d1, d2, d3], "depth": 4,
            "parameters": sum(dims[i + 1] * (dims[i] + 1) for i in range(4))}


def _three(widths: Any) -> tuple[int, int, int]:
    ws = tuple(int(w) for w in widths)
    if len(ws) != 3:
        raise ConditionError(f"Proposition 3.2 is a 4-layer network: give 3 hidden widths (d1, d2, d3), "
                             f"got {len(ws)}: {list(ws)}")
    return ws  # type: ignore[return-value]


def _classifier_break(ds: Dataset, activation: str = "relu", **_: Any) -> dict[str, Any]:
    """The default widths with d3 one unit short of (units per gate)·d_y."""
    s = classifier_sizes(ds, activation=activation)
    d1, d2, d3 = s["widths"]
    return {"widths": (d1, d2, d3 - 1), "activation": activation}


@register(
    "yun-classifier",
    theorem="Yun et al. 2019, Proposition 3.2",
    condition="hard-tanh: 4⌊d1/2⌋⌊d2/2⌋ ≥ N, d3 ≥ 2dy; ReLU-like: 4⌊d1/4⌋⌊d2/4⌋ ≥ N, d3 ≥ 4dy "
              "(3dy with gate='3unit')",
    sizes="widths (2p, 2q, 4dy) ReLU-like or (p, q, 2dy) hard-tanh, pq ≥ N; ≈ 4√N + 4dy hidden neurons",
    tasks=("classification",),
    size_formula=classifier_sizes,
    break_condition=_classifier_break,
    options=(WIDTHS, ACTIVATION, GATE, MARGIN, SEED, CANDIDATES),
)
def four_layer_classifier(ds: Dataset, widths: tuple[int, ...] | None = None,
                          activation: str | Activation = "relu", gate: str = "paper",
                          arithmetic: str = "float64", margin: float = 0.25, seed: int = 0,
                          candidates: int = 20) -> Construction:
    """Proposition 3.2 (Yun et al. 2019; proof App. C): a 4-layer network outputting the one-hot
    vector of the class of each of N distinct points (d_y classes) when

    * hard-tanh: ``4⌊d1/2⌋⌊d2/2⌋ ≥ N`` and ``d3 ≥ 2 d_y``;
    * ReLU-like: ``4⌊d1/4⌋⌊d2/4⌋ ≥ N`` and ``d3 ≥ 4 d_y`` (``gate="3unit"``: ``d3 ≥ 3 d_y``, the
      memcap 3-unit gate ``σ_G(t) = (σ_R(t+1) - 2σ_R(t) + σ_R(t-1))/(s+ - s-)``).

    Construction: class j gets ρ_j (equally spaced in [-1, 1], gap h); layers 1-2 are Theorem 3.1's
    (d_y = 1) on the targets ρ_{class(i)}, so ``S = Σ_k a2_k = ρ + 1`` (App. B.4); layer 3 has, per
    class, the gate σ_G((S - 1 - ρ_j)/h) (two hard-tanh units ``±2t + 1``), which is 1 for class j
    and 0 for every other class (|t| ≥ 1); the output is ``f_j = (u_{j,+} + u_{j,-})/2``, b4 = 0.
    ``widths=None`` gives the fewest neurons the condition allows (:func:`classifier_sizes`).
    Certified by margin (the verifier checks argmax with a certified positive margin; in exact
    arithmetic f(x_i) is the one-hot vector itself).
    """
    t0 = time.perf_counter()
    F = Field(arithmetic)
    act = _parse(activation)
    g = relu_units_per_gate(act, gate)
    if ds.task != "classification":
        raise ConditionError("Proposition 3.2 needs classification data (one-hot y_i); for real-valued "
                             "targets use yun-3layer or yun-deep")
    N, d_y = ds.N, ds.d_y
    ws = classifier_sizes(ds, widths, act, gate)["widths"]
    d1, d2, d3 = ws
    conds = classifier_conditions(N, d_y, (d1, d2, d3), act, gate)
    if not all(c.holds for c in conds):
        best = classifier_sizes(ds, None, act, gate)["widths"]
        failed = "; ".join(f"{c.statement} fails: " + ", ".join(f"{k}={v}" for k, v in c.values.items())
                           for c in conds if not c.holds)
        raise ConditionError(
            f"widths {list(ws)} are too small for Proposition 3.2 with N={N}, d_y={d_y}: {failed}. "
            f"The fewest hidden neurons allowed: widths {best}"
        )
    p, q = three_layer_free_integers(d1, d2, 1, act)

    # Step 0 + Theorem 3.1 (d_y = 1) on the class numbers ρ_{class(i)}.
    u, uf, order, c, delta = sorted_projection(ds, F, seed, candidates)
    rho, h = class_numbers(d_y, F)
    Y = rho[ds.labels[order]].reshape(N, 1)
    if p * q > N:  # virtual points: target 0
        Y = np.concatenate([Y, F.zeros((p * q - N, 1))])
    cx = padded_neighbours(c, delta, p * q, F)
    w1, b1, W2, b2, binfo = thm31_block(cx, Y, p, q, F, margin=margin)
    W1 = w1[:, None] * uf[None, :]

    # Layer 3 (App. C): gate j passes S = 1 + ρ_j, blocks S = 1 + ρ_j' (|t| = |ρ_j' - ρ_j|/h ≥ 1).
    W3, b3, gtags, R = gate_layer(F.array(np.ones(q)), F.const(0), rho + 1, h, F, gate == "3unit")
    layers = [Dense(W1, b1, HARDTANH), Dense(W2, b2, HARDTANH), Dense(W3, b3, HARDTANH),
              Dense(R, F.zeros(d_y), IDENTITY)]
    layers = hardtanh_to_relu_like(layers, act, F, tags={0: [HT] * p, 1: [HT] * q, 2: gtags})
    for i, w in enumerate(ws):
        layers = pad_units(layers, i, w, F)
    net = Network(layers, meta={mk.METHOD: "yun-classifier", mk.ACTIVATION: act.name})

    notes = [f"projection u: best of {candidates} random integer directions (seed {seed})",
             f"class numbers ρ_j = -1 + 2(j-1)/(d_y-1), gap h = {float(h):.6g}",
             "gate: " + ("3 ReLU-like units"
                         if gate == "3unit" else f"{g} units (Gadget G as in App. C)")]
    if p * q > N:
        notes.append(f"{p * q - N} virtual points padded after the last projection")
    cert = Certificate(
        method="yun-classifier", theorem="Proposition 3.2", reference=REFERENCE,
        conditions=[Condition("x_i distinct (Assumption 3.1)", {"N": N}, True), *conds],
        guarantees=["f(x_i) is the one-hot vector of the class of x_i in exact arithmetic of the stated "
                    "weights; argmax f(x_i) = class(x_i) with a positive margin"],
        arithmetic=F.name, notes=notes,
    )
    info: dict[str, Any] = {"p": p, "q": q, "u": u.tolist(), "margin": margin, "activation": act.name,
                            "gate": gate, "rho": [str(r) for r in rho],
                            "build_seconds": time.perf_counter() - t0}
    return Construction(net, cert, info)
