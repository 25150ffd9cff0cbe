"""Theorem 3 of Park, Lee, Yun & Shin (2021): generic sufficient criteria for an architecture.

A network with hidden widths d_1..d_L memorizes every Δ-separated set of N points in d_x dimensions
with C classes if some 2 ≤ K ≤ log N and 0 < L_1 < ... < L_K < L satisfy (D = max(1, ⌈log C⌉)):

1. d_l ≥ 3 for l ≤ L_K and d_l ≥ 7 for l > L_K;
2. Π_{l ≤ L_1} ⌊(d_l + 1)/2⌋ ≥ Δ √(2π d_x);
3. Σ_{l=L_{i−1}+1}^{L_i} (d_l − 2) ≥ 2^{i+3} for 1 < i ≤ K − 1;
4. 2^K · Σ_{l=L_{K−1}+1}^{L_K} (d_l − 2) · ⌊(L − L_K − 1)/D⌋ − 4 ≥ N².

:func:`theorem3` decides this exactly (spec Sec. 6: greedy segment choice is optimal; condition 2 is
compared squared with the rational upper bound 355/113 > π, so a "holds" is sound). The paper
states the theorem for sigmoidal activations; ReLU follows via hard tanh = two ReLUs (footnote 6).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from memcap.bounds import Architecture, BoundRow, register_bounds

__all__ = ["theorem3", "min_depth_uniform"]

PI_UP = Fraction(355, 113)  # > π: makes condition 2 sufficient


def _D(C: int) -> int:
    return max(1, (int(C) - 1).bit_length())


def theorem3(widths: list[int] | tuple[int, ...], N: int, d_x: int, C: int, delta: Any
             ) -> dict[str, Any]:
    """Exact decision of Theorem 3's conditions; returns {holds, K, L (the L_i), reason}."""
    d = [int(w) for w in widths]
    L = len(d)
    D = _D(C)
    delta = Fraction(delta)
    Kmax = max(0, N.bit_length() - 1)  # ⌊log2 N⌋
    if Kmax < 2:
        return {"holds": False, "reason": f"needs 2 ≤ K ≤ log N, impossible for N = {N} < 4"}
    need2 = 2 * PI_UP * d_x * delta * delta  # (Δ √(2π d_x))² < need2
    prod, L1 = 1, None
    for l_ in range(L):
        if d[l_] < 3:
            break
        prod *= (d[l_] + 1) // 2
        if prod * prod >= need2:
            L1 = l_ + 1
            break
    if L1 is None:
        return {"holds": False, "reason": f"condition 2 fails: Π ⌊(d_l+1)/2⌋ over the width-≥3 prefix "
                                          f"stays below Δ√(2π d_x) ≈ {float(need2) ** 0.5:.4g}"}
    P = [0]
    for w in d:
        P.append(P[-1] + w - 2)
    first_small3 = next((i + 1 for i, w in enumerate(d) if w < 3), L + 1)  # layers >= this have d < 3
    last_small7 = max((i + 1 for i, w in enumerate(d) if w < 7), default=0)
    best: tuple[int, int] | None = None  # (largest lhs of condition 4, its K)
    stop = ""
    for K in range(2, Kmax + 1):
        Ls = [L1]
        ok = True
        for i in range(2, K):
            start, target, j = Ls[-1], 2 ** (i + 3), Ls[-1]
            while j < L and P[j] - P[start] < target:
                j += 1
            if P[j] - P[start] < target or j >= L:
                ok = False
                break
            Ls.append(j)
        if not ok:
            stop = f"; condition 3 cannot be met from K = {K} on"
            break
        lo = max(Ls[-1] + 1, last_small7)
        hi = min(L - 1, first_small3 - 1)
        for LK in range(lo, hi + 1):
            lhs = 2 ** K * (P[LK] - P[Ls[-1]]) * ((L - LK - 1) // D) - 4
            if lhs >= N * N:
                return {"holds": True, "K": K, "L": [*Ls, LK], "lhs4": lhs, "N2": N * N, "D": D}
            if best is None or lhs > best[0]:
                best = (lhs, K)
    if best is None:
        return {"holds": False, "reason": "no split with d_l ≥ 7 after L_K exists" + stop}
    return {"holds": False, "reason": f"condition 4 fails: its left side reaches at most {best[0]} "
                                      f"(K = {best[1]}) < N² = {N * N}{stop}"}


def min_depth_uniform(width: int, N: int, d_x: int, C: int, delta: Any, limit: int = 10**7) -> int | None:
    """Fewest hidden layers L such that [width]*L meets Theorem 3 (None if width < 7 or > limit)."""
    if width < 7:
        return None

    def ok(L: int) -> bool:
        return theorem3([width] * L, N, d_x, C, delta)["holds"]

    lo, hi = 0, 8
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > limit:
            return None
    while lo + 1 < hi:  # more layers never hurt (conditions only loosen)
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


@register_bounds("park2021")
def park2021_bounds(arch: Architecture, N: int, ds: Any = None, **opts: Any) -> list[BoundRow]:
    src = "Park et al. 2021, Theorem 3"
    delta, C = opts.get("delta"), opts.get("classes")
    if ds is not None and getattr(ds, "task", None) == "classification":
        from memcap.constructions.park2021.sublinear import default_delta

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
    from memcap.constructions.park2021.sublinear import park_size

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
