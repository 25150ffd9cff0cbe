"""Bounds for 3-layer ReLU networks from memcap's design D3-zz (docs/precision.md):
the zigzag construction's sufficient condition ⌊(d1+1)/2⌋·2⌊d2/(2d_y)⌋ ≥ N (d1·d2 ≈ 2N), D3's
condition, the dimension count (d1+1)(d2+1) ≥ N, and where they sit against Theorem 3.1's 4N and
Theorem 3.3 (both rows come from the ``yun2019`` provider)."""

from __future__ import annotations

from typing import Any

from memcap.bounds import Architecture, BoundRow, register_bounds

AID = "design D3-zz (docs/precision.md)"


def _is_relu(arch: Architecture) -> bool:
    a = arch.activation
    return a.kind == "relu_like" and a.s_minus == 0


@register_bounds("precision")
def precision_bounds(arch: Architecture, N: int, ds: Any = None, **_: Any) -> list[BoundRow]:
    if len(arch.widths) != 2 or arch.residual or arch.activation.kind != "relu_like":
        return []
    d1, d2 = arch.widths
    dy = arch.d_y
    rows: list[BoundRow] = []
    relu = _is_relu(arch)
    zz = ((d1 + 1) // 2) * 2 * (d2 // (2 * dy))
    rows.append(BoundRow(
        f"{AID}, zigzag construction (zigzag-3layer)", "sufficient", (zz >= N) if relu else None,
        "⌊(d1+1)/2⌋·2⌊d2/(2·d_y)⌋ ≥ N  (d1·d2 ≈ 2N: half of Theorem 3.1's 4N)",
        {"d1": d1, "d2": d2, "d_y": dy, "lhs": zz, "N": N},
        ("any N distinct points, any targets (exact-verified construction)" if zz >= N else
         f"condition fails by {N - zz}") if relu else
        "needs plain ReLU (inactive single units must output exactly 0); not leaky",
    ))
    d3 = ((d1 + 1) // 2) * 2 * (d2 // (4 * dy))
    rows.append(BoundRow(
        "design D3 (docs/precision.md), decoupled construction (decoupled-3layer)", "sufficient",
        (d3 >= N) if relu else None, "⌊(d1+1)/2⌋·2⌊d2/(4·d_y)⌋ ≥ N  (same size class as Theorem 3.1)",
        {"d1": d1, "d2": d2, "d_y": dy, "lhs": d3, "N": N},
        ("any N distinct points; no layer-2 chain (measured float64-faithful to N ≈ 2.6·10⁵)"
         if d3 >= N else
         f"condition fails by {N - d3}") if relu else "needs plain ReLU",
    ))
    if dy == 1:
        dim = (d1 + 1) * (d2 + 1)
        rows.append(BoundRow(
            f"{AID}, dimension count (ReLU, collinear data)", "necessary", dim >= N,
            "(d1+1)(d2+1) ≥ N to memorize every N-point dataset",
            {"d1": d1, "d2": d2, "(d1+1)(d2+1)": dim, "N": N},
            "argument of design D3-zz (not a paper theorem): on a line the outputs are a "
            "piecewise-polynomial map of 2d1 + d2(d1+1) + d2 + 1 parameters, minus d1 + d2 positive "
            "rescalings; stronger than Theorem 3.3's 2·d1·d2 + d2 + 2 ≥ N"
            + ("" if dim >= N else f"; fails: almost every label vector on collinear data is out of "
               f"reach ({dim} < {N})"),
        ))
        rows.append(BoundRow(
            f"{AID}, constants for 3-layer ReLU", "info", None,
            "d1·d2 / N: Theorem 3.1 needs ≈ 4, zigzag ≈ 2, dimension count ≥ ≈ 1",
            {"d1·d2/N": round(d1 * d2 / max(N, 1), 3), "zigzag lhs/N": round(zz / max(N, 1), 3),
             "Thm 3.1 lhs/N": round(4 * (d1 // 4) * (d2 // 4) / max(N, 1), 3)},
            "the factor 2 between zigzag and the dimension count is open (design D3-zz)",
        ))
    return rows
