"""Theorem 3 of Park et al. (2021) as a construction: a network of the *user's* widths memorizing
Δ-separated data whenever the widths pass :func:`memcap.bounds.park2021.theorem3` (App. G).

Layers 1..L_1: Lemma 15 per layer (⌊(d_l − 1)/2⌋ blocks); segments i = 2..K−1: one Lemma 16 mod gadget
spread over the segment's layers; segment K: Lemma 20 lookup with d_l − 2 relative thresholds per
layer (A = 1 + Σ(d_l − 2)); layers L_K+1..L: Lemma 24 with r_l = 1 — bit j is read in layer L_K + j,
its AND with the chunk test one layer later, overlapped (6 ≤ d_l neurons); unused neurons are idle.
Widths are exactly the user's with hard-tanh units (``relu-narrow``: two ReLU layers per layer).
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import (
    Certificate,
    Condition,
    ConditionError,
    Construction,
    ConstructionError,
    register,
)
from memcap.constructions.options import SEED, WIDTHS
from memcap.constructions.park2021.gadgets import mod_gadget, pack_labels, project
from memcap.constructions.park2021.program import (
    Expr,
    Program,
    Q,
    compile_program,
    dense_parameters,
    evaluate_program,
)
from memcap.constructions.park2021.sublinear import DELTA, PARK_ACTIVATION, REFERENCE, _classifier_outputs
from memcap.data.dataset import Dataset
from memcap.errors import NeedsExactArithmetic
from memcap.numerics import to_exact_array
from memcap.theory.park2021 import (
    check_separated,
    k0_bound,
    label_bits,
    min_depth_uniform,
    separation,
    theorem3,
)

__all__ = ["park_thm3", "default_widths"]


def default_widths(N: int, d_x: int, C: int, delta: Fraction) -> list[int]:
    """Uniform width 7 with the fewest layers Theorem 3 accepts (N counted as at least 4)."""
    L = min_depth_uniform(7, max(N, 4), d_x, C, delta)
    if L is None:  # pragma: no cover - width 7 always passes for some L
        raise ConditionError("no uniform width-7 network passes Theorem 3")
    return [7] * L


def _pad(prog: Program, width: int) -> None:
    while len(prog.layers[-1]) < width:
        prog.ident(Expr.constant(0))
    if len(prog.layers[-1]) > width:
        raise ConstructionError(f"layer {prog.level} needs {len(prog.layers[-1])} > {width} neurons")


def _split(widths: list[int], N: int, d_x: int, C: int, delta: Fraction) -> dict[str, Any]:
    res = theorem3(widths, max(N, 4), d_x, C, delta)
    if not res["holds"]:
        raise ConditionError(f"widths fail Theorem 3 for N = {N}, d_x = {d_x}, C = {C}, "
                             f"Δ = {float(delta):.6g}: {res['reason']}")
    return res


def build_thm3_program(ds: Dataset, widths: list[int], delta: Fraction, seed: int = 0,
                       Xq: np.ndarray | None = None) -> tuple[Program, dict[str, Any]]:
    """Theorem 3's program in its proof's order: project to integers (Lemma 14), compression 1
    (Lemma 15 per layer), compression 2 (Lemma 16 per segment), lookup (Lemma 20), extraction
    (Lemma 24)."""
    N, C = ds.N, ds.n_classes
    D = label_bits(C)
    res = _split(widths, N, ds.d_x, C, delta)
    K, Ls = res["K"], res["L"]
    L = len(widths)
    U = N * N // 4 + 1
    K0 = k0_bound(N, ds.d_x, delta)
    if Xq is None:
        Xq = to_exact_array(np.asarray(ds.X, dtype=np.float64))
    u, s, pmin, floors, tries = project(Xq, K0, seed=seed)
    prog = Program(ds.d_x)
    x0 = prog.inputs()
    x = Expr.constant(-pmin / s)
    for k, uk in enumerate(u):
        if uk:
            x = x + x0[k] * (Q(uk) / s)
    x, floors, Kb = _compress1(prog, x, floors, widths[:Ls[0]], K0, U)
    x, floors, Kb = _compress2(prog, x, floors, widths, Ls, K, N, Kb)
    # lookup (Lemma 20, relative thresholds, d_l − 2 per layer)
    look = widths[Ls[K - 2]:Ls[K - 1]]
    A = 1 + sum(d - 2 for d in look)
    B = (L - Ls[K - 1] - 1) // D
    if A * B < Kb:
        raise ConstructionError(f"lookup A·B = {A}·{B} < {Kb}")  # guard (condition 4)
    x, w = _lookup(prog, x, pack_labels(floors, ds.labels, A, B, D), look, A, B)
    out = _extract(prog, x, w, widths[Ls[K - 1]:], B, D)
    prog.outputs = _classifier_outputs(out * (2 ** (B * D + D)), C)
    return prog, {"K": K, "L_i": Ls, "A": A, "B": B, "K0": K0, "projection_tries": tries}


def _compress1(prog: Program, x: Expr, floors: np.ndarray, widths: list[int], K0: int, U: int
               ) -> tuple[Expr, np.ndarray, int]:
    """Compression 1: one Lemma 15 gadget per layer, K0 → ≤ U = ⌊N²/4⌋ + 1."""
    Kb = K0
    for d in widths:
        m = (d - 1) // 2
        T = max(-(-Kb // ((d + 1) // 2)), U)
        M: list[int] = []
        if T < Kb:
            M = [j * T for j in range(1, m + 1) if j * T < Kb] + [Kb]
        x, floors = mod_gadget(prog, x, floors, T, M, [d], "compress1")
        Kb = min(Kb, T)
    if Kb > U:
        raise ConstructionError(f"compression 1 ends at {Kb} > U = {U}")  # guard (condition 2)
    return x, floors, Kb


def _compress2(prog: Program, x: Expr, floors: np.ndarray, widths: list[int], Ls: list[int], K: int,
               N: int, Kb: int) -> tuple[Expr, np.ndarray, int]:
    """Compression 2: one Lemma 16 gadget per segment L_(i-1) .. L_i."""
    for i in range(1, K - 1):
        ws = widths[Ls[i - 1]:Ls[i]]
        cap = ws[0] - 1 if len(ws) == 1 else 2 + sum(w - 2 for w in ws)
        c = cap // 2
        g = -(-N // c)
        T = min(Kb, max(N * g, -(-Kb // 2)))
        M = []
        if T < Kb:
            hi = np.sort(floors[floors >= T])
            M = sorted({T, *[int(hi[j]) for j in range(g, len(hi), g)], Kb})
        x, floors = mod_gadget(prog, x, floors, T, M, ws, "compress2")
        Kb = T
    return x, floors, Kb


def _lookup(prog: Program, x: Expr, ws_: Any, look: list[int], A: int, B: int) -> tuple[Expr, Expr]:
    """Lemma 20 (relative thresholds, d_l − 2 per layer): w = the packed labels of x's bucket."""
    w = Expr.constant(ws_[0])
    e = 0
    for d in look:
        prog.open_layer("lookup")
        xi, wi = prog.ident(x), prog.ident(w)
        xn, wn = xi, wi
        for i in range(1, d - 1):
            st = prog.step(x - i * B)
            xn = xn - st * B
            if e + i < A:
                wn = wn + st * (ws_[e + i] - ws_[e + i - 1])
        e += d - 2
        x, w = xn, wn
    return x, w


def _extract(prog: Program, x: Expr, w: Expr, widths: list[int], B: int, D: int) -> Expr:
    """Lemma 24 (r_l = 1, overlapped): the label bits of x out of w, one layer each."""
    BD = B * D
    E = len(widths)
    v = w
    prev: dict[str, Any] = {}
    for ei in range(1, E + 1):
        prog.open_layer("extract")
        # v as read by this layer: previous v minus the previous bit, plus the AND two layers back
        vin = v
        if prev.get("u") is not None:
            vin = vin - prev["u"] * Q(1, 2 ** prev["p"])
        if prev.get("and") is not None:
            vin = vin + prev["and"] * Q(1, 2 ** prev["and_slot"])
        xi = prog.ident(x) if ei < E else None
        vi = prog.ident(vin)
        cur: dict[str, Any] = {}
        if ei <= BD:
            m = (ei - 1) // D
            cur["u"] = prog.step(vin - Q(1, 2 ** ei))
            cur["p"] = ei
            cur["Im"], cur["Im1"] = prog.step(x - m), prog.step(x - m - 1)
        if prev.get("u") is not None:
            a = prog.step(prev["u"] + prev["Im"] - prev["Im1"] - 2, nonpos=True)
            cur["and"] = a
            cur["and_slot"] = BD + (prev["p"] - 1) % D + 1
        _pad(prog, widths[ei - 1])
        v = vi
        if xi is not None:
            x = xi
        prev = cur
    out = v
    if prev.get("and") is not None:
        out = out + prev["and"] * Q(1, 2 ** prev["and_slot"])
    if prev.get("u") is not None:  # cannot happen: BD <= E − 1
        raise ConstructionError("last layer still extracts a bit")
    return out


def _sizes(ds: Dataset, widths: Any = None, delta: Any = None, activation: str = "hardtanh",
           **_: Any) -> dict[str, Any]:
    d, _c = check_separated(ds, delta)
    ws = [int(w) for w in widths] if widths is not None else default_widths(ds.N, ds.d_x, ds.n_classes, d)
    out_w = ws if activation == "hardtanh" else [w for v in ws for w in (v, v)]
    return {"widths": out_w, "depth": len(out_w) + 1,
            "parameters": dense_parameters(ds.d_x, out_w, ds.n_classes)}


def _break(ds: Dataset, **_: Any) -> dict[str, Any]:
    """Default widths with one extraction layer fewer (the minimal depth minus one fails)."""
    d = check_separated(ds, None)[0]
    ws = default_widths(ds.N, ds.d_x, ds.n_classes, d)
    return {"widths": ws[:-1], "delta": d}


@register(
    "park-thm3",
    theorem="Park et al. 2021, Theorem 3",
    condition="Δ-separated inputs and widths meeting Theorem 3's conditions 1–4 (memcap bounds checks)",
    sizes="the user's widths; default: uniform width 7 of the fewest layers Theorem 3 accepts",
    tasks=("classification",),
    size_formula=_sizes,
    break_condition=_break,
    options=(WIDTHS.with_default(None, "hidden widths (default: uniform width 7, fewest layers)"), DELTA,
             PARK_ACTIVATION, SEED),
)
def park_thm3(ds: Dataset, widths: Any = None, arithmetic: str = "exact", delta: Any = None,
              activation: str = "hardtanh", seed: int = 0) -> Construction:
    """Theorem 3 (App. G): memorize Δ-separated data with the given hidden widths when they pass the
    criteria (decided by :func:`memcap.bounds.park2021.theorem3`; refused with the failing condition
    otherwise). ``activation``: ``hardtanh`` (exact widths) or ``relu-narrow`` (width kept, depth ×2).
    """
    t0 = time.perf_counter()
    if activation not in ("hardtanh", "relu-narrow"):
        raise ConditionError("park-thm3 keeps the user's widths: activation must be hardtanh or relu-narrow")
    if ds.task != "classification":
        raise ConditionError("park-thm3 memorizes class labels (Theorem 3 is for C classes)")
    d, cond = check_separated(ds, delta)
    ws = [int(w) for w in widths] if widths is not None else default_widths(ds.N, ds.d_x, ds.n_classes, d)
    if arithmetic == "float64":
        raise NeedsExactArithmetic("park-thm3 packs labels into weights of B·D bits: use arithmetic='exact'")
    Xq = to_exact_array(np.asarray(ds.X, dtype=np.float64))
    prog, facts = build_thm3_program(ds, ws, d, seed=seed, Xq=Xq)
    ev = evaluate_program(prog, Xq)
    best = np.array([max(range(ds.n_classes), key=lambda c, r=r: ev.outputs[c][r]) for r in range(ds.N)])
    if not np.array_equal(best, ds.labels):
        bad = np.flatnonzero(best != ds.labels)[:5].tolist()
        raise ConstructionError(f"internal: the Step+Id program mislabels points {bad}")
    net = compile_program(prog, ev, activation)
    bits = max(max(int(v.p).bit_length(), int(v.q).bit_length())
               for layer in net.layers for a in layer.arrays() for v in a.ravel())
    net.meta.update({mk.METHOD: "park-thm3", mk.ACTIVATION: activation, mk.EXACT_ONLY: bits > 53})
    cert = Certificate(
        method="park-thm3", theorem="Theorem 3", reference=REFERENCE,
        conditions=[cond, Condition("Theorem 3 conditions 1–4", {"K": facts["K"], "L_i": facts["L_i"],
                                                                 "L": len(ws)}, True)],
        guarantees=["f(x_i) has argmax y_i for every i, in exact arithmetic of the stated weights"],
        arithmetic="exact",
        notes=[f"lookup A = {facts['A']}, B = {facts['B']} chunks; weights up to {bits} bits",
               f"Δ ratio of the data ≈ {separation(ds)['ratio']:.6g}"],
    )
    return Construction(net, cert, {"build_seconds": time.perf_counter() - t0, "weight_bits": bits, **facts})
