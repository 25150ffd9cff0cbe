"""Lower bounds on the size of any network that memorizes N points, and how far a built one is.

Every memorizer of *all* labelings of N points (C ≥ 2 classes) shatters those points (threshold the
output between two labels), so its architecture has VC dimension ≥ N. Three floors follow:

1. **VC floor** (Bartlett, Harvey, Liaw & Mehrabian, "Nearly-tight VC-dimension and pseudodimension
   bounds for piecewise linear neural networks", JMLR 20(63), 2019, Theorem 7, as we recall it —
   the text of the theorem could not be retrieved to re-check its constants; the abstract confirms
   the order O(W·L·log W)): a network of L layers, W parameters and k_i units in layer i with a
   p-piece piecewise-polynomial activation of degree ≤ D has

       VCdim ≤ L + L' · W · log2(4 e p R · log2(2 e p R)),   R = Σ_i k_i (1 + (i − 1) D^{i−1}),

   L' ≤ L the parameter-weighted mean depth. For ReLU p = 2, D = 1, so R = Σ_i i·k_i ≤ L·U with U ≤ W
   units. :func:`vc_floor` is the least W for which this bound reaches N at depth L (at any depth:
   L ≤ W, since every layer has a parameter). W ≥ L is added (a depth-L net has ≥ L parameters).
2. **Bit-counting floor** (exact, self-contained): a fixed architecture whose W weights each take at
   most 2^B values computes at most 2^{W·B} functions; memorizing all C^N labelings needs
   W·B ≥ N·log2 C, and with per-weight precisions B_w, Σ_w B_w ≥ N·log2 C (total weight bits).
   (Vardi, Yehudai & Shamir 2022 prove that large bit complexity is necessary in this sense; their
   form carries extra log factors for architectures that may vary.)
3. **Piece floor** (Yun, Sra & Jadbabaie 2019, Theorem 3.3 / App. D): along the line of
   x_i = i·u with labels (−1)^i the network needs ≥ N − 1 affine pieces; a net with hidden widths
   d_l and a p-piece activation has at most B + 1 pieces, B' = B + d_l(p − 1)(B + 1) per layer
   (:func:`piece_bound`, the union-of-breakpoints form used by :mod:`memcap.certify.pieces`).

:func:`floors_for` puts them beside a built network's counts and gives the ratio to the best floor
("3.4× from optimal"). Floors are for parameters counted as nonzero weights and biases; a dense
count is ≥ that.
"""

from __future__ import annotations

import math
from typing import Any

from memcap.theory.yun2019 import piece_bound

__all__ = ["vc_upper", "vc_floor", "bit_floor", "total_bits_floor", "piece_bound", "floors_for"]

E = math.e


def vc_upper(W: int, L: int, R: int | None = None, p: int = 2) -> float:
    """BHLM 2019 Thm 7's VC upper bound for ≤ W parameters and L layers (L' ≤ L; R ≤ L·W if None)."""
    W, L = max(1, int(W)), max(1, int(L))
    R = L * W if R is None else max(1, int(R))
    inner = 2 * E * p * R
    return L + L * W * math.log2(4 * E * p * R * math.log2(inner))


def vc_floor(N: int, L: int | None = None, p: int = 2) -> int:
    """Least W with vc_upper(W, L) ≥ N (depth-free when L is None: L = W, the worst case)."""
    N = int(N)
    if N <= 1:
        return max(1, 0 if L is None else int(L))

    def ok(W: int) -> bool:
        depth = W if L is None else int(L)
        return vc_upper(W, depth, depth * W, p) >= N

    lo, hi = 1, 1
    while not ok(hi):
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return max(lo, 0 if L is None else int(L))


def bit_floor(N: int, C: int, B: int) -> int:
    """Least W with W·B ≥ N·log2 C (fixed architecture, weights of at most 2^B values)."""
    if C < 2 or N < 1:
        return 0
    return math.ceil(N * math.log2(C) / max(1, int(B)) - 1e-9)


def total_bits_floor(N: int, C: int) -> float:
    """Σ_w B_w ≥ N·log2 C: the weight bits any fixed-precision memorizer of all labelings needs."""
    return N * math.log2(C) if C >= 2 else 0.0




def _classes(ds: Any) -> int:
    if getattr(ds, "task", "classification") == "classification":
        return int(ds.n_classes)
    import numpy as np

    return int(len(np.unique(np.asarray(ds.y).reshape(len(ds.y), -1), axis=0)))


def floors_for(network_counts: dict[str, Any], ds: Any, weight_bits: int | None = None,
               total_weight_bits: int | None = None, p: int = 2) -> dict[str, Any]:
    """The floors for a network of these counts (``Network.counts()``) memorizing ``ds``.

    ``weight_bits``: largest bits per weight (fixed point; default 64, i.e. float64 storage, or
    ``network_counts["weight_bits"]``). Regression data count distinct target rows as the classes.
    Returns the floors, the best one, the ratios parameters/best and nonzeros/best, and ``lines``
    (text for a report).
    """
    N = int(ds.N)
    C = _classes(ds)
    L = int(network_counts["depth"])
    widths = list(network_counts.get("widths", []))
    B = int(weight_bits if weight_bits is not None else network_counts.get("weight_bits", 64))
    vc_any = vc_floor(N, None, p)
    vc_L = vc_floor(N, L, p)
    bf = bit_floor(N, C, B)
    pieces = piece_bound(widths, p)
    best = max(vc_any, vc_L, bf, 1)
    which = {vc_any: "VC (any depth)", bf: f"bits (B = {B})", vc_L: f"VC at depth {L}"}[best] \
        if best in (vc_any, vc_L, bf) else "trivial"
    params = int(network_counts["parameters"])
    nz = int(network_counts.get("nonzeros", params))
    out: dict[str, Any] = {
        "N": N, "C": C, "depth": L, "weight_bits": B,
        "vc_floor_any_depth": vc_any, "vc_floor_at_depth": vc_L, "bit_floor": bf,
        "total_bits_floor": total_bits_floor(N, C),
        "pieces_log2": math.log2(pieces), "pieces_enough": pieces >= N - 1,
        "best_floor": best, "best_floor_source": which,
        "ratio_parameters": params / best, "ratio_nonzeros": nz / best,
    }
    lines = [
        f"VC floor (BHLM 2019 Thm 7, constants as recalled): ≥ {vc_any} parameters at any depth, "
        f"≥ {vc_L} at depth {L}",
        f"bit floor W·B ≥ N·log2 C: ≥ {bf} parameters at B = {B} bits "
        f"(total weight bits ≥ {total_bits_floor(N, C):.0f})"
        + ("" if total_weight_bits is None else f"; this network stores {total_weight_bits}"),
        f"piece floor (Yun et al. 2019 Thm 3.3, for N points on a line with alternating labels): "
        f"needs N − 1 = {N - 1} pieces, the architecture allows 2^{math.log2(pieces):.1f}"
        + ("" if pieces >= N - 1 else " — too few for such collinear data (these data need not lie on a "
           "line)"),
        f"parameters {params} = {params / best:.3g}× and nonzeros {nz} = {nz / best:.3g}× the best "
        f"floor ({best}, {which})",
    ]
    out["lines"] = lines
    return out
