"""Bounds from Yun, Sra & Jadbabaie (2019)."""

from __future__ import annotations

from typing import Any

from memcap.bounds import Architecture, BoundRow, register_bounds


@register_bounds("yun2019")
def yun2019_bounds(arch: Architecture, N: int, ds: Any = None, **_: Any) -> list[BoundRow]:
    rows: list[BoundRow] = []
    if len(arch.widths) == 2 and not arch.residual and arch.activation.kind in ("hardtanh", "relu_like"):
        d1, d2 = arch.widths
        k = 2 if arch.activation.kind == "hardtanh" else 4
        lhs = 4 * (d1 // k) * (d2 // (k * arch.d_y))
        rows.append(BoundRow(
            "Yun et al. 2019, Theorem 3.1 (yun-3layer)", "sufficient", lhs >= N,
            f"4·⌊d1/{k}⌋·⌊d2/({k}·d_y)⌋ ≥ N",
            {"d1": d1, "d2": d2, "d_y": arch.d_y, "lhs": lhs, "N": N},
            "any N distinct points with targets in [-1,1]^d_y can be memorized" if lhs >= N else
            f"condition fails by {N - lhs}",
        ))
    return rows
