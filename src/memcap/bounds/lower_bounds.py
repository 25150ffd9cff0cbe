"""Lower-bound rows for ``memcap bounds``: the VC floor (Bartlett, Harvey, Liaw & Mehrabian 2019,
Thm 7, at the architecture's depth and at any depth) and the bit-counting floor W·B ≥ N·log2 C.
Formulas, constants and citations: :mod:`memcap.theory.lower_bounds` (the piece floor of Yun et al.
2019, Theorem 3.3, is the yun2019 provider's row)."""

from __future__ import annotations

from typing import Any

from memcap.bounds import Architecture, BoundRow, register_bounds
from memcap.theory.lower_bounds import bit_floor, vc_floor

__all__ = ["lower_bound_rows"]


@register_bounds("lower_bounds")
def lower_bound_rows(arch: Architecture, N: int, ds: Any = None, classes: Any = None, bits: Any = None,
                     **_: Any) -> list[BoundRow]:
    if arch.activation.smooth:
        return []
    p = arch.activation.pieces
    W, L = arch.parameters, arch.depth
    C = int(classes) if classes is not None else (ds.n_classes if ds is not None and ds.task ==
                                                  "classification" else 2)
    B = int(bits) if bits is not None else 64
    f_L, f_any, f_b = vc_floor(N, L, p), vc_floor(N, None, p), bit_floor(N, C, B)
    src = "Bartlett, Harvey, Liaw & Mehrabian 2019, Theorem 7 (VC dimension ≥ N)"
    return [
        BoundRow(src, "necessary", W >= f_L, f"parameters ≥ {f_L} at depth L = {L}",
                 {"W": W, "L": L, "floor": f_L, "floor_any_depth": f_any, "N": N},
                 "VCdim ≤ L + L'·W·log2(4epR·log2(2epR)), R ≤ L·W, L' ≤ L; constants as recalled "
                 "(memcap.theory.lower_bounds)"),
        BoundRow("counting (W weights of ≤ 2^B values give ≤ 2^{WB} functions)", "necessary",
                 W >= f_b, f"W·B ≥ N·log2 C, i.e. parameters ≥ {f_b}",
                 {"W": W, "B": B, "C": C, "floor": f_b, "N": N},
                 "B = 64 (float64) unless given; a fixed architecture memorizing all C^N labelings"),
    ]
