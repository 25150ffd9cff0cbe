"""Bounds from Yu, Gao & Zhang (ICLR 2024): necessary conditions for robust memorization
(Sec. 4.2: Thm 4.3, Prop. 4.5, Prop. 4.6(2); Sec. 5.2: Prop. 5.4, Prop. 5.5(2)) and the sufficient
architectures of Thm 4.8 (``yu-robust``) and Thm 5.2 (``yu-lipschitz``).

The necessary conditions are worst-case statements: *some* dataset of the stated size defeats the
architecture at the stated budget (a robust radius μ, given as a fraction ``budget`` of λ_D/2).
They are not verdicts on a particular dataset. ``opts`` may carry ``budget`` (fraction of λ_D/2 in
(0, 1)); without it each row says from which budget on it applies.
"""

from __future__ import annotations

import math
from typing import Any

from memcap.bounds import Architecture, BoundRow, register_bounds

SRC = "Yu, Gao & Zhang 2024"


def shell_cover_size(n: int, budget: float) -> int:
    """Points Prop. 4.5's dataset needs: x_1 plus label-2 points whose μ-balls cover the shell
    λ < ||z - x_1||_∞ <= λ + 2μ; 2n faces of ⌈(λ+2μ)/μ⌉^(n-1) cubes each, μ = budget·λ/2
    (the paper says any N works; erratum YGZ-15)."""
    per_side = math.ceil((2 + 2 * budget) / budget - 1e-12)  # (λ + 2μ)/μ = 2/budget + 2
    return 1 + 2 * n * per_side ** (n - 1)


def robust_block_widths(n: int, N: int) -> list[int]:
    return [3 * n + 1, n + 2] * N


def _fits(widths: tuple[int, ...], need: list[int]) -> bool:
    """Every needed hidden layer fits (idle units pad the rest); extra trailing layers pass the
    nonnegative running value on with ReLU (at least one unit each)."""
    if len(widths) < len(need):
        return False
    return all(w >= k for w, k in zip(widths, need, strict=False)) and all(w >= 1 for w in widths)


@register_bounds("yu2024")
def yu2024_bounds(arch: Architecture, N: int, ds: Any = None, **opts: Any) -> list[BoundRow]:
    """Which of Yu et al. 2024's results hold for ``arch`` on N points (sufficient and necessary rows).

    Long: one BoundRow per result of Yu et al. (Theorems 4.8, B.5/B.6, 5.2 and the lower bounds), in the
    paper's order; each row is a few lines and they share the architecture's checks.
    """
    rows: list[BoundRow] = []
    n = arch.d_x
    relu = arch.activation.kind == "relu_like" and arch.activation.s_minus == 0 and not arch.residual
    budget = opts.get("budget")
    if budget is not None and not 0 < float(budget) < 1:
        raise ValueError(f"budget must be a fraction of λ_D/2 in (0, 1), got {budget}")
    if not arch.widths or not relu:
        return rows
    d1 = arch.widths[0]
    classification = ds is None or getattr(ds, "task", "classification") == "classification"
    if not classification:
        return rows

    # ---- sufficient: the constructions -------------------------------------------------------
    need = robust_block_widths(n, N)
    ok = _fits(arch.widths, need)
    rows.append(BoundRow(
        f"{SRC}, Theorem 4.8 (yu-robust)", "sufficient", ok,
        "≥ 2N hidden layers with widths ≥ (3n+1, n+2) repeated N times ⇒ robust memorization of any "
        "N points at any budget μ < λ_D/2 (L∞)",
        {"n": n, "N": N, "hidden_layers": len(arch.widths), "needed_layers": 2 * N,
         "needed_width": 3 * n + 1},
        "F = y_i exactly on every ball B∞(x_i, μ)" if ok else
        f"needs {2 * N} hidden layers alternating widths {3 * n + 1} and {n + 2}",
    ))
    from memcap.theory.yu2024 import lipschitz_block_widths

    L = arch.d_y if arch.d_y >= 2 else 2
    block, _ = lipschitz_block_widths(n, L)
    need_l = [(1 if L == 2 else L) + n] + block * N
    ok = _fits(arch.widths, need_l)
    rows.append(BoundRow(
        f"{SRC}, Theorem 5.2 (yu-lipschitz)", "sufficient", ok,
        "≥ N(2⌈log2 n⌉+5)+1 hidden layers with the block widths of App. C.2 ⇒ memorization with "
        "Lip∞ = 2/λ_D (optimal; robust on every open ball of radius λ_D/2)",
        {"n": n, "N": N, "hidden_layers": len(arch.widths), "needed_layers": len(need_l),
         "needed_width": max(need_l)},
        "" if ok else f"needs {len(need_l)} hidden layers of widths up to {max(need_l)}",
    ))

    # ---- necessary, Sec. 4.2 -------------------------------------------------------------------
    b = None if budget is None else float(budget)
    if N >= n + 1:
        applies = b is None or b >= 2 / 3
        rows.append(BoundRow(
            f"{SRC}, Theorem 4.3", "necessary", (d1 >= n) if applies else None,
            "first hidden layer width d_1 ≥ n = d_x, else some dataset with N ≥ n+1 points is not robustly "
            "memorized at budget μ ≥ λ_D/3 (budget ≥ 2/3 of λ_D/2)",
            {"d_1": d1, "n": n, "N": N, "budget": b, "min_budget": 2 / 3,
             "robust_accuracy_at_most": round(1 - 1 / (n + 1), 6)},
            ("rank(W_1) < n makes F constant along a direction; on App. B.2's dataset (blocks {0, e_1..e_n} "
             "shifted by k·1) one point per block is lost. The paper states budget 0.4·λ_D; its proof "
             "works from λ_D/3") if applies else
            "budget below 2/3 of λ_D/2: Theorem 4.3's dataset does not apply",
        ))
    if b is not None:
        need_n = shell_cover_size(n, b)
        rows.append(BoundRow(
            f"{SRC}, Proposition 4.5", "necessary", (d1 >= n) if N >= need_n else None,
            "first hidden layer width d_1 ≥ n at every budget, for datasets large enough to cover the "
            "shell λ < ||z - x_1||_∞ ≤ λ + 2μ with μ-balls",
            {"d_1": d1, "n": n, "N": N, "budget": b, "N_needed": need_n},
            "applies" if N >= need_n else
            f"needs N ≥ {need_n} points for this budget (the paper's 'any N' is too strong, erratum YGZ-15)",
        ))
    if len(arch.widths) == 1 and N >= 5:
        w = arch.widths[0]
        applies = b is None or b >= 0.8
        rows.append(BoundRow(
            f"{SRC}, Proposition 4.6(2)", "necessary", (w >= 2 * (N - 4)) if applies else None,
            "depth 2: width ≥ 2(N-4) to robustly memorize x_i = i·e_1 with labels alternating 2, 4 "
            "at budget μ = 0.4·λ_D (0.8 of λ_D/2); scalar output with the argmin label rule, L ≥ 4",
            {"width": w, "N": N, "needed": 2 * (N - 4), "budget": b},
            ("each gap (k, k+1), k = 4..N-1, needs two ReLU breakpoints. Width N is too small once "
             "N ≥ 9 (paper: N > 9, L ≥ 5; its labels y_2 = 3 vs 'even -> 2' clash, erratum YGZ-12)")
            if applies else "budget below 0.8 of λ_D/2: the proposition's dataset does not apply",
        ))

    # ---- necessary, Sec. 5.2 (robust memorization via Lipschitz, binary) ----------------------------
    if len(arch.widths) == 1 and N >= n + 1:
        rows.append(BoundRow(
            f"{SRC}, Proposition 5.4", "necessary", False if n >= 3 else None,
            "depth ≥ 3 for memorization with the optimal Lip∞ = 2/λ_D of every binary dataset with "
            "N ≥ n+1",
            {"depth": arch.depth, "n": n, "N": N},
            "the dataset T = {(0,+1), (e_i,-1)} forces F = 1 - 2||x||_∞ near 0, which no depth-2 net is"
            if n >= 3 else
            "the paper's proof needs n ≥ 3: for n ≤ 2, T is memorized with Lip∞ = 2 by the depth-2 net "
            "1 - 2·max(x_1, x_2) (erratum YGZ-6); whether another dataset defeats depth 2 is open",
        ))
    if len(arch.widths) == 1 and N >= n + 1:
        w = arch.widths[0]
        M = N // (n + 1)
        need_w = M * n * (n - 1) // 2
        # 1/μ = 2 + δ with δ = ε^(1/3) < min(1/120, 1/(100n²), 1/(2w)) (Lemma C.3 with C = w)
        delta = min(1 / 120, 1 / (100 * n * n), 1 / (2 * max(w, 1)))
        crit = 2 / (2 + delta)
        applies = n > 9 and (b is None or b > crit)
        rows.append(BoundRow(
            f"{SRC}, Proposition 5.5(2)", "necessary", (w >= need_w) if applies else None,
            "depth 2: width ≥ M·n(n-1)/2 (M = ⌊N/(n+1)⌋) for robust memorization via Lipschitz "
            "(Lip∞ ≤ 1/μ) of App. C.4's dataset at budget μ = λ_D/(2+ε^(1/3))",
            {"width": w, "n": n, "N": N, "M": M, "needed": need_w, "budget_from": crit, "budget": b},
            ("plain robust memorization of the same data needs only width 4nM (Prop. 5.5(1)): Lipschitz "
             "robustness costs more") if applies else
            ("the proof needs n > 9" if n <= 9 else f"budget below {crit:.12g} of λ_D/2"),
        ))
    return rows
