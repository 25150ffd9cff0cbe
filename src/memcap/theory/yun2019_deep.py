"""Planning for Proposition 3.4 / Corollaries A.1-A.3 (Yun et al. 2019): which layer pairs carry
the fitting blocks, the sizes they give, the theorem's conditions and the refusal messages.

The construction that follows a plan is :mod:`memcap.constructions.yun2019.deep`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from memcap.data.dataset import Dataset
from memcap.errors import ConditionError
from memcap.network import Activation, as_activation
from memcap.theory.conditions import Condition
from memcap.theory.yun2019 import relu_units_per_gate

__all__ = ["DeepPlan", "plan_deep", "deep_default_widths", "deep_sizes", "DEFAULT_BLOCK_LAYERS",
           "REFERENCE"]

REFERENCE = ("Yun, Sra & Jadbabaie (2019), Proposition 3.4 (hard-tanh), Corollaries A.1 (ReLU-like), "
             "A.2/A.3 (classification); proof in Appendix E")

#: default depth: this many hidden layers of one width carry the fitting blocks (3 blocks at
#: layers (1,2), (3,4), (5,6) when the width allows no better split); classification adds a gate layer
DEFAULT_BLOCK_LAYERS = 6


@dataclass
class DeepPlan:
    """Where the blocks go (1-based hidden-layer indices, the paper's l_j) and what each holds."""

    variant: str                      # "regression" (Prop. 3.4 / Cor. A.1) or "classification"
    widths: tuple[int, ...]
    blocks: list[int]                 # l_1 < ... (fitting blocks; classification: l_1..l_{m-1})
    r: list[int]                      # carriers sharing the block's two layers
    p: list[int]
    q: list[int]
    gate_layer: int | None = None     # classification: the gate layer l_m (1-based)
    capacity: int = 0                 # Σ p_j q_j = the condition's left-hand side
    problems: list[str] = field(default_factory=list)  # why no plan exists (capacity 0)

    @property
    def lhs(self) -> int:
        return self.capacity


def _k(act: Activation) -> int:
    """Divisor of the block widths: a hard-tanh block unit is 1 unit, a ReLU-like one 2 (so 2, 4)."""
    return 2 if act.kind == "hardtanh" else 4


def _best_blocks(ws: tuple[int, ...], c_out: int, k: int, max_end: int, tail_ok: Any
                 ) -> tuple[int, int, list[int], list[int]]:
    """Maximize Σ_j 4⌊(d_{l_j}-r_j)/k⌋⌊(d_{l_j+1}-r_j)/(k c_out)⌋ over index lists l_1 < ... with
    l_{j+1} ≥ l_j + 2, l_m + 1 ≤ max_end, carrier layers in between ≥ c_out + 1 units and
    ``tail_ok(l_m)``; r_j = c_out·1{j>1} + 1{j<m}. Returns (capacity, -m, blocks, r), best by
    (capacity, fewer blocks, earlier layers); capacity -1 when no list is valid."""
    H = len(ws)

    def d(layer: int) -> int:
        return ws[layer - 1]

    def cap(layer: int, r: int) -> int:
        if d(layer) < r or d(layer + 1) < r:
            return -1
        return 4 * ((d(layer) - r) // k) * ((d(layer + 1) - r) // (k * c_out))

    @functools.cache
    def best(layer: int, first: bool) -> tuple[int, int, tuple[int, ...], tuple[int, ...]]:
        cand: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = []
        base = 0 if first else c_out
        if tail_ok(layer):
            c = cap(layer, base)
            if c >= 0:
                cand.append((c, -1, (layer,), (base,)))
        c = cap(layer, base + 1)
        if c >= 0:
            for nxt in range(layer + 2, max_end):
                if nxt > layer + 2 and d(nxt - 1) < c_out + 1:  # gap layer carries v and the sums
                    break
                sub = best(nxt, False)
                if sub[0] >= 0:
                    cand.append((c + sub[0], sub[1] - 1, (layer, *sub[2]), (base + 1, *sub[3])))
        if not cand:
            return (-1, 0, (), ())
        # best capacity, then fewer blocks; max() keeps the first (earliest next layer) on ties
        return max(cand, key=lambda t: (t[0], t[1]))

    out = (-1, 0, (), ())
    for first_layer in range(1, min(max_end, H)):
        res = best(first_layer, True)
        if res[0] >= 0 and (res[0], res[1]) > (out[0], out[1]):
            out = res
    return out[0], out[1], list(out[2]), list(out[3])


def _check_blocks(ws: tuple[int, ...], ls: list[int], c_out: int, k: int, max_end: int, tail_ok: Any
                  ) -> tuple[list[int], list[str]]:
    """r_j for user-given l_j, and every way they break the placement rules."""
    m, problems = len(ls), []
    r = [c_out * (j > 0) + (j < m - 1) for j in range(m)]
    if m == 0:
        return r, ["no layer pairs given"]
    if ls[0] < 1 or ls[-1] + 1 > max_end:
        problems.append(f"layer pairs must lie in hidden layers 1..{max_end}, got l = {ls}")
        return r, problems
    for a, b in zip(ls, ls[1:], strict=False):
        if b < a + 2:
            problems.append(f"l_(j+1) ≥ l_j + 2 fails for {a}, {b}")
        for i in range(a + 2, b):
            if ws[i - 1] < c_out + 1:
                problems.append(f"carrier layer {i} has {ws[i - 1]} < {c_out + 1} units")
    for lj, rj in zip(ls, r, strict=True):
        if ws[lj - 1] < rj or ws[lj] < rj:
            problems.append(f"block at ({lj}, {lj + 1}) has no room for its {rj} carrier(s)")
    if not tail_ok(ls[-1]):
        problems.append(f"a layer after {ls[-1] + 1} is narrower than the {c_out} output carrier(s)")
    return r, problems


def plan_deep(widths: tuple[int, ...], d_y: int, act: Activation, variant: str = "regression",
              gate: str = "paper", blocks: Any = None) -> DeepPlan:
    """Choose l_1..l_m for the given hidden widths (the proof leaves the choice open).

    ``blocks`` (a list or ``"1,4,7"``) fixes them instead: the paper's l_1..l_m, 1-based hidden layers;
    for classification the last one is the gate layer l_m. Broken placement rules are reported in
    ``problems`` (capacity 0).

    **How they are chosen**: among every valid list (l_{j+1} ≥ l_j + 2, carrier layers wide enough,
    room for the r_j carriers in each block), the one with the largest left-hand side of the
    condition; ties go to fewer blocks, then to earlier layers (a dynamic program over the layers,
    O(L²)). If any choice satisfies the condition, this one does.

    * ``"regression"`` (Prop. 3.4 / Cor. A.1): ``4 Σ_j ⌊(d_{l_j}-r_j)/k⌋ ⌊(d_{l_j+1}-r_j)/(k d_y)⌋``
      with ``r_j = d_y 1{j>1} + 1{j<m}``; layers strictly between blocks ≥ d_y + 1, layers after
      ``l_m + 1`` ≥ d_y (k = 2 hard-tanh, 4 ReLU-like).
    * ``"classification"`` (Cor. A.2 / A.3): fitting blocks carry the scalar ρ
      (``r_j = 1{j>1} + 1{j<m-1}``, ``⌊(d_{l_j+1}-r_j)/k⌋``), gap layers between them ≥ 2; the gate
      layer l_m is the last hidden layer with ≥ (units per gate)·d_y units after which every layer
      has ≥ d_y units; layers between the last block and the gate need 1 unit (not stated in the
      paper; the S carrier).
    """
    ws = tuple(int(w) for w in widths)
    H, k = len(ws), _k(act)
    fixed = _parse_blocks(blocks)
    if fixed is not None:
        return _fixed_plan(ws, d_y, act, variant, gate, fixed)
    if variant == "regression":
        def tail_ok(layer: int) -> bool:
            return all(w >= d_y for w in ws[layer + 1:])
        cap, negm, ls, r = _best_blocks(ws, d_y, k, H, tail_ok)
        plan = DeepPlan("regression", ws, ls, r, [], [], capacity=max(cap, 0))
        per_block_dy = d_y
        if cap < 0:
            plan.problems.append(f"no valid placement of blocks in {H} hidden layers (need ≥ 2 layers, each "
                                 f"block layer wide enough for its carriers, later layers ≥ d_y={d_y})")
    elif variant == "classification":
        gw = relu_units_per_gate(act, gate) * d_y
        gates = [G for G in range(H, 2, -1) if ws[G - 1] >= gw and all(w >= d_y for w in ws[G:])]
        plan = DeepPlan("classification", ws, [], [], [], [])
        per_block_dy = 1
        if not gates:
            plan.problems.append(
                f"no hidden layer l ≥ 3 can be the gate layer: it needs ≥ {gw} units "
                f"({gw // d_y} per class) and every later hidden layer ≥ d_y={d_y} units")
            return plan
        G = gates[0]  # the latest gate leaves the most layers for blocks
        cap, negm, ls, r = _best_blocks(ws[:G - 1], 1, k, G - 1, lambda layer: True)
        plan.blocks, plan.r, plan.gate_layer, plan.capacity = ls, r, G, max(cap, 0)
        if cap < 0:
            plan.problems.append(f"no room for a fitting block before the gate layer {G}")
    else:
        raise ValueError(f"variant must be 'auto', 'regression' or 'classification', got {variant!r}")
    return _fill(plan, k, per_block_dy)


def _fill(plan: DeepPlan, k: int, per_block_dy: int) -> DeepPlan:
    ws = plan.widths
    plan.p = [2 * ((ws[lj - 1] - rj) // k) for lj, rj in zip(plan.blocks, plan.r, strict=True)]
    plan.q = [2 * ((ws[lj] - rj) // (k * per_block_dy)) for lj, rj in zip(plan.blocks, plan.r, strict=True)]
    plan.capacity = sum(p * q for p, q in zip(plan.p, plan.q, strict=True))
    return plan


def _parse_blocks(blocks: Any) -> list[int] | None:
    if blocks is None:
        return None
    try:
        ls = [int(b) for b in (blocks.replace(" ", "").split(",") if isinstance(blocks, str) else blocks)]
    except (TypeError, ValueError):
        raise ValueError(f"blocks must be layer indices like 1,4,7, got {blocks!r}") from None
    return ls


def _fixed_plan(ws: tuple[int, ...], d_y: int, act: Activation, variant: str, gate: str,
                ls: list[int]) -> DeepPlan:
    H, k = len(ws), _k(act)
    if variant == "regression":
        r, problems = _check_blocks(ws, ls, d_y, k, H, lambda layer: all(w >= d_y for w in ws[layer + 1:]))
        plan = DeepPlan("regression", ws, ls, r, [], [], problems=problems)
        per_block_dy = d_y
    elif variant == "classification":
        gw = relu_units_per_gate(act, gate) * d_y
        fit, G = ls[:-1], (ls[-1] if ls else 0)
        r, problems = _check_blocks(ws, fit, 1, k, G - 1, lambda layer: True) if fit else (
            [], ["classification needs m ≥ 2: fitting layer pairs and then the gate layer"])
        if not 1 <= G <= H or ws[G - 1] < gw:
            problems.append(f"gate layer {G} needs ≥ {gw} units ({gw // max(d_y, 1)} per class)")
        elif any(w < d_y for w in ws[G:]):
            problems.append(f"the layers after the gate layer {G} need ≥ d_y={d_y} units")
        plan = DeepPlan("classification", ws, fit, r, [], [], gate_layer=G, problems=problems)
        per_block_dy = 1
    else:
        raise ValueError(f"variant must be 'auto', 'regression' or 'classification', got {variant!r}")
    if plan.problems:
        plan.r, plan.blocks = [], []
        return plan
    return _fill(plan, k, per_block_dy)


def _variants(ds: Dataset, variant: str) -> list[str]:
    if variant == "auto":
        return ["classification", "regression"] if ds.task == "classification" else ["regression"]
    if variant == "classification" and ds.task != "classification":
        raise ConditionError("the classification variant (Cor. A.2/A.3) needs class labels; this dataset "
                             "is regression data: use variant='regression' (Prop. 3.4 / Cor. A.1)")
    return [variant]


def _act(activation: str | Activation) -> Activation:
    act = as_activation(activation)
    if act.kind not in ("hardtanh", "relu_like"):
        raise ConditionError(f"Proposition 3.4 needs a hard-tanh or ReLU-like activation, not {act.name}")
    return act


def deep_default_widths(N: int, d_y: int, act: Activation, variant: str = "regression",
                        gate: str = "paper") -> tuple[int, ...]:
    """The default deep-narrow architecture: ``DEFAULT_BLOCK_LAYERS`` (6) hidden layers of the
    smallest equal width w for which some choice of l_j meets the condition (regression); for
    classification the same 6 layers for the fitting blocks plus one gate layer of
    (units per gate)·d_y units."""
    gw = relu_units_per_gate(act, gate) * d_y
    lo, hi = 1, 2
    while True:
        ws = _default(hi, variant, gw)
        if plan_deep(ws, d_y, act, variant, gate).capacity >= N:
            break
        lo, hi = hi, 2 * hi
    while lo + 1 < hi:  # capacity is monotone in the width: bisect
        mid = (lo + hi) // 2
        if plan_deep(_default(mid, variant, gw), d_y, act, variant, gate).capacity >= N:
            hi = mid
        else:
            lo = mid
    return _default(hi, variant, gw)


def _default(w: int, variant: str, gw: int) -> tuple[int, ...]:
    return (w,) * DEFAULT_BLOCK_LAYERS + ((gw,) if variant == "classification" else ())


def _choose(ds: Dataset, widths: Any, act: Activation, variant: str, gate: str, blocks: Any = None
            ) -> tuple[DeepPlan, list[DeepPlan]]:
    """The plan used (first variant, in order, whose condition holds) and every plan tried."""
    tried = []
    variants = _variants(ds, variant)
    if blocks is not None:  # given l_j mean one reading: no fallback between variants
        variants = variants[:1]
    for v in variants:
        ws = tuple(int(w) for w in widths) if widths is not None else deep_default_widths(
            ds.N, ds.d_y, act, v, gate)
        plan = plan_deep(ws, ds.d_y, act, v, gate, blocks)
        tried.append(plan)
        if plan.capacity >= ds.N:
            return plan, tried
    return tried[0], tried


def deep_sizes(ds: Dataset, widths: tuple[int, ...] | None = None, activation: str | Activation = "relu",
               variant: str = "auto", gate: str = "paper", blocks: Any = None, **_: Any) -> dict[str, Any]:
    """Sizes of :func:`deep_network`: the given widths (the network is padded to exactly them) or
    :func:`deep_default_widths`; parameters ``Σ_l d_l (d_{l-1} + 1)`` with d_0 = d_x, d_L = d_y."""
    act = _act(activation)
    plan, _ = _choose(ds, widths, act, variant, gate, blocks)
    dims = [ds.d_x, *plan.widths, ds.d_y]
    return {"widths": list(plan.widths), "depth": len(plan.widths) + 1,
            "parameters": sum(dims[i + 1] * (dims[i] + 1) for i in range(len(dims) - 1))}


def _deep_break(ds: Dataset, activation: str = "relu", **_: Any) -> dict[str, Any]:
    """The default architecture one unit narrower in every block layer (the default width is the
    smallest that works and capacity is monotone in the widths)."""
    act = _act(activation)
    v = "classification" if ds.task == "classification" else "regression"
    ws = list(deep_default_widths(ds.N, ds.d_y, act, v))
    ws[:DEFAULT_BLOCK_LAYERS] = [w - 1 for w in ws[:DEFAULT_BLOCK_LAYERS]]
    return {"widths": tuple(ws), "activation": activation, "variant": v}


def _conditions(plan: DeepPlan, N: int, d_y: int, act: Activation, gate: str) -> list[Condition]:
    k = _k(act)
    kind = "hard-tanh" if k == 2 else "ReLU-like"
    if plan.variant == "regression":
        src = "Prop. 3.4" if k == 2 else "Cor. A.1"
        stmt = (f"4·Σ_j ⌊(d_lj - r_j)/{k}⌋·⌊(d_lj+1 - r_j)/({k}·d_y)⌋ ≥ N, r_j = d_y·1{{j>1}} + "
                f"1{{j<m}} ({src}, {kind})")
    else:
        src = "Cor. A.2" if k == 2 else "Cor. A.3"
        stmt = (f"4·Σ_(j<m) ⌊(d_lj - r_j)/{k}⌋·⌊(d_lj+1 - r_j)/{k}⌋ ≥ N, r_j = 1{{j>1}} + 1{{j<m-1}} "
                f"({src}, {kind})")
    conds = [Condition(stmt, {"l": plan.blocks, "r": plan.r, "p": plan.p, "q": plan.q,
                              "lhs": plan.capacity, "N": N}, plan.capacity >= N)]
    if plan.variant == "classification" and plan.gate_layer is not None:
        g = relu_units_per_gate(act, gate)
        conds.append(Condition(f"d_lm ≥ {g}·d_y (gate layer l_m = {plan.gate_layer})",
                               {"d_lm": plan.widths[plan.gate_layer - 1], "needed": g * d_y}, True))
    return conds


def _refusal(plan: DeepPlan, tried: list[DeepPlan], ds: Dataset, act: Activation, gate: str) -> str:
    parts = []
    for pl in tried:
        what = "Cor. A.2/A.3 (classification, gate layer)" if pl.variant == "classification" else \
            "Prop. 3.4/Cor. A.1 (one-hot targets)" if ds.task == "classification" else "Prop. 3.4/Cor. A.1"
        if pl.problems:
            parts.append(f"{what}: {'; '.join(pl.problems)}")
        else:
            parts.append(f"{what}: best choice l = {pl.blocks}"
                         + (f", gate layer {pl.gate_layer}" if pl.gate_layer else "")
                         + f" (r = {pl.r}, p = {pl.p}, q = {pl.q}) gives 4·Σ⌊⌋⌊⌋ = Σ p_j q_j = "
                         f"{pl.capacity} < N = {ds.N}")
    sugg = deep_default_widths(ds.N, ds.d_y, act, tried[0].variant, gate)
    return (f"widths {list(plan.widths)} ({act.name}) cannot memorize N={ds.N} points (d_y={ds.d_y}) by "
            f"Proposition 3.4 / Corollaries A.1-A.3: " + "; ".join(parts)
            + f". Needed: a sum ≥ {ds.N}; e.g. widths {','.join(map(str, sugg))} satisfy it "
            "(wider layers or more layer pairs raise the sum)")


