"""Width conditions of Zhang, Zhang, Hong, Sun & Luo (NeurIPS 2021), "Fewer than n neurons can work".

Theorem 1 (expressivity) and Theorem 2 (every KKT point of the constrained problem (7) has loss
O(eps^2)) need Assumption 1 (m even, m >= 2n/d, i.e. (m/2)·d >= n), Assumption 2 (analytic activation
with sigma' != 0: tanh, softplus — not ReLU; erratum ZZHSL-5/ZZHSL-6) and Assumption 3 (inputs drawn from a
continuous distribution). Both hold with probability 1 over the data and the mirrored initialization,
for a 1-hidden-layer net with scalar output; they are therefore reported as *info* rows (what the
theory asks for vs the width used), not as a guarantee for a particular, possibly adversarial, dataset.
Deep nets: Lemma G.1 gives expressivity when m_{L-1}·m_{L-2} >= 2n; trainability is not proved there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memcap.bounds import Architecture, BoundRow, register_bounds

SOURCE = "Zhang et al. 2021"


@register_bounds("zhang2021")
def zhang2021_bounds(arch: Architecture, N: int, ds: Any = None, **_: Any) -> list[BoundRow]:
    rows: list[BoundRow] = []
    d = arch.d_x
    smooth = arch.activation.kind in ("tanh", "softplus")
    if len(arch.widths) == 1 and not arch.residual:
        m = arch.widths[0]
        need = 2 * max(1, math.ceil(N / d))
        values: dict[str, Any] = {"m": m, "n": N, "d": d, "2n/d": round(2 * N / d, 4),
                                  "smallest even m": need, "m < n (narrow)": m < N}
        if ds is not None:
            values["max ||x_i||_2"] = round(float(np.max(np.linalg.norm(ds.X, axis=1))), 6)
        problems = []
        if m % 2:
            problems.append(f"m = {m} is odd (the pairwise net needs m/2 pairs)")
        if m < 2 * N / d:
            problems.append(f"m = {m} < 2n/d = {2 * N / d:.4g}: the theory asks for m >= {need}")
        if not smooth:
            problems.append(f"activation {arch.activation.name} is outside Assumption 2 (needs an analytic "
                            "activation with sigma' != 0: tanh or softplus)")
        if arch.d_y != 1:
            problems.append(f"the theorems are stated for scalar output (d_y = {arch.d_y})")
        ok = not problems
        caveat = ("w.p.1 over data from a continuous distribution and the mirrored init; existence / "
                  "landscape only, no convergence guarantee for PGD")
        rows.append(BoundRow(
            f"{SOURCE}, Theorem 1 (expressivity of the mirrored 1-hidden-layer net)", "info", ok,
            "m even, m ≥ 2n/d, smooth activation", values,
            ("a zero-loss w exists in B_eps(w^0) for small eps; " + caveat) if ok else "; ".join(problems)))
        rows.append(BoundRow(
            f"{SOURCE}, Theorem 2 (KKT points of problem (7); memcap train --regime zhang21)", "info", ok,
            "same as Theorem 1; then every KKT point has loss O(eps²)", values,
            ("the O hides a factor ~ n²·κ²·(λ̃/s̃_min)² and needs eps ≤ eps_0 (erratum ZZHSL-8); " + caveat)
            if ok else "; ".join(problems)))
    elif len(arch.widths) >= 2 and not arch.residual:
        m1, m2 = arch.widths[-2], arch.widths[-1]
        ok = m1 * m2 >= 2 * N and smooth
        rows.append(BoundRow(
            f"{SOURCE}, Lemma G.1 (deep extension: expressivity only)", "info", ok,
            "m_{L-1}·m_{L-2} ≥ 2n (last two hidden widths), smooth activation",
            {"m_{L-2}": m1, "m_{L-1}": m2, "product": m1 * m2, "2n": 2 * N,
             "smallest m_{L-1}": 2 * max(1, math.ceil(N / m1))},
            "trainability (Theorem 2) is not proved for deep nets" if ok else
            ("product too small" if m1 * m2 < 2 * N else "activation outside Assumption 2")))
    return rows
