"""Vardi, Yehudai & Shamir (ICLR 2022), "On the Optimal Memorization Power of ReLU Neural Networks":
architecture, exact sizes and conditions of ``vardi-optimal`` (Theorem 3.1 / 1.1) and ``vardi-depth``
(the depth-L theorem), for any N, without data and without building.

Theorem 3.1 (as restated by Kim, Moon & Yun 2025, Thm B.4; the paper's own statement gives no
constants): N points x_i ∈ ℝ^d with ‖x_i‖ ≤ r and ‖x_i − x_j‖ ≥ δ, labels in [C], are memorized by a
ReLU network of width 12, depth O(√(N log N) + √(N/log N)·max{log R, log C}) and bit complexity
O(log d + √(N/log N)·max{log R, log C}), where R = 10 r N² √(π d)/δ. Hence Õ(d + √N) parameters.

The architecture (all numbers below are ours; the paper states O(·) only, erratum VYS-2):

* stage 1, one ReLU: z = σ(⟨v, x⟩ + b), the data's projections ≥ 2 apart, 0 ≤ z ≤ R;
* stage 2/3, selection of the point's group: N1 = ⌈N/n⌉ groups of n consecutive points (in z order);
  3 ReLU layers per group, widths (3, 2, 3) for the first and (5, 4, 3) for the others (``serial``),
  or one staircase of width 2·N1 − 1 then 3 (``staircase``, the depth-L variant);
* one layer H of width 5 scaling the two selected words U, V (M = n·ℓ bits) into [0, 1);
* stage 4, per slot k = 1..n and bit b = 1..ℓ three layers (Telgarsky's tent map, both words side by
  side, Horner accumulation of the slot's code and label), then two slot-decision layers;
* a linear output (the label k itself; C logits 2c·k − c² for classification).

ℓ = max(ρ, c) with ρ = bitlen(⌊R⌋) (theorem sizing) and c = bitlen(max label code).
:func:`layout` returns the widths as run-length blocks, so N = 10^9 costs microseconds per n.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from memcap.errors import ConditionError, OptionError

__all__ = ["radius_R", "rho_bits", "code_bits", "Layout", "layout", "choose_n", "depth_budget_n",
           "Plan", "plan", "sizes", "GROUPINGS"]

GROUPINGS = ("depth", "params", "paper")


def radius_R(N: int, d: int, r: float, delta: float) -> float:
    """R = 10 · r · N² · √(π d) / δ (Theorem 3.1; KMY write 5 r N² √(π d)/ε with δ = 2ε)."""
    if not (r > 0 and delta > 0):
        raise ConditionError(f"Theorem 3.1 needs r > 0 and δ > 0, got r = {r}, δ = {delta}")
    return 10.0 * float(r) * N * N * math.sqrt(math.pi * d) / float(delta)


def rho_bits(N: int, d: int, r: float, delta: float) -> int:
    """ρ = bitlen(⌊R⌋): every projected code a_i ≤ ⌊R⌋ fits in ρ bits."""
    return max(1, int(math.floor(radius_R(N, d, r, delta))).bit_length())


def code_bits(kmax: int) -> int:
    """c = bitlen(largest label code) (≥ 1). Labels 0..C−1 need bitlen(C−1); the paper's labels
    1..C would need bitlen(C), one more when C is a power of two (erratum VYS-4)."""
    return max(1, int(kmax).bit_length())


# ---- the layer layout -------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Hidden widths as run-length blocks ``(widths, nonzeros, repeat)`` plus input/output dims."""

    d_in: int
    d_out: int
    blocks: tuple[tuple[tuple[int, ...], tuple[int, ...], int], ...]
    out_nonzeros: int

    def widths(self) -> list[int]:
        return [w for ws, _, rep in self.blocks for _ in range(rep) for w in ws]

    @property
    def relu_layers(self) -> int:
        return sum(len(ws) * rep for ws, _, rep in self.blocks)

    @property
    def depth(self) -> int:
        """Affine layers (memcap's Network.depth): ReLU layers + the linear output."""
        return self.relu_layers + 1

    @property
    def max_width(self) -> int:
        return max(max(ws) for ws, _, _ in self.blocks)

    @property
    def parameters(self) -> int:
        """Dense count: Σ (in + 1)·out over every affine layer."""
        total, prev = 0, self.d_in
        for ws, _, rep in self.blocks:
            first = 0
            for w in ws:
                first += (prev + 1) * w
                prev = w
            total += first
            if rep > 1:  # later repetitions read the block's own last width
                again = (ws[-1] + 1) * ws[0] + sum((ws[i - 1] + 1) * ws[i] for i in range(1, len(ws)))
                total += (rep - 1) * again
        return total + (prev + 1) * self.d_out

    @property
    def nonzeros(self) -> int:
        """Generic count of nonzero weights and biases (an upper bound: a data-dependent word or
        label may be 0)."""
        return sum(sum(nz) * rep for _, nz, rep in self.blocks) + self.out_nonzeros


def _slot(k: int, n: int, ell: int) -> tuple[list[int], list[int]]:
    """Widths and generic nonzeros of slot k's 3ℓ + 2 layers (see module docstring)."""
    ws: list[int] = []
    nz: list[int] = []
    has_y = k > 1
    more = k < n
    for b in range(1, ell + 1):
        has_a = b > 1
        last_bit = (not more) and b == ell
        y_in = (1 if k == 2 else 2) if (has_y and b == 1) else 1
        # L1: σ(2τ), σ(4τ−2), σ(2τ'), σ(4τ'−2) per word, x, [A_u, A_w], [Y]
        ws.append(9 + 2 * has_a + has_y)
        nz.append(12 + 1 + 2 * has_a + (y_in if has_y else 0))
        # L2: τ_u, τ'_u, τ_w, τ'_w, x, [A_u, A_w], [Y]
        ws.append(5 + 2 * has_a + has_y)
        nz.append(8 + 1 + 2 * has_a + has_y)
        # L3: [τ's], x, A_u, A_w (Horner step with the extracted bit), [Y]
        ws.append((0 if last_bit else 4) + 1 + 2 + has_y)
        nz.append((0 if last_bit else 4) + 1 + 2 * (4 if has_a else 3) + has_y)
    # L4: π1 = σ(A_u − x), π2 = σ(x − A_u − 1), A_w, [Y], [x, τ's]
    ws.append(3 + has_y + (5 if more else 0))
    nz.append(2 + 3 + 1 + has_y + (5 if more else 0))
    # L5: y_k = σ(A_w − 2^c(π1 + π2)), [Y], [x, τ's]
    ws.append(1 + has_y + (5 if more else 0))
    nz.append(3 + has_y + (5 if more else 0))
    return ws, nz


def layout(N: int, d: int, n: int, ell: int, d_out: int, selection: str = "serial",
           out_bias: int = 0, out_rows: int | None = None) -> Layout:
    """The exact architecture for N points in d dimensions, n points per group, ℓ-bit slots.

    ``out_rows`` / ``out_bias``: output rows reading the label code / with a nonzero bias (for the
    nonzero count only; default every row reads it, no bias).
    """
    if n < 1 or ell < 1 or N < 1:
        raise OptionError(f"layout needs N, n, ℓ ≥ 1, got N={N}, n={n}, ℓ={ell}")
    n = min(n, N)
    N1 = -(-N // n)
    blocks: list[tuple[tuple[int, ...], tuple[int, ...], int]] = [((1,), (d + 1,), 1)]
    if selection == "serial":
        blocks.append(((3, 2, 3), (4, 4, 3), 1))
        if N1 > 1:
            blocks.append(((5, 4, 3), (7, 6, 5), N1 - 1))
    elif selection == "staircase":
        blocks.append(((2 * N1 - 1, 3), (1 + 4 * (N1 - 1), 1 + 2 * (1 + 2 * (N1 - 1))), 1))
    else:
        raise OptionError(f"selection must be 'serial' or 'staircase', got {selection!r}")
    blocks.append(((5,), (7,), 1))  # H
    # slot types: k = 1, k = 2, the middle slots 3..n−1 (identical), k = n
    slots = [(1, 1)] + ([(2, 1)] if n >= 2 else []) + ([(3, n - 3)] if n >= 4 else []) + (
        [(n, 1)] if n >= 3 else [])
    for k, rep in slots:
        ws, nz = _slot(k, n, ell)
        blocks.append((tuple(ws), tuple(nz), rep))
    terms = 1 if n == 1 else 2
    return Layout(d, d_out, tuple(blocks), (d_out if out_rows is None else out_rows) * terms + out_bias)


# ---- choosing the group size --------------------------------------------------------------------
def _serial_cost(N: int, n: int, ell: int, grouping: str) -> float:
    if grouping == "depth":
        return 3 * -(-N // n) + n * (3 * ell + 2)
    return layout(N, 1, n, ell, 1).parameters


def choose_n(N: int, ell: int, grouping: str = "depth") -> int:
    """Points per group: ``depth`` (fewest layers), ``params`` (fewest dense parameters) or
    ``paper`` (n = ⌈√(N / log2 N)⌉, i.e. ≈ √(N log N) groups as in the paper's proof)."""
    if grouping not in GROUPINGS:
        raise OptionError(f"grouping must be one of {GROUPINGS}, got {grouping!r}")
    if N <= 1:
        return 1
    if grouping == "paper":
        return max(1, min(N, math.ceil(math.sqrt(N / math.log2(N)))))
    n0 = max(1, round(math.sqrt(N / (ell + 2 / 3))))
    lo, hi = max(1, n0 // 3), min(N, 3 * n0 + 2)
    cands = range(lo, hi + 1)
    if grouping == "params" and hi - lo > 200:
        cands = sorted({*range(lo, hi + 1, max(1, (hi - lo) // 100)), n0})
        best = min(cands, key=lambda m: _serial_cost(N, m, ell, grouping))
        cands = range(max(1, best - (hi - lo) // 100), min(N, best + (hi - lo) // 100) + 1)
    return min(cands, key=lambda m: (_serial_cost(N, m, ell, grouping), m))


def depth_budget_n(L: int, ell: int, N: int) -> int:
    """Slots per group for at most L affine layers with the staircase selection:
    affine layers = 5 + n(3ℓ + 2) ≤ L. Refuses (ConditionError) when even n = 1 does not fit."""
    n = (int(L) - 5) // (3 * ell + 2)
    if n < 1:
        raise ConditionError(
            f"vardi-depth: depth L = {L} is below the smallest this construction reaches, "
            f"3ℓ + 7 = {3 * ell + 7} affine layers (ℓ = {ell} bits per slot: one slot of 3ℓ + 2 "
            "extraction layers plus projection, staircase, scaling and output); use L ≥ "
            f"{3 * ell + 7} or a shallow method (yun-3layer)")
    return min(n, N)


# ---- the plan ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """Every number the architecture depends on."""

    N: int
    d: int
    d_out: int
    rho: int
    c: int
    ell: int
    n: int
    N1: int
    M: int
    selection: str
    grouping: str
    R: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def plan(N: int, d: int, d_out: int, kmax: int, r: float, delta: float, grouping: str = "depth",
         n: int | None = None, depth: int | None = None, rho: int | None = None) -> Plan:
    """The architecture for N points, labels codes ≤ ``kmax``, ‖x‖ ≤ r, pairwise distance ≥ δ.

    ``depth`` (affine layers) selects the depth-L variant (staircase selection); ``n`` overrides the
    group size; ``rho`` overrides the theorem's ρ = bitlen(⌊R⌋) (data sizing).
    """
    R = radius_R(N, d, r, delta)
    rho_ = rho_bits(N, d, r, delta) if rho is None else int(rho)
    c = code_bits(kmax)
    ell = max(rho_, c)
    if depth is not None:
        nn = depth_budget_n(int(depth), ell, N)
        if n is not None:
            if int(n) > nn:
                raise ConditionError(f"vardi-depth: n = {n} slots need {5 + int(n) * (3 * ell + 2)} "
                                     f"affine layers > L = {depth}")
            nn = int(n)
        selection = "staircase"
    else:
        nn = choose_n(N, ell, grouping) if n is None else int(n)
        selection = "serial"
    if nn < 1:
        raise OptionError(f"n (points per group) must be ≥ 1, got {nn}")
    nn = min(nn, N)
    N1 = -(-N // nn)
    return Plan(N, d, d_out, rho_, c, ell, nn, N1, nn * ell, selection, grouping, R)


def sizes(p: Plan, out_bias: int = 0, out_rows: int | None = None) -> dict[str, Any]:
    """Exact widths (when small), depth, dense and generic nonzero parameters, and weight bits."""
    lay = layout(p.N, p.d, p.n, p.ell, p.d_out, p.selection, out_bias, out_rows)
    out: dict[str, Any] = {
        "depth": lay.depth, "relu_layers": lay.relu_layers, "max_width": lay.max_width,
        "parameters": lay.parameters, "nonzeros_generic": lay.nonzeros,
        # fixed point bits of the words and shifts (stage 1 aside): M magnitude + fraction, + sign
        "weight_bits": p.M + 2,
        "n": p.n, "N1": p.N1, "ell": p.ell, "M": p.M,
    }
    if lay.relu_layers <= 200_000:
        out["widths"] = lay.widths()
    return out
