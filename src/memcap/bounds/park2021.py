"""Theorem 3 of Park, Lee, Yun & Shin (2021): generic sufficient criteria for an architecture.

A network with hidden widths d_1..d_L memorizes every Δ-separated set of N points in d_x dimensions
with C classes if some 2 ≤ K ≤ log N and 0 < L_1 < ... < L_K < L satisfy (D = max(1, ⌈log C⌉)):

1. d_l ≥ 3 for l ≤ L_K and d_l ≥ 7 for l > L_K;
2. Π_{l ≤ L_1} ⌊(d_l + 1)/2⌋ ≥ Δ √(2π d_x);
3. Σ_{l=L_{i−1}+1}^{L_i} (d_l − 2) ≥ 2^{i+3} for 1 < i ≤ K − 1;
4. 2^K · Σ_{l=L_{K−1}+1}^{L_K} (d_l − 2) · ⌊(L − L_K − 1)/D⌋ − 4 ≥ N².

:func:`theorem3` decides this exactly (: greedy segment choice is optimal; condition 2 is
compared squared with the rational upper bound 355/113 > π, so a "holds" is sound). The paper
states the theorem for sigmoidal activations; ReLU follows via hard tanh = two ReLUs (footnote 6).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from memcap.bounds import Architecture, BoundRow, register_bounds
from memcap.theory.park2021 import min_depth_uniform, theorem3

__all__ = []



@register_bounds("park2021")
def park2021_bounds(arch: Architecture, N: int, ds: Any = None, **opts: Any) -> list[BoundRow]:
    src = "Park et al. 2021, Theorem 3"
    delta, C = opts.get("delta"), opts.get("classes")
    if ds is not None and getattr(ds, "task", None) == "classification":
        from memcap.theory.park2021 import default_delta

        delta = default_delta(ds) if delta is None else delta
        C = ds.n_classes if C is None else C
    if delta is None or C is None:
        return [BoundRow(src, "info", None, "Δ-separated N points, C classes: needs Δ and C",
                         {"N": N}, "give --data (classification) or --delta and --classes")]
    if arch.residual:
        return []
    delta = Fraction(str(delta)) if not isinstance(delta, Fraction) else delta
    res = theorem3(arch.widths, N, arch.d_x, int(C), delta)
    vals = {"N": N, "d_x": arch.d_x, "C": C, "delta": str(delta), "L": len(arch.widths)}
    rows = []
    if res["holds"]:
        vals.update({"K": res["K"], "L_i": res["L"]})
        detail = "memorizes every Δ-separated set of N points (sigmoidal/hard-tanh; ReLU via footnote 6)"
    else:
        detail = res["reason"]
    rows.append(BoundRow(src, "sufficient", bool(res["holds"]),
                         "∃ 2≤K≤log N, L_1<…<L_K<L: conditions 1–4 (d≥3 then ≥7; Π⌊(d+1)/2⌋ ≥ Δ√(2πd_x); "
                         "segments ≥ 2^{i+3}; 2^K·A·⌊(L−L_K−1)/D⌋ − 4 ≥ N²)", vals, detail))
    from memcap.theory.park2021 import park_size

    for method, thm in (("park-sublinear", "Theorem 1"), ("park-width3", "Theorem 2")):
        n = park_size(N, arch.d_x, int(C), delta, method)
        rows.append(BoundRow(f"Park et al. 2021, {thm}",
                             "info", None, f"{method} builds a memorizer of this size (exact formula)",
                             {"hidden_layers": n["hidden_layers"], "width": n["width"],
                              "parameters": n["parameters"]},
                             "memcap construct -m " + method))
    wmax = max(arch.widths, default=0)
    if wmax >= 7:
        md = min_depth_uniform(wmax, N, arch.d_x, int(C), delta)
        rows.append(BoundRow(src, "info", None, f"minimal depth at uniform width {wmax}",
                             {"width": wmax, "hidden_layers": md}, "binary search over L with the same test"))
    return rows
