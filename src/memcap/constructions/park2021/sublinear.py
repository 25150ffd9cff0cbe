"""Park, Lee, Yun & Shin (2021), "Provable memorization via deep neural networks using sub-linear
parameters": Theorem 1 (``park-sublinear``) and Theorem 2 (``park-width3``).

Pipeline: projection to one dimension keeping the points ≥ 1 apart (Lemma 5/14) →
compression 1 (Lemma 15, width-3 layers, bound K0 → U = ⌊N²/4⌋+1) → compression 2 (Lemma 16 stages,
U → V) → lookup of a packed weight holding B labels (Lemmas 13/20) → bit extraction (Lemmas 21/22 or
Lemma 23). Each gadget is a Step+Id block (:mod:`.park2021_gadgets`); the program is evaluated exactly
on the data and compiled to an exact ReLU / hard-tanh network (:mod:`.park2021_program`). The
architecture depends on (N, d_x, C, Δ) and the options only; its exact size comes from
:mod:`.park2021_sizes` without building. Errata: docs/errata.md (PLYS-n);
where the paper is wrong the code says so at the spot.

The lookup weights carry B·D bits (hundreds at N = 1000), so the networks are built in exact
rationals; ``arithmetic="float64"`` is honoured only when every weight is a float64 number exactly.
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
from memcap.constructions.options import SEED, Option
from memcap.constructions.park2021.gadgets import (
    extract_rbit,
    extract_width3,
    lookup_single,
    lookup_width3,
    mod_gadget,
    pack_labels,
    project,
)
from memcap.constructions.park2021.program import (
    ACTIVATIONS,
    Expr,
    Program,
    Q,
    compile_program,
    evaluate_program,
)
from memcap.data.dataset import Dataset
from memcap.errors import NeedsExactArithmetic
from memcap.numerics import _fmpq, to_exact_array
from memcap.theory.park2021 import (
    Plan,
    _flag,
    check_separated,
    plan_sublinear,
    plan_width3,
    separation,
    sizes_from_plan,
)

__all__ = ["park_sublinear", "park_width3", "build_program"]

REFERENCE = ("Park, Lee, Yun & Shin (2021), Provable memorization via deep neural networks using "
             "sub-linear parameters")


# ---- Δ-separation (Definition 1) ------------------------------------------------------------------
#: options shared by Park et al.'s methods
DELTA = Option("delta", "number", None, "Δ of Definition 1 (default: the data's own ratio, rounded up)",
               low=0, open_low=True)
PARK_ACTIVATION = Option("activation", str, "hardtanh", "'relu' (STEP = two ReLUs), 'hardtanh' (one unit per "
                         "Step/Id neuron: the paper's widths) or 'relu-narrow'", choices=ACTIVATIONS)


# ---- the build ------------------------------------------------------------------------------------
def _classifier_outputs(label: Expr, C: int) -> list[Expr]:
    """Outputs f_c = 2c·k − c² for the label index k: argmax_c is k with margin (k−c)² ≥ 1 (affine,
    no extra layer; the paper's network outputs k itself)."""
    return [label * (2 * c) - c * c for c in range(C)]


def build_program(ds: Dataset, plan: Plan, seed: int = 0, Xq: np.ndarray | None = None
                  ) -> tuple[Program, dict[str, Any]]:
    """The Step+Id program of Theorem 1 or 2 for these data, following ``plan``."""
    if Xq is None:
        Xq = to_exact_array(np.asarray(ds.X, dtype=np.float64))
    labels = ds.labels
    u, s, pmin, floors, tries = project(Xq, plan.K0, seed=seed)
    prog = Program(ds.d_x)
    x0 = prog.inputs()
    z = Expr.constant(-pmin / s)
    for k, uk in enumerate(u):
        if uk:
            z = z + x0[k] * (Q(uk) / s)
    facts: dict[str, Any] = {"projection_tries": tries, "K_actual": int(floors.max()) + 1}
    x = z
    # compression 1 (Lemma 15 at width 3: one block [T, K))
    K = plan.K0
    for T in plan.c1_bounds:
        M = [T, K] if K > T else []
        x, floors = mod_gadget(prog, x, floors, T, M, [3], "compress1")
        K = T
    # compression 2 (Lemma 16 stages)
    for T, c in zip(plan.c2_targets, plan.c2_blocks, strict=True):
        M: list[int] = []
        if K > T:
            hi = np.sort(floors[floors >= T])
            g = T // plan.N
            M = [T] + [int(hi[i]) for i in range(g, len(hi), g)] + [K]
            M = sorted(set(M))
        widths = [2 * c + 1] if plan.theorem == 1 else (
            [3] if c == 1 else [3] * (2 * c - 2))
        x, floors = mod_gadget(prog, x, floors, T, M, widths, "compress2")
        if plan.theorem == 1 and plan.bottlenecks:
            prog.open_layer("pass")
            x = prog.ident(x)
        K = T
    if int(floors.max()) >= plan.A * plan.B:
        raise ConstructionError(f"floors reach {int(floors.max())} ≥ A·B = {plan.A * plan.B}")  # guard
    ws = pack_labels(floors, labels, plan.A, plan.B, plan.D)
    if plan.theorem == 1:
        w, xr = lookup_single(prog, x, ws, plan.B)
        if plan.bottlenecks:
            prog.open_layer("pass")
            w, xr = prog.ident(w), prog.ident(xr)
        label = extract_rbit(prog, xr, w, plan.B, plan.D, plan.R)
    else:
        w, xr = lookup_width3(prog, x, ws, plan.B)
        label = extract_width3(prog, xr, w, plan.B, plan.D)
    prog.outputs = _classifier_outputs(label, plan.C)
    facts["packed_weight_bits"] = plan.B * plan.D
    return prog, facts


def _finish(ds: Dataset, plan: Plan, method: str, theorem: str, arithmetic: str, seed: int,
            cond: Condition, t0: float, extra_notes: list[str]) -> Construction:
    if ds.task != "classification":
        raise ConditionError(f"{method} memorizes class labels (Theorems 1–2 are for C classes); "
                             "got regression data")
    if arithmetic == "float64" and plan.B * plan.D + plan.D > 45:
        raise NeedsExactArithmetic(
            f"{method}: the packed lookup weights carry B·D = {plan.B * plan.D} bits, more than float64's "
            "53-bit significand can hold; use arithmetic='exact' (memcap.construct escalates)")
    Xq = to_exact_array(np.asarray(ds.X, dtype=np.float64))
    prog, facts = build_program(ds, plan, seed=seed, Xq=Xq)
    ev = evaluate_program(prog, Xq)
    # the Step+Id program itself must output the labels exactly (internal check; verify re-checks)
    best = np.array([max(range(plan.C), key=lambda c, r=r: ev.outputs[c][r]) for r in range(ds.N)])
    if not np.array_equal(best, ds.labels):
        bad = np.flatnonzero(best != ds.labels)[:5].tolist()
        raise ConstructionError(f"internal: the Step+Id program mislabels points {bad}")
    net = compile_program(prog, ev, plan.activation)
    bits = max(max(int(v.p).bit_length(), int(v.q).bit_length())
               for layer in net.layers for a in layer.arrays() for v in a.ravel())
    if arithmetic == "float64":
        fl = net.to_float()
        exact_in_float = all(
            _fmpq(float(fv)) == ev_ for layer, lf in zip(net.layers, fl.layers, strict=True)
            for a, af in zip(layer.arrays(), lf.arrays(), strict=True)
            for ev_, fv in zip(a.ravel(), af.ravel(), strict=True))
        if not exact_in_float:
            raise NeedsExactArithmetic(
                f"{method}: some weights are not float64 numbers ({bits}-bit rationals); "
                                 "use arithmetic='exact'")
        net = fl
    # weights of more bits than float64 holds: exports to float must be refused unless certified
    net.meta.update({mk.METHOD: method, mk.ACTIVATION: plan.activation, mk.EXACT_ONLY: bits > 53})
    sizes = sizes_from_plan(plan)
    notes = [
        f"projection u: Gaussian direction rounded to integers (seed {seed}), accepted after "
        f"{facts['projection_tries']} tries with K = {facts['K_actual']} ≤ K0 = {plan.K0}",
        f"lookup weights carry B·D = {plan.B * plan.D} bits; largest weight numerator/denominator "
        f"has {bits} bits — float64 evaluation is "
        + ("not faithful in general (see the verification's float64/float32 fields)"
           if plan.B * plan.D + plan.D > 50 else "possible at this size"),
        "classification output f_c = 2c·k − c² of the extracted label k (margin ≥ 1)",
        f"STEP/ID neurons compiled exactly on the data as {plan.activation} units "
        "(margins δ read off an exact evaluation of the Step+Id network)",
        *extra_notes,
    ]
    cert = Certificate(
        method=method, theorem=theorem, reference=REFERENCE,
        conditions=[
            Condition("x_i distinct", {"N": ds.N}, True), cond,
            Condition("⌊z⌋ ∈ ([K0] choose N) after the projection (Lemma 5)",
                      {"K": facts["K_actual"], "K0": plan.K0}, facts["K_actual"] <= plan.K0),
            Condition("V ≥ N and A·B ≥ V (Lemmas 13/17)", {"N": ds.N, "V": plan.V, "A": plan.A,
                                                            "B": plan.B}, True),
        ],
        guarantees=["f(x_i) has argmax y_i for every i, in exact arithmetic of the stated weights "
                    "(margin ≥ 1 before rounding)"],
        arithmetic="exact" if net.exact else "float64",
        notes=notes,
    )
    info = {"plan": plan.to_json(), "sizes": {k: v for k, v in sizes.items() if k != "widths"},
            "weight_bits": bits, "build_seconds": time.perf_counter() - t0, **facts}
    return Construction(net, cert, info)


def _delta_opt(ds: Dataset, delta: Any) -> tuple[Fraction, Condition]:
    return check_separated(ds, delta)


def park_sublinear_sizes(ds: Dataset, delta: Any = None, variant: str = "improved", w: Any = None,
                         R: Any = None, A: int | None = None, bottlenecks: bool = True,
                         activation: str = "relu", **_: Any) -> dict[str, Any]:
    """Exact widths/parameters/depth of :func:`park_sublinear` for these data and options."""
    d, _c = _delta_opt(ds, delta)
    pl = plan_sublinear(ds.N, ds.d_x, ds.n_classes, d, variant, w, R, None if A is None else int(A),
                        _flag(bottlenecks, "bottlenecks"), activation)
    return sizes_from_plan(pl)


def park_width3_sizes(ds: Dataset, delta: Any = None, activation: str = "hardtanh", **_: Any
                      ) -> dict[str, Any]:
    d, _c = _delta_opt(ds, delta)
    return sizes_from_plan(plan_width3(ds.N, ds.d_x, ds.n_classes, d, activation))


def _break(ds: Dataset, **_: Any) -> dict[str, Any]:
    """Δ just below the data's ratio diam/min distance (Definition 1 fails)."""
    sep = separation(ds)
    r = Fraction(sep["ratio"]) * Fraction(999_999, 1_000_000)
    return {"delta": max(Fraction(1), r) if ds.N > 1 else Fraction(1, 2)}


@register(
    "park-sublinear",
    theorem="Park et al. 2021, Theorem 1",
    condition="Δ-separated inputs (diam < Δ·min distance), C classes",
    sizes="O(N^w + N^{1-w/2} log C + log Δ + d_x) parameters, w ∈ [2/3, 1]; ≈ 17k at N=1000, C=10",
    tasks=("classification",),
    size_formula=park_sublinear_sizes,
    break_condition=_break,
    options=(DELTA, Option("variant", str, "improved", "'paper' (w = 2/3, Lemma 4's R and A) or 'improved' "
                           "(w, R, A minimizing the parameter count)", choices=("improved", "paper")),
             Option("w", "number", None, "the exponent w of Theorem 1", low=2 / 3, high=1),
             Option("R", int, None, "bits per extraction stage", low=1),
             Option("A", int, None, "the split A·B ≥ V", low=1),
             Option("bottlenecks", bool, True, "keep Section 5's bottleneck layers (False: ~4× parameters)"),
             PARK_ACTIVATION.with_default("relu"), SEED),
)
def park_sublinear(ds: Dataset, arithmetic: str = "exact", delta: Any = None, variant: str = "improved",
                   w: Any = None, R: Any = None, A: int | None = None, bottlenecks: bool = True,
                   activation: str = "relu", seed: int = 0) -> Construction:
    """Theorem 1 (Sec. 5, App. E, H): a deep network memorizing any Δ-separated N points with C classes
    with O(N^{2/3}) parameters (w = 2/3; constant d_x, C, log Δ).

    ``delta`` (Definition 1; computed from the data when omitted — then it is the data's own ratio
    rounded up) fixes the architecture; data not Δ-separated at the given Δ are refused naming the
    pairs. ``variant="paper"``: w = 2/3, R = 1 + (2p−1) log V, A = ⌈V^p⌉ (Lemma 4) with the
    bottleneck layers of Section 5; ``"improved"`` (default) picks w, R (bits per extraction stage)
    and the split A·B ≥ V minimizing the exact parameter count. ``bottlenecks=False`` folds the
    pass-through layers (the literal reading; ~4× more parameters). ``activation``: ``relu`` (STEP =
    two ReLUs), ``hardtanh`` (one unit per Step/Id neuron: the paper's widths) or ``relu-narrow``.
    """
    t0 = time.perf_counter()
    if activation not in ACTIVATIONS:
        raise ConditionError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    d, cond = check_separated(ds, delta)
    try:
        plan = plan_sublinear(ds.N, ds.d_x, ds.n_classes, d, variant, w, R, None if A is None else int(A),
                              _flag(bottlenecks, "bottlenecks"), activation)
    except ValueError as exc:
        raise ConditionError(str(exc)) from None
    notes = [f"variant {plan.variant}: w = {plan.w}, V = {plan.V}, A = {plan.A}, B = {plan.B}, "
             f"R = {plan.R}, S = {plan.S} extraction stages, bottlenecks = {plan.bottlenecks}"]
    return _finish(ds, plan, "park-sublinear", "Theorem 1", arithmetic, seed, cond, t0, notes)


@register(
    "park-width3",
    theorem="Park et al. 2021, Theorem 2",
    condition="Δ-separated inputs (diam < Δ·min distance), C classes",
    sizes="width 3, Θ(N^{2/3} log C) + log Δ + log d_x hidden layers; ≈ 1055 layers at N=1000, C=10",
    tasks=("classification",),
    size_formula=park_width3_sizes,
    break_condition=_break,
    options=(DELTA, PARK_ACTIVATION, SEED),
)
def park_width3(ds: Dataset, arithmetic: str = "exact", delta: Any = None, activation: str = "hardtanh",
                seed: int = 0) -> Construction:
    """Theorem 2 (App. F): a width-3 network of Θ(N^{2/3} log C) hidden layers memorizing any
    Δ-separated N points with C classes: Lemma 15 layers, Lemma 16 stages spread over width-3 layers
    (max(1, 2C_i − 2) each), Lemma 20 at width 3 (A − 1 layers) and Lemma 23 ((2D+1)B layers).

    ``activation="hardtanh"`` (default; sigmoidal as in the theorem) keeps width 3 exactly;
    ``"relu-narrow"`` gives a width-3 ReLU network of twice the depth (footnote 6); ``"relu"`` doubles
    STEP units instead (width 4).
    """
    t0 = time.perf_counter()
    if activation not in ACTIVATIONS:
        raise ConditionError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    d, cond = check_separated(ds, delta)
    plan = plan_width3(ds.N, ds.d_x, ds.n_classes, d, activation)
    notes = [f"V = {plan.V}, A = {plan.A}, B = {plan.B} (Theorem 2's choice V = ⌈N^{{4/3}}⌉)"]
    return _finish(ds, plan, "park-width3", "Theorem 2", arithmetic, seed, cond, t0, notes)
