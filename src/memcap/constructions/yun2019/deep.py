"""Proposition 3.4 and Corollaries A.1-A.3 of Yun, Sra & Jadbabaie (2019): deep and narrow
memorizers (App. A, App. E, Figure 2).

The sorted data are split into consecutive chunks, one per pair of layers (l_j, l_j + 1); each
chunk is fitted by Theorem 3.1's layers 1-2 (:func:`thm31_block`, boundary-variant thresholds) so
that its sums are ``(y+1)/2`` on its own points and exactly 0 on every other point. Carrier units
pass the scaled projection ("circle" nodes) forward to later blocks and the running output sums
("diamond" nodes) to the output. Classification data (Cor. A.2/A.3) fit the scalar class number
ρ and end with one gate layer. Errata: docs/errata.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
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
from memcap.constructions.gadgets import (
    HT,
    affine_output,
    carrier,
    gate_layer,
    hardtanh_to_relu_like,
    pad_units,
)
from memcap.constructions.options import ACTIVATION, CANDIDATES, GATE, MARGIN, SEED, WIDTHS, Option
from memcap.constructions.yun2019.classifier import class_numbers, padded_neighbours, sorted_projection
from memcap.constructions.yun2019.three_layer import rescale_targets, thm31_block
from memcap.data.dataset import Dataset
from memcap.network import HARDTANH, IDENTITY, Activation, Dense, Network
from memcap.theory.yun2019_deep import (
    DEFAULT_BLOCK_LAYERS,
    REFERENCE,
    DeepPlan,
    _act,
    _choose,
    _conditions,
    _deep_break,
    _k,
    _refusal,
    deep_default_widths,
    deep_sizes,
    plan_deep,
)

__all__ = ["deep_network", "deep_sizes", "DeepPlan", "plan_deep", "deep_default_widths",
           "DEFAULT_BLOCK_LAYERS"]


# ---- the construction ----------------------------------------------------------------------------
@register(
    "yun-deep",
    theorem="Yun et al. 2019, Proposition 3.4 / Corollaries A.1-A.3",
    condition="4Σ_j⌊(d_lj-r_j)/k⌋⌊(d_lj+1-r_j)/(k·dy)⌋ ≥ N (k = 2 hard-tanh, 4 ReLU-like), carrier layers "
              "≥ dy+1 / dy; classification: scalar blocks + gate layer ≥ 4dy (Cor. A.2/A.3)",
    sizes="any widths meeting the condition (padded to exactly them); default 6 equal layers (+ gate)",
    size_formula=deep_sizes,
    break_condition=_deep_break,
    options=(WIDTHS, ACTIVATION,
             Option("variant", str, "auto", "'regression' (Prop. 3.4, one-hot targets), 'classification' "
                    "(Cor. A.2/A.3) or 'auto'", choices=("auto", "regression", "classification")),
             GATE, Option("blocks", "ints", None, "the fitting blocks' hidden layers l_j (1-based)"),
             MARGIN, SEED, CANDIDATES),
)
def deep_network(ds: Dataset, widths: tuple[int, ...] | None = None, activation: str | Activation = "relu",
                 variant: str = "auto", gate: str = "paper", blocks: Any = None, arithmetic: str = "float64",
                 margin: float = 0.25, seed: int = 0, candidates: int = 20) -> Construction:
    """Proposition 3.4 / Corollary A.1 (regression) and Corollaries A.2 / A.3 (classification) of
    Yun et al. 2019 (proof App. E, Figure 2): an L-layer network with the given hidden widths
    memorizing N distinct points when, for some l_1 < ... < l_m with l_{j+1} ≥ l_j + 2,

    * ``4 Σ_j ⌊(d_{l_j} - r_j)/k⌋ ⌊(d_{l_j+1} - r_j)/(k d_y)⌋ ≥ N``, ``r_j = d_y 1{j>1} + 1{j<m}``,
      k = 2 (hard-tanh, Prop. 3.4) or 4 (ReLU-like, Cor. A.1), layers strictly between blocks
      ≥ d_y + 1 and layers after l_m + 1 ≥ d_y (the minus signs lost in the main text restored,
      erratum YSJ-5);
    * classification (``variant="classification"``, the default for class labels via ``"auto"``):
      ``4 Σ_{j<m} ⌊(d_{l_j} - r_j)/k⌋ ⌊(d_{l_j+1} - r_j)/k⌋ ≥ N``, ``r_j = 1{j>1} + 1{j<m-1}``,
      gate layer ``d_{l_m} ≥ 2 d_y`` (hard-tanh) / ``4 d_y`` (ReLU-like; 3 d_y with
      ``gate="3unit"``), layers between fitting blocks ≥ 2, layers after the gate ≥ d_y.
      ``"auto"`` falls back to the regression variant on one-hot targets when only that holds.

    The l_j are chosen by :func:`plan_deep` (largest left-hand side) unless ``blocks`` gives them
    (``"1,4,7"``; for classification the last index is the gate layer). Per block j: ``p_j =
    2⌊(d_{l_j} - r_j)/k⌋``, ``q_j = 2⌊(d_{l_j+1} - r_j)/(k d_y)⌋``; the data sorted along u fill the
    blocks in order (block j the next p_j q_j points, the last used block padded with virtual points);
    a block left without points gets zero weights. ``widths=None``: :func:`deep_default_widths`.

    Carriers (hard-tanh units used as the identity on the data, ONE ReLU-like unit each): the input
    carrier ``v = (u^T x - (c_max+c_min)/2)/(c_max - c_min) ∈ [-1/2, 1/2]`` in layers 1..l_m - 1
    (block j > 1 reads c from it), and the output carriers holding Σ_{i<j} block sums ∈ [0, 1].
    Block j fits ``(y - 1)/2 ∈ [-1, 0]`` (targets rescaled into [-1, 1] first, as in yun-3layer), so
    its sums are ``(y+1)/2`` on its points and exactly 0 elsewhere (boundary-variant thresholds,
    :func:`thm31_block` with ``boundary=True``); the output is ``2·(carrier + last sums) - 1``.
    Classification: blocks fit ``(ρ - 1)/2``, the scalar S = (ρ+1)/2 is carried to the gate layer
    (gates of half-width h/2 at (ρ_j + 1)/2), and one-hot carriers follow it.
    """
    t0 = time.perf_counter()
    F = Field(arithmetic)
    act = _act(activation)
    N, d_y = ds.N, ds.d_y
    plan, tried = _choose(ds, widths, act, variant, gate, blocks)
    if plan.capacity < N:
        raise ConditionError(_refusal(plan, tried, ds, act, gate))
    cls = plan.variant == "classification"
    fit = _fit_blocks(ds, plan, F, cls, margin, seed, candidates)
    units = _layout(plan, cls, d_y)
    layers, tags, R = _hidden_layers(ds, units, plan, fit, F, cls, gate)
    layers.append(_output_layer(units[-1], plan, fit, F, cls, d_y, R))
    layers = hardtanh_to_relu_like(layers, act, F, tags=tags)
    for i, w in enumerate(plan.widths):
        layers = pad_units(layers, i, w, F)
    net = Network(layers, meta={mk.METHOD: "yun-deep", mk.ACTIVATION: act.name})
    cert = _certificate(ds, plan, fit, F, act, cls, gate, widths, variant, blocks, seed, candidates)
    info: dict[str, Any] = {
        "variant": plan.variant, "blocks": plan.blocks, "gate_layer": plan.gate_layer, "r": plan.r,
        "p": plan.p, "q": plan.q, "capacity": plan.capacity, "u": fit.u.tolist(), "margin": margin,
        "activation": act.name, "build_seconds": time.perf_counter() - t0,
    }
    return Construction(net, cert, info)


@dataclass
class _Fit:
    """Step 0-1 of App. E: the projection, the input carrier's affine map and each block's weights."""

    u: np.ndarray
    uf: np.ndarray
    s_v: Any                    # the input carrier v = s_v·c + t_v ∈ [-1/2, 1/2] on the data
    t_v: Any
    blocks: list[Any]           # (w1, b1, W2, b2) per block, None for a block without real points
    sizes: list[int]            # p_j q_j
    rescaled: bool
    scale: Any = None
    center: Any = None
    rho: Any = None             # classification: the class numbers ρ_k and half-width h
    h: Any = None


def _fit_blocks(ds: Dataset, plan: DeepPlan, F: Field, cls: bool, margin: float, seed: int,
                candidates: int) -> _Fit:
    """Step 0 (App. E): project, sort, split into consecutive chunks (block j: the next p_j q_j
    points, virtual points y = 0 padding the last); step 1: Theorem 3.1's layers 1-2 per block
    (boundary-variant thresholds) fitting (y - 1)/2, or (ρ - 1)/2 for classification."""
    N, d_y = ds.N, ds.d_y
    u, uf, order, c, delta = sorted_projection(ds, F, seed, candidates)
    sizes = [p * q for p, q in zip(plan.p, plan.q, strict=True)]
    n = sum(sizes)
    cx = padded_neighbours(c, delta, n, F)  # c_0 .. c_{n+1}
    rho = h = scale = center = None
    if cls:
        rho, h = class_numbers(d_y, F)
        Yall = ((rho[ds.labels[order]] - 1) / 2).reshape(N, 1)
        rescaled = False
    else:
        Yt = F.array(ds.targets)
        _, scale, center, rescaled = rescale_targets(ds.targets.astype(np.float64))
        if rescaled:
            Yt = (Yt - F.array(center)) / F.array(scale)
        Yall = (Yt[order] - 1) / 2
    Yall = np.concatenate([Yall, F.zeros((n - N, Yall.shape[1])) - F.const(1) / 2])  # virtual: y = 0
    # the input carrier v = s c + t ∈ [-1/2, 1/2] on the data
    span = c[-1] - c[0] if N > 1 else F.const(1)
    s_v, t_v = 1 / span, -(c[-1] + c[0]) / (2 * span)

    blocks = []  # (w1, b1, W2, b2) per block, None for a block without real points
    start = 0
    for j in range(len(plan.blocks)):
        if start >= N:
            blocks.append(None)
        else:
            w1, b1, W2, b2, _ = thm31_block(cx[start:start + sizes[j] + 2], Yall[start:start + sizes[j]],
                                            plan.p[j], plan.q[j], F, margin=margin, boundary=True)
            blocks.append((w1, b1, W2, b2))
        start += sizes[j]
    return _Fit(u, uf, s_v, t_v, blocks, sizes, rescaled, scale, center, rho, h)


def _layout(plan: DeepPlan, cls: bool, d_y: int) -> list[dict[str, Any]]:
    """Which units each hidden layer holds (Figure 2), in order block | v | carriers | gate | one-hot."""
    H, M = len(plan.widths), len(plan.blocks)
    lb, l2 = plan.blocks, [lj + 1 for lj in plan.blocks]
    last = plan.gate_layer - 1 if cls else H  # the last layer of the fitting part
    n_out = 1 if cls else d_y
    units: list[dict[str, Any]] = []
    for layer in range(1, H + 1):
        lay: dict[str, Any] = {}
        pos = 0
        if layer in lb:
            j = lb.index(layer)
            lay["blk1"] = (j, pos)
            pos += plan.p[j]
        elif layer in l2:
            j = l2.index(layer)
            lay["blk2"] = (j, pos)
            pos += plan.q[j] * n_out
        if M and layer <= lb[-1] - 1:
            lay["v"] = pos
            pos += 1
        if M and lb[0] + 2 <= layer <= last:
            lay["out"] = pos
            pos += n_out
        if cls and layer == plan.gate_layer:
            lay["gate"] = pos
            pos += 2 * d_y
        if cls and layer > plan.gate_layer:
            lay["hot"] = pos
            pos += d_y
        lay["n"] = pos
        units.append(lay)
    return units


def _hidden_layers(ds: Dataset, units: list[dict[str, Any]], plan: DeepPlan, fit: _Fit, F: Field,
                   cls: bool, gate: str) -> tuple[list[Dense], dict[int, list[tuple[Any, ...]]], Any]:
    """The hard-tanh hidden layers of the layout (carriers tagged for the ReLU-like conversion);
    returns (layers, unit tags, the gate layer's read-out R or None)."""
    one = F.const(1)
    d_y, n_out = ds.d_y, 1 if cls else ds.d_y
    blocks, uf, s_v, t_v = fit.blocks, fit.uf, fit.s_v, fit.t_v
    R = None
    layers: list[Dense] = []
    tags: dict[int, list[tuple[Any, ...]]] = {}
    for li, lay in enumerate(units):
        prev = units[li - 1] if li > 0 else None
        n_in = ds.d_x if prev is None else prev["n"]
        W, b = F.zeros((lay["n"], n_in)), F.zeros(lay["n"])
        tg: list[tuple[Any, ...]] = [HT] * lay["n"]
        if "v" in lay:
            i = lay["v"]
            if prev is None:
                W[i, :], b[i] = uf * s_v, t_v
            else:
                W[i, prev["v"]] = one
            tg[i] = carrier(-1)
        if "blk1" in lay:
            j, o = lay["blk1"]
            if blocks[j] is not None:
                w1, b1 = blocks[j][0], blocks[j][1]
                if prev is None:  # l_j = 1: read x directly
                    W[o:o + plan.p[j], :] = w1[:, None] * uf[None, :]
                    b[o:o + plan.p[j]] = b1
                else:  # c = (v - t)/s
                    W[o:o + plan.p[j], prev["v"]] = w1 / s_v
                    b[o:o + plan.p[j]] = b1 - w1 * (t_v / s_v)
        if "blk2" in lay:
            j, o = lay["blk2"]
            if blocks[j] is not None:
                W2, b2 = blocks[j][2], blocks[j][3]
                pj = prev["blk1"][1]
                W[o:o + W2.shape[0], pj:pj + plan.p[j]] = W2
                b[o:o + W2.shape[0]] = b2
        if "out" in lay:
            o = lay["out"]
            for t in range(n_out):
                if "out" in prev:
                    W[o + t, prev["out"] + t] = one
                if "blk2" in prev:
                    j, po = prev["blk2"]
                    W[o + t, po + t * plan.q[j]:po + (t + 1) * plan.q[j]] = one
                tg[o + t] = carrier(-1)
        if "gate" in lay:
            wS = F.zeros(n_in)
            if "out" in prev:
                wS[prev["out"]] = one
            if "blk2" in prev:
                j, po = prev["blk2"]
                wS[po:po + plan.q[j]] = one
            Wg, bg, gt, R = gate_layer(wS, F.const(0), (fit.rho + 1) / 2, fit.h / 2, F, gate == "3unit")
            o = lay["gate"]
            W[o:o + 2 * d_y, :], b[o:o + 2 * d_y] = Wg, bg
            tg[o:o + 2 * d_y] = [(t[0], t[1] + o) if t[0] == "gate3" else t for t in gt]
        if "hot" in lay:
            o = lay["hot"]
            if "gate" in prev:
                W[o:o + d_y, prev["gate"]:prev["gate"] + 2 * d_y] = R
            else:
                W[o:o + d_y, prev["hot"]:prev["hot"] + d_y] = F.array(np.eye(d_y))
            tg[o:o + d_y] = [carrier(-1)] * d_y
        layers.append(Dense(W, b, HARDTANH))
        tags[li] = tg
    return layers, tags, R


def _output_layer(top: dict[str, Any], plan: DeepPlan, fit: _Fit, F: Field, cls: bool, d_y: int, R: Any
                  ) -> Dense:
    """Output: one-hot (classification) or 2·(carriers + last block sums) - 1, then undo the scaling."""
    one = F.const(1)
    Wo, bo = F.zeros((d_y, top["n"])), F.zeros(d_y)
    if cls:
        if "gate" in top:
            Wo[:, top["gate"]:top["gate"] + 2 * d_y] = R
        else:
            Wo[:, top["hot"]:top["hot"] + d_y] = F.array(np.eye(d_y))
    else:
        two = F.const(2)
        for t in range(d_y):
            if "out" in top:
                Wo[t, top["out"] + t] = two
            if "blk2" in top:
                j, po = top["blk2"]
                Wo[t, po + t * plan.q[j]:po + (t + 1) * plan.q[j]] = two
            bo[t] = -one
    out = Dense(Wo, bo, IDENTITY)
    if fit.rescaled:
        out = affine_output(out, F.array(fit.scale), F.array(fit.center))
    return out


def _certificate(ds: Dataset, plan: DeepPlan, fit: _Fit, F: Field, act: Activation, cls: bool, gate: str,
                 widths: Any, variant: str, blocks: Any, seed: int, candidates: int) -> Certificate:
    N, d_y, M, sizes = ds.N, ds.d_y, len(plan.blocks), fit.sizes
    k = _k(act)
    used = sum(1 for bl in fit.blocks if bl is not None)
    notes = [
        f"projection u: best of {candidates} random integer directions (seed {seed})",
        f"variant: {plan.variant}; blocks at layers l = {plan.blocks}" + (f", gate layer {plan.gate_layer}"
                                                                         if cls else "")
        + ("; given by the caller" if blocks is not None else
           "; chosen by plan_deep (largest left-hand side, then fewer blocks, then earlier layers)"),
        f"points per block: {[min(max(N - sum(sizes[:j]), 0), sizes[j]) for j in range(M)]}"
        + (f" ({M - used} block(s) without points get zero weights)" if used < M else ""),
        "boundary-variant thresholds so each block outputs exactly 0 off its chunk",
    ]
    if widths is None:
        notes.append(f"default widths: {DEFAULT_BLOCK_LAYERS} hidden layers of the smallest equal width "
                     "meeting the condition" + (" + a gate layer" if cls else ""))
    if ds.task == "classification" and not cls:
        notes.append("classification data fit as one-hot targets " + (
            "(variant='regression')" if variant == "regression" else
            "(the classification variant's condition fails for these widths; the regression variant's "
            "holds)"))
    if fit.rescaled:
        notes.append("targets outside [-1, 1] were rescaled per output into [-1, 1] and the last layer "
                     f"undoes it: scale={fit.scale.tolist()}, center={fit.center.tolist()}")
    return Certificate(
        method="yun-deep",
        theorem=("Corollary A.2" if k == 2 else "Corollary A.3") if cls else
        ("Proposition 3.4" if k == 2 else "Corollary A.1"),
        reference=REFERENCE,
        conditions=[Condition("x_i distinct (Assumption 3.1)", {"N": N}, True),
                    *_conditions(plan, N, d_y, act, gate)],
        guarantees=["f(x_i) = y_i for every i in exact arithmetic of the stated weights"
                    + (" (the one-hot vector of its class)" if cls else "")],
        arithmetic=F.name, notes=notes,
    )
