"""Theorem 4.1 of Yun, Sra & Jadbabaie (2019): small residual networks memorize classification data
in general position (App. F.1).

ResNet (Sec. 4): ``h^l = h^{l-1} + V^l σ(U^l h^{l-1} + b^l) + c^l`` for l < L, and
``g(x) = V^L σ(U^L h^{L-1} + b^L) + c^L``. In :class:`~memcap.network.Network` terms: L-1
:class:`~memcap.network.Residual` blocks, then the last layer as ``Dense(U^L, b^L, σ)`` followed by
``Dense(V^L, c^L, identity)`` (so ``Network.depth`` = L + 1 and ``widths`` = [d_1, ..., d_L]).

Construction (gates from :mod:`.two_layer`): each group P of ≤ d_x class-k points gets a gate in some
residual layer l that outputs 1 on P and 0 elsewhere; its outgoing column ``β e_k`` pushes P's points
along e_k past ``x^max_(k) + m`` (m ≥ 1 original unit). Points are chosen once, so P is unmoved when
its gate reads ``h^{l-1}``. The last layer thresholds coordinate k at ``x^max_(k) + m/2`` to recover
one-hot outputs. Departures from App. F.1, each from docs/errata.md:

* gates of 2 (hard-tanh), 4 (ReLU-like) or 3 (``gate='3unit'``) units must sit in one residual layer, so
  the condition checked is ``Σ_l ⌊d_l/k⌋ ≥ G`` (item 6), not ``Σ_l d_l ≥ kN/d_x + k d_y``;
* with the 4-unit ReLU gate, ``c^l`` absorbs the offset ``-β (s+ + s-)/(s+ - s-) e_k`` per gate (the
  paper sets c^l = 0; item 7);
* the gate's α and the "no other point on the hyperplane" test use the *moved* points h^{l-1}(x_i),
  not x_i (item 8), and groups of < d_x points take a random hyperplane through them (auxiliary
  points, item 8); β carries a random jitter and is re-drawn when a moved point lands on a later
  gate's hyperplane (the paper: "sample β from a continuous distribution") — decided exactly;
* the final threshold uses m = one unit of the data's exact integer frame (≥ 1 original unit), the
  paper's "+1".
"""

from __future__ import annotations

import time
from typing import Any

import flint
import numpy as np

from memcap import meta as mk
from memcap.constructions.base import Certificate, Condition, ConditionError, Construction, Field, register
from memcap.constructions.gadgets import hardtanh_to_relu_like, pad_units
from memcap.constructions.options import ACTIVATION, GATE, MARGIN, SEED, WIDTHS, Option
from memcap.constructions.yun2019.two_layer import (
    DegenerateSubset,
    IntegerFrame,
    _check_task,
    _parse,
    _shown,
    build_gates,
    class_groups,
    degenerate_message,
    gate_layer,
    gp_assumption,
    require_general_position,
    to_field,
    zeros_field,
)
from memcap.data.dataset import Dataset
from memcap.network import HARDTANH, IDENTITY, Activation, Dense, Network, Residual
from memcap.numerics import to_float_array
from memcap.theory.yun2019 import (
    activation_final_units,
    cor42_theorem_width,
    gate_count,
    gate_units,
    resnet_default_widths,
)

__all__ = ["resnet", "resnet_sizes", "thm41_theorem_width"]

REFERENCE = "Yun, Sra & Jadbabaie (2019), Theorem 4.1; proof in Appendix F.1"


def thm41_theorem_width(N: int, d_x: int, d_y: int, activation: Activation, gate: str = "paper") -> int:
    """Theorem 4.1 as printed: smallest Σ_{l<L} d_l ≥ kN/d_x + k d_y, plus d_L (d_y hard-tanh, 2d_y
    ReLU-like). CIFAR-10 (ReLU): 106 + 20 = 126."""
    final = activation_final_units(activation) * d_y
    return cor42_theorem_width(N, d_x, d_y, activation, gate) + final


def resnet_sizes(ds: Dataset, widths: tuple[int, ...] | None = None, activation: str | Activation = "relu",
                 gate: str = "paper", layers: int = 2, **_: Any) -> dict[str, Any]:
    """Widths [d_1..d_{L-1}, d_L], depth L+1 (last layer stored as two Dense layers) and parameters
    Σ_l (d_l(2d_x+1) + d_x) + d_L(d_x+1) + d_y(d_L+1)."""
    act = _parse(activation)
    k = gate_units(act, gate)
    G = gate_count(np.bincount(ds.labels, minlength=ds.d_y), ds.d_x)
    ws = list(widths) if widths else resnet_default_widths(G, k, ds.d_y, act, layers)
    d = ds.d_x
    params = sum(w * (2 * d + 1) + d for w in ws[:-1]) + ws[-1] * (d + 1) + ds.d_y * (ws[-1] + 1)
    return {"widths": ws, "depth": len(ws) + 1, "parameters": params, "gates": G,
            "theorem_hidden": thm41_theorem_width(ds.N, ds.d_x, ds.d_y, act, gate)}


def _resnet_break(ds: Dataset, activation: str = "relu", **_: Any) -> dict[str, Any]:
    ws = resnet_sizes(ds, activation=activation)["widths"]
    ws[-2] -= 1  # one unit short in the last residual layer: one gate no longer fits
    return {"widths": tuple(ws), "activation": activation}


def _resnet_assumption(ds: Dataset) -> str | None:
    if ds.d_x < ds.d_y:
        return f"Theorem 4.1 needs d_x ≥ d_y, got d_x = {ds.d_x} < d_y = {ds.d_y}"
    return gp_assumption(ds)


@register(
    "yun-resnet",
    theorem="Yun et al. 2019, Theorem 4.1",
    condition="classification; d_x ≥ d_y; Assumption 4.1 (general position); Σ_{l<L} ⌊d_l/k⌋ ≥ G = "
              "Σ_k ⌈N_k/d_x⌉ gates of k units (2 hard-tanh, 4 ReLU-like, 3 with gate='3unit'); d_L ≥ d_y "
              "(hard-tanh) / 2d_y (ReLU-like)",
    sizes="Σ_{l<L} d_l = k·G ≤ 4N/d_x + 4d_y, d_L = 2d_y (ReLU); paper: Σ d_l ≥ 4N/d_x + 4d_y",
    tasks=("classification",),
    size_formula=resnet_sizes,
    break_condition=_resnet_break,
    assumption=_resnet_assumption,
    options=(WIDTHS, ACTIVATION, GATE,
             Option("layers", int, 2, "residual layers the gates are spread over (widths=None)", low=1),
             MARGIN, SEED,
             Option("gp_budget", int, 20_000, "subsets examined by the exact general-position check", low=1),
             Option("max_redraws", int, 50, "redraws of a gate hyperplane that meets another point", low=1)),
)
def resnet(ds: Dataset, widths: tuple[int, ...] | None = None, activation: str | Activation = "relu",
           gate: str = "paper", layers: int = 2, arithmetic: str = "float64", margin: float = 0.25,
           seed: int = 0, gp_budget: int = 20_000, max_redraws: int = 50) -> Construction:
    """Theorem 4.1 (Yun et al. 2019; proof App. F.1): a ResNet memorizing d_y-class data in general
    position when d_x ≥ d_y and (as printed) hard-tanh ``Σ_{l<L} d_l ≥ 2N/d_x + 2d_y, d_L ≥ d_y`` or
    ReLU-like ``Σ_{l<L} d_l ≥ 4N/d_x + 4d_y, d_L ≥ 2d_y``.

    ``widths`` = (d_1, ..., d_{L-1}, d_L); checked condition (erratum: gates cannot straddle layers):
    ``Σ_{l<L} ⌊d_l/k⌋ ≥ G``. ``widths=None`` spreads the G gates evenly over ``layers`` residual
    layers. See the module docstring for the departures from App. F.1.
    """
    t0 = time.perf_counter()
    _check_task(ds, "yun-resnet")
    if arithmetic not in ("float64", "exact"):
        raise ValueError(f"arithmetic must be 'float64' or 'exact', got {arithmetic!r}")
    exact = arithmetic == "exact"
    act = _parse(activation)
    k = gate_units(act, gate)
    d, dy = ds.d_x, ds.d_y
    if d < dy:
        raise ConditionError(f"Theorem 4.1 needs d_x ≥ d_y (class k is pushed along coordinate k), got "
                             f"d_x = {d} < d_y = {dy}; use yun-3layer or zhang17-wide")
    G = gate_count(np.bincount(ds.labels, minlength=dy), d)
    ws, cap, pack, last, paper_total = _check_widths(ds, widths, act, k, gate, layers, G)
    gp = require_general_position(ds, gp_budget)
    rng = np.random.default_rng(seed)
    frame = IntegerFrame(ds.X)
    groups = class_groups(ds)
    built, beta, xmax, mstep = _gates_by_layer(ds, frame, groups, cap, G, len(ws) - 1, margin, rng,
                                               max_redraws)
    layers_out = _residual_layers(built, beta, frame, groups, act, k, d, ws, exact)
    head = _last_layer(frame, xmax, mstep, dy, act, ws[-1], exact)
    net = Network([*layers_out, *head], meta={mk.METHOD: "yun-resnet", mk.ACTIVATION: act.name})
    cert = _certificate(gp, G, k, pack, last, paper_total, len(ws) - 1, d, dy, arithmetic)
    info = {"G": G, "gate_units": k, "residual_layers": len(ws) - 1, "theorem_hidden": paper_total,
            "general_position": gp.holds, "general_position_method": gp.method,
            "beta": [float(flint.fmpq(beta[g]) / frame.unit(groups[g][0])) for g in range(G)],
            "build_seconds": time.perf_counter() - t0}
    return Construction(net, cert, info)


def _check_widths(ds: Dataset, widths: Any, act: Activation, k: int, gate: str, layers: int, G: int
                  ) -> tuple[list[int], list[int], Condition, Condition, int]:
    """The widths (given, or G gates spread over ``layers``) and the checked conditions
    ``Σ_{l<L} ⌊d_l/k⌋ ≥ G`` and ``d_L ≥ d_y`` (hard-tanh) / ``2d_y`` (ReLU-like); refuses otherwise."""
    d, dy = ds.d_x, ds.d_y
    ws = list(widths) if widths else resnet_default_widths(G, k, dy, act, layers)
    if len(ws) < 2 or any(w < 0 for w in ws):
        raise ConditionError(f"widths must list d_1, ..., d_(L-1) (residual layers) and d_L, got {ws}")
    fin = activation_final_units(act) * dy
    cap = [w // k for w in ws[:-1]]
    pack = Condition(f"Σ_(l<L) ⌊d_l/{k}⌋ ≥ G (each {k}-unit gate inside one residual layer)",
                     {"widths": ws[:-1], "capacity": sum(cap), "G": G}, sum(cap) >= G)
    last = Condition(f"d_L ≥ {fin}", {"d_L": ws[-1]}, ws[-1] >= fin)
    paper_total = cor42_theorem_width(ds.N, d, dy, act, gate)
    if not pack.holds or not last.holds:
        raise ConditionError(
            f"widths {ws} are too small for Theorem 4.1's construction on N={ds.N}, d_x={d}, d_y={dy}: "
            f"it needs G = {G} gates of {k} units with Σ_(l<L) ⌊d_l/{k}⌋ ≥ {G} (have {sum(cap)}) and "
            f"d_L ≥ {fin} (have {ws[-1]}); the paper's printed condition is Σ_(l<L) d_l ≥ {paper_total}")
    return ws, cap, pack, last, paper_total


def _gates_by_layer(ds: Dataset, frame: IntegerFrame, groups: list[tuple[int, list[int]]], cap: list[int],
                    G: int, n_res: int, margin: float, rng: np.random.Generator, max_redraws: int
                    ) -> tuple[list[list[Any]], list[int], list[int], list[int]]:
    """App. F.1's layers l < L: the gates of layer l on the points moved by the layers before it,
    each group then pushed by β_g along e_k (integer coordinates). A β that moves a point onto a
    later gate's hyperplane is re-drawn. Returns (per layer: gate indices and gates, β, x^max, the
    integer step of one original unit per coordinate)."""
    d = ds.d_x
    # assign gates to layers in order
    layer_of: list[int] = []
    for li, c in enumerate(cap):
        layer_of.extend([li] * c)
    layer_of = layer_of[:G]
    xmax = [max(r[j] for r in frame.rows) for j in range(d)]
    mstep = [int(-(-frame.unit(j).p // frame.unit(j).q)) for j in range(d)]  # ≥ 1 original unit

    def draw_beta(g: int) -> int:
        cls, P = groups[g]
        jitter = 1 + mstep[cls] * int(rng.integers(1, 2**20 + 1)) // 2**20  # in (0, 1] original unit + 1
        return xmax[cls] - min(frame.rows[i][cls] for i in P) + mstep[cls] + jitter

    beta = [draw_beta(g) for g in range(G)]
    gate_of = {i: g for g, (_, P) in enumerate(groups) for i in P}
    for _attempt in range(max_redraws):
        rows = [list(r) for r in frame.rows]
        built: list[list[Any]] = []
        conflict = None
        for li in range(n_res):
            mine = [g for g in range(G) if layer_of[g] == li]
            try:
                gates = build_gates(frame, rows, [groups[g] for g in mine], margin, rng)
            except DegenerateSubset as exc:
                moved = [i for i in exc.subset if layer_of[gate_of[i]] < li]
                if not moved:
                    raise ConditionError(degenerate_message(
                        ds, exc.subset, f"Assumption 4.1 fails: points {_shown(exc.subset)} lie on one "
                        f"affine hyperplane ({exc.reason})")) from None
                conflict = gate_of[moved[0]]
                break
            built.append([mine, gates])
            for g in mine:  # push the group's points along e_k
                cls, P = groups[g]
                for i in P:
                    rows[i][cls] += beta[g]
        if conflict is None:
            break
        beta[conflict] = draw_beta(conflict)
    else:  # pragma: no cover - each re-draw fails with probability ~ N / mstep
        raise ConditionError(f"{max_redraws} draws of β all moved a point onto a later gate's hyperplane")
    return built, beta, xmax, mstep


def _residual_layers(built: list[list[Any]], beta: list[int], frame: IntegerFrame,
                     groups: list[tuple[int, list[int]]], act: Activation, k: int, d: int, ws: list[int],
                     exact: bool) -> list[Residual]:
    """The residual blocks h + V σ(U h + b) + c, one per layer l < L, padded to d_l units."""
    layers_out: list[Residual] = []
    for li, (mine, gates) in enumerate(built):
        scales = [flint.fmpq(beta[g]) / frame.unit(groups[g][0]) for g in mine]
        U, b, V, off = gate_layer(gates, act, k, scales, d)
        n_units = len(U)
        Um = to_field(U, exact, (n_units, d)) if n_units else zeros_field((0, d), exact)
        bm = to_field(b, exact, (n_units,)) if n_units else zeros_field((0,), exact)
        Vm = to_field(V, exact, (d, n_units)) if n_units else zeros_field((d, 0), exact)
        cm = to_field(off, exact, (d,))
        extra = ws[li] - n_units
        if extra:
            Um = np.concatenate([Um, zeros_field((extra, d), exact)])
            bm = np.concatenate([bm, zeros_field((extra,), exact)])
            Vm = np.concatenate([Vm, zeros_field((d, extra), exact)], axis=1)
        layers_out.append(Residual(Um, bm, Vm, cm, act))
    return layers_out


def _last_layer(frame: IntegerFrame, xmax: list[int], mstep: list[int], dy: int, act: Activation,
                d_L: int, exact: bool) -> list[Dense]:
    """App. F.1's last layer σ_H((2/m_k)(h_k - x^max_(k)) - 1), output σ/2 + 1/2, padded to d_L."""
    d = len(xmax)
    F = Field("exact")
    UL = F.zeros((dy, d))
    bL = F.zeros(dy)
    for j in range(dy):
        unit = frame.unit(j)
        m_orig = flint.fmpq(mstep[j]) / unit
        UL[j, j] = 2 / m_orig
        xmax_orig = frame.lo[j] + flint.fmpq(xmax[j]) / unit
        bL[j] = -2 * xmax_orig / m_orig - 1
    head = [Dense(UL, bL, HARDTANH), Dense(F.array(np.eye(dy) / 2), F.array(np.full(dy, 0.5)), IDENTITY)]
    head = hardtanh_to_relu_like(head, act, F)
    head = pad_units(head, 0, d_L, F)
    if not exact:
        head = [Dense(to_float_array(h.weight), to_float_array(h.bias), h.activation) for h in head]
    return head


def _certificate(gp: Any, G: int, k: int, pack: Condition, last: Condition, paper_total: int, n_res: int,
                 d: int, dy: int, arithmetic: str) -> Certificate:
    conditions = [Condition("classification data, one-hot targets (Sec. 4)", {"d_y": dy}, True),
                  Condition("d_x ≥ d_y", {"d_x": d, "d_y": dy}, True)]
    if gp.holds:
        conditions.append(Condition("Assumption 4.1: every min(N, d_x+1) points affinely independent "
                                    "(exact)", {"method": gp.method, "cost": gp.cost}, True))
    conditions.append(Condition(
        "every gate's hyperplane contains exactly its chosen points, on the moved points h^(l-1)(x_i) "
        "(exact integer check)", {"gates": G}, True))
    conditions += [pack, last]
    notes = [gp.message(),
             f"printed condition Σ_(l<L) d_l ≥ {k}N/d_x + {k}d_y (k = units per gate) gives {paper_total}; "
             f"the construction "
             f"uses {k}·G = {k * G} units in {n_res} residual layer(s)",
             "Network.depth = L + 1: the last layer V^L σ(U^L h + b^L) + c^L is stored as two Dense layers"]
    if k == 4:
        notes.append("c^l absorbs the 4-unit ReLU gates' offsets -β(s+ + s-)/(s+ - s-) e_k (App. F.1 "
                     "sets c^l = 0, which is wrong for ReLU-like gates)")
    return Certificate(
        method="yun-resnet", theorem="Theorem 4.1", reference=REFERENCE, conditions=conditions,
        guarantees=["g(x_i) = one-hot(y_i) exactly in exact arithmetic of the stated weights"
                    if arithmetic == "exact" else
                    "g(x_i) = one-hot(y_i) up to rounding the weights to float64 (the verifier certifies "
                    "the margin)"],
        arithmetic=arithmetic, notes=notes)
