"""Bounds from Yun, Sra & Jadbabaie (2019), plus the Zhang et al. (2017) baseline they cite.

Sufficient (memorization guaranteed): Theorem 3.1 (3-layer), Theorem 4.1 (ResNet, general
position), Corollary 4.2 (2-layer, general position), Zhang et al. 2017 Theorem 1 (d1 ≥ N).
Necessary (Theorem 3.3, App. D): a 2-layer net with ``(p-1)d1 + 2 < N`` or a 3-layer net with
``p(p-1)d1d2 + (p-1)d2 + 2 < N`` cannot memorize the dataset ``x_i = i·u, y_i = (-1)^i`` (``gen:hard``)
whatever its weights; p = activation pieces (ReLU-like 2, hard-tanh 3). The same piece count
extends to any depth and to residual blocks (:func:`memcap.certify.pieces.piece_bound`).

:func:`smallest_architectures` gives, for N points, the smallest architecture each theorem allows and
the smallest that Theorem 3.3 does not rule out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memcap.bounds import Architecture, BoundRow, register_bounds
from memcap.network import RELU, Activation

__all__ = ["yun2019_bounds", "thm33_max_n", "thm33_pieces", "smallest_architectures",
           "thm33_min_two_layer_width", "thm33_min_three_layer"]

SRC = "Yun et al. 2019"


# ---- Theorem 3.3 ------------------------------------------------------------------------------------
def thm33_pieces(widths: tuple[int, ...] | list[int], p: int) -> int:
    """Theorem 3.3's piece count (App. D): 2-layer (p-1)d1 + 1, 3-layer p(p-1)d1d2 + (p-1)d2 + 1."""
    if len(widths) == 1:
        return (p - 1) * widths[0] + 1
    if len(widths) == 2:
        d1, d2 = widths
        return p * (p - 1) * d1 * d2 + (p - 1) * d2 + 1
    raise ValueError("Theorem 3.3 is stated for 2- and 3-layer networks (1 or 2 hidden layers)")


def thm33_max_n(widths: tuple[int, ...] | list[int], p: int) -> int:
    """The largest N Theorem 3.3 does not rule out: pieces + 1. For N beyond it some dataset (the hard
    one) cannot be memorized."""
    return thm33_pieces(widths, p) + 1


def thm33_min_two_layer_width(N: int, p: int) -> int:
    """Smallest d1 with (p-1)d1 + 2 ≥ N (fewer hidden units cannot memorize every N-point dataset)."""
    return max(1, math.ceil((N - 2) / (p - 1))) if p > 1 else 0


def thm33_min_three_layer(N: int, p: int, d_x: int = 1, d_y: int = 1) -> tuple[int, int]:
    """(d1, d2) with the fewest hidden neurons (then parameters) not ruled out by Theorem 3.3."""
    best: tuple[int, int, int, int] | None = None
    for d2 in range(1, max(2, N)):
        # smallest d1 with p(p-1)d1d2 + (p-1)d2 + 2 ≥ N
        need = N - 2 - (p - 1) * d2
        d1 = max(1, math.ceil(need / (p * (p - 1) * d2))) if need > 0 else 1
        params = d1 * (d_x + 1) + d2 * (d1 + 1) + d_y * (d2 + 1)
        key = (d1 + d2, params, d1, d2)
        if best is None or key < best:
            best = key
        if d2 > 2 * (best[0] + 1):
            break
    assert best is not None
    return best[2], best[3]


# ---- the provider -----------------------------------------------------------------------------------
def _gp_status(ds: Any) -> bool | None:
    if ds is None:
        return None
    from memcap.theory.general_position import general_position

    return general_position(ds.X).holds


def _gates(ds: Any, N: int, d_x: int, d_y: int) -> tuple[int, str]:
    """G exactly from the class sizes, else its worst case ⌊N/d_x + d_y⌋ (Σ⌈N_k/d_x⌉ ≤ N/d_x + d_y)."""
    if ds is not None and ds.task == "classification":
        counts = np.bincount(ds.labels, minlength=ds.d_y)
        return int(sum(-(-int(n) // d_x) for n in counts if n)), "G from the class sizes"
    return min(N, (N + d_y * d_x) // d_x), "worst case G ≤ ⌊N/d_x + d_y⌋ over class sizes"


@register_bounds("yun2019")
def yun2019_bounds(arch: Architecture, N: int, ds: Any = None, **_: Any) -> list[BoundRow]:
    rows: list[BoundRow] = []
    act = arch.activation
    pl = act.kind in ("hardtanh", "relu_like")
    ws = tuple(arch.widths)
    classification = ds is None or ds.task == "classification"
    if len(ws) == 2 and not arch.residual and pl:
        d1, d2 = ws
        k = 2 if act.kind == "hardtanh" else 4
        lhs = 4 * (d1 // k) * (d2 // (k * arch.d_y))
        rows.append(BoundRow(
            f"{SRC}, Theorem 3.1 (yun-3layer)", "sufficient", lhs >= N,
            f"4·⌊d1/{k}⌋·⌊d2/({k}·d_y)⌋ ≥ N",
            {"d1": d1, "d2": d2, "d_y": arch.d_y, "lhs": lhs, "N": N},
            "any N distinct points with targets in [-1,1]^d_y can be memorized" if lhs >= N else
            f"condition fails by {N - lhs}",
        ))
    if act.smooth:  # tanh / softplus: Theorem 3.3 counts linear pieces, undefined for them
        return rows
    p = act.pieces
    # Theorem 3.3 (necessary), 2- and 3-layer feed-forward nets
    if len(ws) in (1, 2) and not arch.residual:
        nmax = thm33_max_n(ws, p)
        stmt = ("(p-1)·d1 + 2 ≥ N" if len(ws) == 1 else "p(p-1)·d1·d2 + (p-1)·d2 + 2 ≥ N")
        rows.append(BoundRow(
            f"{SRC}, Theorem 3.3", "necessary", N <= nmax, stmt,
            {"p": p, "widths": list(ws), "N_max": nmax, "N": N},
            (f"every N ≤ {nmax} is not ruled out" if N <= nmax else
             f"N = {N} > {nmax}: no weights memorize x_i = i·u, y_i = (-1)^i (gen:hard): the output has at "
             f"most {nmax - 1} pieces along u but needs N - 1 = {N - 1}")
            + ("; stated for d_y = 1, holds for any d_y (the first output alone must fit)" if arch.d_y > 1
               else ""),
        ))
    # the same piece argument for any depth / residual blocks (union of breakpoints)
    if ws and pl:
        from memcap.theory.yun2019 import piece_bound

        pieces = piece_bound(ws, p, arch.residual)
        rows.append(BoundRow(
            f"{SRC}, Theorem 3.3's piece count (App. D), any depth", "necessary", N <= pieces + 1,
            "N - 1 ≤ pieces along a line ≤ B + 1, with B' = B + d_l·(p-1)·(B+1) per hidden layer",
            {"p": p, "pieces": pieces, "N_max": pieces + 1, "N": N},
            "union-of-breakpoints form of Lemma D.1; tighter than the paper's 3-layer count"
            + (", residual blocks included" if arch.residual else ""),
        ))
    # Theorem 4.1 (ResNet) and Corollary 4.2 (2-layer) under general position, classification
    if pl and classification:
        gp = _gp_status(ds)
        G, how = _gates(ds, N, arch.d_x, arch.d_y)
        k = 2 if act.kind == "hardtanh" else 4
        fin = (1 if act.kind == "hardtanh" else 2) * arch.d_y
        gp_txt = {True: "data in general position (checked exactly)",
                  False: "data NOT in general position (a degenerate subset exists): theorem does not apply",
                  None: "if the data are in general position (Assumption 4.1)"}[gp]
        if arch.residual and len(ws) >= 2:
            cap = sum(w // k for w in ws[:-1])
            ok = cap >= G and ws[-1] >= fin and arch.d_x >= arch.d_y and gp is not False
            rows.append(BoundRow(
                f"{SRC}, Theorem 4.1 (yun-resnet)", "sufficient", ok,
                f"d_x ≥ d_y, Σ_(l<L) ⌊d_l/{k}⌋ ≥ G, d_L ≥ {fin}",
                {"capacity": cap, "G": G, "d_L": ws[-1], "d_x": arch.d_x, "d_y": arch.d_y, "N": N},
                f"{gp_txt}; {how}; classification only; paper prints Σ d_l ≥ {k}N/d_x + {k}d_y",
            ))
        if not arch.residual and len(ws) == 1:
            ok = ws[0] >= k * G and gp is not False
            rows.append(BoundRow(
                f"{SRC}, Corollary 4.2 (yun-2layer-gp)", "sufficient", ok,
                f"d1 ≥ {k}·G (G = Σ_k ⌈N_k/d_x⌉ gates)",
                {"d1": ws[0], "G": G, "k·G": k * G, "N": N},
                f"{gp_txt}; {how}; classification only; paper prints d1 ≥ {k}N/d_x + {k}d_y",
            ))
    if len(ws) == 1 and not arch.residual and act == RELU:
        rows.append(BoundRow(
            "Zhang et al. 2017, Theorem 1 (zhang17-wide)", "sufficient", ws[0] >= N, "d1 ≥ N",
            {"d1": ws[0], "N": N}, "any N distinct points, any real targets"))
    return rows


# ---- smallest architectures -------------------------------------------------------------------------
def _params(d_x: int, widths: list[int], d_y: int) -> int:
    dims = [d_x, *widths, d_y]
    return sum(dims[i + 1] * (dims[i] + 1) for i in range(len(dims) - 1))


def smallest_architectures(N: int, d_x: int, d_y: int, activation: Activation = RELU, ds: Any = None,
                           class_counts: Any = None) -> list[dict[str, Any]]:
    """For N points: the smallest architecture each Yun et al. / Zhang et al. theorem allows
    (sufficient), and the smallest 2- and 3-layer nets Theorem 3.3 does not rule out (necessary).

    Rows: {"source", "kind", "widths", "hidden_neurons", "parameters", "depth", "note"}."""
    from memcap.theory.yun2019 import gate_count, resnet_default_widths, three_layer_minimal_widths

    out: list[dict[str, Any]] = []

    def row(source: str, kind: str, widths: list[int], params: int, note: str = "") -> None:
        out.append({"source": source, "kind": kind, "widths": widths, "hidden_neurons": sum(widths),
                    "parameters": params, "depth": len(widths) + 1, "note": note})

    pl = activation.kind in ("hardtanh", "relu_like")
    p = activation.pieces if pl else 0  # only used for piecewise-linear activations
    if pl:
        d1, d2 = three_layer_minimal_widths(N, d_y, activation, d_x)
        row(f"{SRC}, Theorem 3.1", "sufficient", [d1, d2], _params(d_x, [d1, d2], d_y), "any data")
        k = 2 if activation.kind == "hardtanh" else 4
        if ds is not None and ds.task == "classification":
            class_counts = np.bincount(ds.labels, minlength=ds.d_y)
        if class_counts is not None:
            G = gate_count(class_counts, d_x)
            note = "classification, general position"
        else:
            G = min(N, (N + d_y * d_x) // d_x)
            note = "classification, general position; worst-case class sizes"
        row(f"{SRC}, Corollary 4.2", "sufficient", [k * G], _params(d_x, [k * G], d_y), note)
        if d_x >= d_y:
            ws = resnet_default_widths(G, k, d_y, activation, layers=1)
            params = sum(w * (2 * d_x + 1) + d_x for w in ws[:-1]) + ws[-1] * (d_x + 1) + d_y * (ws[-1] + 1)
            row(f"{SRC}, Theorem 4.1 (ResNet)", "sufficient", ws, params, note + "; d_x ≥ d_y")
        if p > 1:
            w2 = thm33_min_two_layer_width(N, p)
            row(f"{SRC}, Theorem 3.3 (2-layer)", "necessary", [w2], _params(d_x, [w2], d_y),
                "arbitrary data: fewer hidden units cannot memorize gen:hard (collinear, so not in "
                "general position)")
            a, b = thm33_min_three_layer(N, p, d_x, d_y)
            row(f"{SRC}, Theorem 3.3 (3-layer)", "necessary", [a, b], _params(d_x, [a, b], d_y),
                "arbitrary data: fewest hidden neurons not ruled out for gen:hard")
    if activation == RELU:
        row("Zhang et al. 2017, Theorem 1", "sufficient", [N], _params(d_x, [N], d_y), "any data")
    return out
