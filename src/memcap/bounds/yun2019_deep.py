"""Sufficient conditions of Yun, Sra & Jadbabaie (2019) for deeper networks: Proposition 3.2 (4-layer
classifier), Proposition 3.4 / Corollary A.1 (any depth) and Corollaries A.2 / A.3 (any depth,
classification), each evaluated on the given width list with the best choice of layer pairs
(:func:`memcap.constructions.yun2019.deep.plan_deep`), plus the smallest equal width at this depth."""

from __future__ import annotations

from typing import Any

from memcap.bounds import Architecture, BoundRow, register_bounds
from memcap.network import Activation
from memcap.theory.yun2019 import classifier_conditions, relu_units_per_gate
from memcap.theory.yun2019_deep import plan_deep


def _smallest_equal_width(N: int, H: int, d_y: int, act: Activation, variant: str) -> int | None:
    """The smallest w such that ``(w,)*H`` (classification: ``(w,)*(H-1) + (gate,)``) meets the
    condition, or None when no width does (too shallow)."""
    gw = relu_units_per_gate(act, "paper") * d_y

    def ws(w: int) -> tuple[int, ...]:
        return (w,) * H if variant == "regression" else (w,) * (H - 1) + (gw,)

    hi = 2
    while plan_deep(ws(hi), d_y, act, variant).capacity < N:
        hi *= 2
        if hi > 2**40:
            return None
    lo = 1
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if plan_deep(ws(mid), d_y, act, variant).capacity >= N:
            hi = mid
        else:
            lo = mid
    return hi


def _plan_row(source: str, arch: Architecture, N: int, variant: str, statement: str) -> BoundRow:
    plan = plan_deep(arch.widths, arch.d_y, arch.activation, variant)
    holds = plan.capacity >= N
    values: dict[str, Any] = {"l": plan.blocks, "r": plan.r, "p": plan.p, "q": plan.q,
                              "lhs": plan.capacity, "N": N}
    if plan.gate_layer is not None:
        values["gate_layer"] = plan.gate_layer
    if plan.problems:
        detail = "; ".join(plan.problems)
    elif holds:
        detail = (f"any N distinct points {'with one-hot labels ' if variant == 'classification' else ''}"
                  f"can be memorized (yun-deep); layer pairs l = {plan.blocks}")
    else:
        detail = f"condition fails by {N - plan.capacity} with the best choice l = {plan.blocks}"
    return BoundRow(source, "sufficient", holds, statement, values, detail)


@register_bounds("yun2019_deep")
def yun2019_deep_bounds(arch: Architecture, N: int, ds: Any = None, **_: Any) -> list[BoundRow]:
    act = arch.activation
    if arch.residual or act.kind not in ("hardtanh", "relu_like") or len(arch.widths) < 3:
        return []
    k = 2 if act.kind == "hardtanh" else 4
    kind = "hard-tanh" if k == 2 else "ReLU-like"
    classification = ds is None or getattr(ds, "task", None) == "classification"
    rows: list[BoundRow] = []
    if len(arch.widths) == 3 and classification:
        d1, d2, d3 = arch.widths
        gates = ["paper", "3unit"] if k == 4 else ["paper"]
        for gate in gates:
            conds = classifier_conditions(N, arch.d_y, (d1, d2, d3), act, gate)
            holds = all(c.holds for c in conds)
            src = "Yun et al. 2019, Proposition 3.2 (yun-classifier)" + (
                ", 3-unit gate" if gate == "3unit" else "")
            rows.append(BoundRow(
                src, "sufficient", holds, " and ".join(c.statement for c in conds),
                {**conds[0].values, **{k2: v for k2, v in conds[1].values.items()}},
                f"any N distinct points with d_y={arch.d_y} classes can be memorized" if holds else
                "fails: " + "; ".join(str(c) for c in conds if not c.holds)))
    src_reg = f"Yun et al. 2019, {'Proposition 3.4' if k == 2 else 'Corollary A.1'} (yun-deep)"
    rows.append(_plan_row(
        src_reg, arch, N, "regression",
        f"∃ l_1<…<l_m: 4·Σ_j ⌊(d_lj - r_j)/{k}⌋·⌊(d_lj+1 - r_j)/({k}·d_y)⌋ ≥ N, r_j = d_y·1{{j>1}} + "
        f"1{{j<m}}, carrier layers ≥ d_y+1 / d_y ({kind})"))
    if classification:
        src_cls = (f"Yun et al. 2019, {'Corollary A.2' if k == 2 else 'Corollary A.3'} "
                   "(yun-deep, classification)")
        rows.append(_plan_row(
            src_cls, arch, N, "classification",
            f"∃ l_1<…<l_m: 4·Σ_(j<m) ⌊(d_lj - r_j)/{k}⌋·⌊(d_lj+1 - r_j)/{k}⌋ ≥ N, r_j = 1{{j>1}} + "
            f"1{{j<m-1}}, gate layer d_lm ≥ {relu_units_per_gate(act, 'paper')}·d_y ({kind})"))
    H = len(arch.widths)
    for variant in ["regression"] + (["classification"] if classification else []):
        w = _smallest_equal_width(N, H, arch.d_y, act, variant)
        gw = relu_units_per_gate(act, "paper") * arch.d_y
        shape = f"{H} × {w}" if variant == "regression" else f"{H - 1} × {w} + gate layer {gw}"
        rows.append(BoundRow(
            f"Yun et al. 2019, {'Prop. 3.4/Cor. A.1' if variant == 'regression' else 'Cor. A.2/A.3'}: "
            f"smallest equal width at depth {H + 1}", "info", None,
            f"smallest w with hidden widths {shape} meeting the condition",
            {"w": w, "hidden_layers": H, "N": N},
            f"widths {shape}" if w is not None else "no width suffices at this depth"))
    return rows
