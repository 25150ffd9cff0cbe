"""Corollary 4.2 of Yun, Sra & Jadbabaie (2019): a 2-layer net with about 4N/d_x + 4d_y ReLUs
memorizes classification data in general position (App. F.2), and the gate machinery that
Theorem 4.1's ResNet (:mod:`.resnet`) shares.

The idea (App. F): under Assumption 4.1 any d_x points of one class span an affine hyperplane that
contains no other data point. A *gate* ``σ_G(t) = max(0, 1 - |t|)`` evaluated at
``t = α (w^T x + c)`` outputs 1 on those d_x points and 0 on every other point once
``α ≥ 1 / min_{i ∉ P} |w^T x_i + c|``. One gate per group of ≤ d_x same-class points; class k needs
``⌈N_k / d_x⌉`` gates, ``G = Σ_k ⌈N_k/d_x⌉ ≤ N/d_x + d_y`` in all.

Gate widths: 2 hard-tanh units ``σ_H(±2t + 1)/2``; 4 ReLU-like units (Gadget H
applied to those two, with a constant offset that the next bias absorbs); or 3 ReLU-like units
``(σ_R(t+1) - 2σ_R(t) + σ_R(t-1))/(s+ - s-)`` with no offset (``gate='3unit'``).

All hyperplanes are computed exactly: float64 coordinates are mapped column-wise to integers
(:func:`.general_position.integer_coords`, an exact affine bijection) and normals are exact integer
null vectors, so "contains exactly its chosen points" is decided, not estimated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap import meta as mk
from memcap.constructions.base import Certificate, Condition, ConditionError, Construction, register
from memcap.constructions.options import ACTIVATION, GATE, MARGIN, SEED, WIDTHS, Option
from memcap.data.dataset import Dataset
from memcap.network import IDENTITY, Activation, Dense, Network, as_activation
from memcap.numerics import to_float_array
from memcap.theory.general_position import (
    GeneralPosition,
    general_position,
    hyperplane_through,
    integer_coords,
)
from memcap.theory.yun2019 import cor42_theorem_width, gate_count, gate_units

__all__ = ["two_layer_gp", "two_layer_gp_sizes", "class_groups", "IntegerFrame", "DegenerateSubset",
           "gate_hyperplane", "gate_unit_rows", "require_general_position"]

REFERENCE = "Yun, Sra & Jadbabaie (2019), Corollary 4.2; proof in Appendix F.2"


# ---- counting ----------------------------------------------------------------------------------------
def class_groups(ds: Dataset, d_x: int | None = None) -> list[tuple[int, list[int]]]:
    """Split each class into ⌈N_k/d_x⌉ groups of ≤ d_x points (in data order): (class, indices)."""
    d = d_x or ds.d_x
    out: list[tuple[int, list[int]]] = []
    for k in range(ds.d_y):
        idx = np.flatnonzero(ds.labels == k).tolist()
        out.extend((k, idx[s:s + d]) for s in range(0, len(idx), d))
    return out


# ---- exact frame and hyperplanes ---------------------------------------------------------------------
class IntegerFrame:
    """The data in exact integer coordinates ``x'_j = (x_j - lo_j)·scale_j`` (scale_j > 0 rational)."""

    def __init__(self, X: np.ndarray, refine: int = 2**10) -> None:
        rows, maps = integer_coords(X)
        self.rows = [[v * refine for v in r] for r in rows]
        self.lo = [_q(m[0]) for m in maps]
        self.scale = [flint.fmpq(refine * 2 ** max(m[1], 0), m[2] * 2 ** max(-m[1], 0)) for m in maps]
        self.N, self.d = len(rows), X.shape[1]

    def to_original(self, w: list[int], c: int) -> tuple[list[flint.fmpq], flint.fmpq]:
        """(a, b) with a^T x + b = w^T x' + c for every x."""
        a = [flint.fmpq(int(wj)) * s for wj, s in zip(w, self.scale, strict=True)]
        b = flint.fmpq(int(c)) - sum((aj * lo for aj, lo in zip(a, self.lo, strict=True)), flint.fmpq(0))
        return a, b

    def unit(self, j: int) -> flint.fmpq:
        """One original unit of coordinate j in integer coordinates."""
        return self.scale[j]


def _q(v: float) -> flint.fmpq:
    f = Fraction(float(v))
    return flint.fmpq(f.numerator, f.denominator)


class DegenerateSubset(Exception):
    """Points that lie on one affine hyperplane with a gate's group."""

    def __init__(self, subset: list[int], reason: str) -> None:
        super().__init__(reason)
        self.subset = subset
        self.reason = reason


def aug_matrix(rows: list[list[int]]) -> flint.fmpz_mat:
    d = len(rows[0])
    return flint.fmpz_mat(len(rows), d + 1, [v for r in rows for v in (*r, 1)])


def gate_hyperplane(A: flint.fmpz_mat, rows: list[list[int]], P: list[int], rng: np.random.Generator
                    ) -> tuple[list[int], list[int]]:
    """An exact integer (w, c) with w^T h + c = 0 on the group P and ≠ 0 on every other row.

    ``A`` = [rows 1]. With |P| < d_x the hyperplane is a random integer combination of the null space
    (memcap's auxiliary points), re-drawn until it avoids every other point. Raises
    :class:`DegenerateSubset` when P itself is affinely dependent or some other point lies in every
    admissible hyperplane (P plus that point are then on one hyperplane). Returns (normal, values).
    """
    d = len(rows[0])
    basis, nullity = hyperplane_through([rows[i] for i in P])
    if nullity != d + 1 - len(P):
        raise DegenerateSubset(sorted(P), f"the {len(P)} chosen points are affinely dependent")
    Pset = set(P)
    N = A.nrows()

    def values(w: list[int]) -> list[int]:
        return [int(v) for v in (A * flint.fmpz_mat(d + 1, 1, w)).entries()]

    def stuck(i: int) -> bool:  # point i lies on every hyperplane through P (in P's affine hull)
        row = [int(A[i, c]) for c in range(d + 1)]
        return all(sum(a * b for a, b in zip(row, bv, strict=True)) == 0 for bv in basis)

    R = 8
    for _ in range(60):
        if nullity == 1:
            w = list(basis[0])
        else:  # a random hyperplane through P (memcap's auxiliary points)
            coef = [int(v) for v in rng.integers(-R, R + 1, size=nullity)]
            w = [sum(basis[c][r] * coef[c] for c in range(nullity)) for r in range(d + 1)]
        vals = values(w)
        zeros = [i for i in range(N) if i not in Pset and vals[i] == 0]
        if not zeros and any(w[:d]):
            return w, vals
        for i in zeros:
            if nullity == 1 or stuck(i):
                raise DegenerateSubset(sorted([*P, i]), f"point {i} lies on every hyperplane through the "
                                       f"group {sorted(P)}")
        R *= 4
    raise DegenerateSubset(sorted(P), "no hyperplane through the group avoided the other points "
                           "(60 random draws)")  # pragma: no cover - probability ~ 0


def gate_unit_rows(activation: Activation, k: int) -> tuple[list[tuple[int, int, Fraction]], Fraction]:
    """A gate as units: (a, b0, out) meaning pre-activation a·t + b0, outgoing weight out (times the
    gate's output scale), and the constant offset the next bias absorbs (per unit of output scale)."""
    if k == 2:
        return [(2, 1, Fraction(1, 2)), (-2, 1, Fraction(1, 2))], Fraction(0)
    sp, sm = activation.s_plus, activation.s_minus
    den = sp - sm
    if k == 3:
        return [(1, 1, 1 / den), (1, 0, -2 / den), (1, -1, 1 / den)], Fraction(0)
    # Gadget H on σ_H(2t+1)/2 and σ_H(-2t+1)/2 (App. F.1); offset -(s+ + s-)/(s+ - s-) per gate
    h = 1 / (2 * den)
    return ([(2, 2, h), (2, 0, -h), (-2, 2, h), (-2, 0, -h)], -(sp + sm) / den)


def require_general_position(ds: Dataset, budget: int) -> GeneralPosition:
    """Run the exact general-position check; raise ConditionError naming the degenerate subset."""
    gp = general_position(ds.X, budget=budget)
    if gp.holds is False:
        raise ConditionError(degenerate_message(ds, gp.subset, gp.message()))
    return gp


def degenerate_message(ds: Dataset, subset: list[int], what: str) -> str:
    """``what`` names the degenerate points; add what the theorem needs and what to do."""
    return (f"{what}. Theorem 4.1 / Corollary 4.2 need Assumption 4.1 (no d_x+1 = {ds.d_x + 1} points on "
            "one affine hyperplane). Use a method without this assumption (yun-3layer, zhang17-wide) or "
            "perturb the inputs slightly")


def _shown(subset: list[int]) -> str:
    return str(subset) if len(subset) <= 12 else f"[{', '.join(map(str, subset[:12]))}, ...]"


def _fq(v: Fraction | int) -> flint.fmpq:
    v = Fraction(v)
    return flint.fmpq(v.numerator, v.denominator)


@dataclass
class _Gate:
    cls: int
    points: list[int]
    a: list[flint.fmpq]      # t(h) = a^T h + b in original coordinates
    b: flint.fmpq


def build_gates(frame: IntegerFrame, rows: list[list[int]], groups: list[tuple[int, list[int]]],
                margin: float, rng: np.random.Generator) -> list[_Gate]:
    """Gates for groups that all read the same positions ``rows`` (one layer). α = (1+margin)/min|.|

    Fast path: one candidate hyperplane per group (the null vector, or a random combination of the
    null space), all evaluated with a single exact matrix product; a group whose candidate touches
    another point (rare) goes through :func:`gate_hyperplane`, which re-draws or names the subset."""
    A = aug_matrix(rows)
    d = len(rows[0])
    cands: list[list[int] | None] = []
    for _, P in groups:
        basis, nullity = hyperplane_through([rows[i] for i in P])
        if nullity != d + 1 - len(P):
            cands.append(None)
            continue
        coef = [1] if nullity == 1 else [int(v) for v in rng.integers(-8, 9, size=nullity)]
        cands.append([sum(basis[c][r] * coef[c] for c in range(nullity)) for r in range(d + 1)])
    ok = [i for i, w in enumerate(cands) if w is not None and any(w[:d])]
    vals_all: dict[int, list[int]] = {}
    if ok:
        W = flint.fmpz_mat(d + 1, len(ok), [cands[g][r] for r in range(d + 1) for g in ok])  # type: ignore[index]
        V = A * W
        for col, g in enumerate(ok):
            vals_all[g] = [int(V[i, col]) for i in range(A.nrows())]
    gates = []
    for g, (cls, P) in enumerate(groups):
        Pset = set(P)
        vals = vals_all.get(g)
        if vals is not None and all(v != 0 for i, v in enumerate(vals) if i not in Pset):
            w = cands[g]
        else:
            w, vals = gate_hyperplane(A, rows, P, rng)
        assert w is not None
        others = [abs(v) for i, v in enumerate(vals) if i not in Pset]
        alpha = _fq(1 + Fraction(margin)) / (min(others) if others else 1)
        a, b = frame.to_original(w[:-1], w[-1])
        gates.append(_Gate(cls, P, [alpha * x for x in a], alpha * b))
    return gates


def gate_layer(gates: list[_Gate], activation: Activation, k: int, scale: list[Any], d_out: int
               ) -> tuple[list[list[Any]], list[Any], list[list[Any]], list[Any]]:
    """Rows of (U, b) and columns of the outgoing matrix for gates, each scaled by ``scale[g]`` into
    output coordinate ``gate.cls``; returns (U rows, b, V (d_out x units), offset vector)."""
    units, offset = gate_unit_rows(activation, k)
    U, bias, cols = [], [], []
    off = [flint.fmpq(0)] * d_out
    for g, s in zip(gates, scale, strict=True):
        for a_t, b0, o in units:
            U.append([_fq(a_t) * x for x in g.a])
            bias.append(_fq(a_t) * g.b + _fq(b0))
            col = [flint.fmpq(0)] * d_out
            col[g.cls] = _fq(o) * s
            cols.append(col)
        off[g.cls] = off[g.cls] + _fq(offset) * s
    V = [[cols[u][r] for u in range(len(cols))] for r in range(d_out)]
    return U, bias, V, off


def to_field(rows: Any, exact: bool, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.empty(shape, dtype=object)
    flat = [v for r in rows for v in r] if len(shape) == 2 else list(rows)
    arr.ravel()[:] = flat if flat else []
    return arr if exact else to_float_array(arr)


def zeros_field(shape: tuple[int, ...], exact: bool) -> np.ndarray:
    if not exact:
        return np.zeros(shape)
    arr = np.empty(shape, dtype=object)
    arr[...] = flint.fmpq(0)
    return arr


# ---- Corollary 4.2 -------------------------------------------------------------------------------------
def _parse(activation: str | Activation) -> Activation:
    return as_activation(activation)


def two_layer_gp_sizes(ds: Dataset, widths: tuple[int, ...] | None = None,
                       activation: str | Activation = "relu", gate: str = "paper", **_: Any
                       ) -> dict[str, Any]:
    """Sizes without building: d1 = k·G (or the given width), P = d1(d_x+1) + d_y(d1+1), depth 2."""
    act = _parse(activation)
    k = gate_units(act, gate)
    G = gate_count(np.bincount(ds.labels, minlength=ds.d_y), ds.d_x)
    d1 = int(widths[0]) if widths else k * G
    return {"widths": [d1], "depth": 2, "parameters": d1 * (ds.d_x + 1) + ds.d_y * (d1 + 1),
            "gates": G, "theorem_width": cor42_theorem_width(ds.N, ds.d_x, ds.d_y, act, gate)}


def _two_layer_break(ds: Dataset, activation: str = "relu", **_: Any) -> dict[str, Any]:
    s = two_layer_gp_sizes(ds, activation=activation)
    return {"widths": (s["widths"][0] - 1,), "activation": activation}


def gp_assumption(ds: Dataset, budget: int = 20_000) -> str | None:
    """Registry hook: None when Assumption 4.1 is not refuted (exact check), else the reason."""
    gp = general_position(ds.X, budget=budget)
    return gp.message() if gp.holds is False else None


def _check_task(ds: Dataset, name: str) -> None:
    if ds.task != "classification":
        raise ConditionError(f"{name} memorizes classification data (one-hot targets, Sec. 4), "
                             f"not {ds.task}; use yun-3layer or zhang17-wide for regression")


@register(
    "yun-2layer-gp",
    theorem="Yun et al. 2019, Corollary 4.2",
    condition="classification; Assumption 4.1 (no d_x+1 points on one hyperplane); "
              "d1 ≥ k·G, G = Σ_k ⌈N_k/d_x⌉ ≤ N/d_x + d_y (k = 2 hard-tanh, 4 ReLU-like, 3 with gate='3unit')",
    sizes="one hidden layer of k·G ≤ 4N/d_x + 4d_y units (paper: d1 ≥ 4N/d_x + 4d_y)",
    tasks=("classification",),
    size_formula=two_layer_gp_sizes,
    break_condition=_two_layer_break,
    assumption=gp_assumption,
    options=(WIDTHS, ACTIVATION, GATE, MARGIN, SEED,
             Option("gp_budget", int, 20_000, "subsets examined by the exact general-position check", low=1)),
)
def two_layer_gp(ds: Dataset, widths: tuple[int, ...] | None = None, activation: str | Activation = "relu",
                 gate: str = "paper", arithmetic: str = "float64", margin: float = 0.25, seed: int = 0,
                 gp_budget: int = 20_000) -> Construction:
    """Corollary 4.2 (Yun et al. 2019; proof App. F.2): a 2-layer network memorizing d_y-class data in
    general position with

    * hard-tanh: ``d1 ≥ 2N/d_x + 2d_y``; ReLU-like: ``d1 ≥ 4N/d_x + 4d_y`` (as printed);
    * what the construction actually needs (checked): ``d1 ≥ k·G``, ``G = Σ_k ⌈N_k/d_x⌉`` gates of
      k units (k = 2 hard-tanh, 4 ReLU-like, or 3 with ``gate='3unit'``). ``widths=None`` uses d1 = k·G.

    Output layer: ``W2[:, gate] = e_k`` (App. F.2) times the gate's unit weights; the 4-unit ReLU gate's
    offsets go into b2. ``margin`` scales α by 1 + margin so non-chosen points sit strictly past the
    gate's zeros (float evaluation needs it; 0 is exact). Assumption 4.1 is checked exactly
    (:mod:`.general_position`); a degenerate subset found there or by a gate's exact hyperplane test
    is refused with a ConditionError that names it.

    Long: the proof's steps (App. F.2) in order: condition, general position, gates, output layer,
    certificate.
    """
    t0 = time.perf_counter()
    _check_task(ds, "yun-2layer-gp")
    act = _parse(activation)
    k = gate_units(act, gate)
    exact = arithmetic == "exact"
    if arithmetic not in ("float64", "exact"):
        raise ValueError(f"arithmetic must be 'float64' or 'exact', got {arithmetic!r}")
    counts = np.bincount(ds.labels, minlength=ds.d_y)
    G = gate_count(counts, ds.d_x)
    d1 = int(widths[0]) if widths else k * G
    if widths is not None and len(widths) != 1:
        raise ConditionError(f"Corollary 4.2 is about one hidden layer; got widths {list(widths)}")
    paper_w = cor42_theorem_width(ds.N, ds.d_x, ds.d_y, act, gate)
    cond = Condition(f"d1 ≥ k·G with k = {k} units per gate, G = Σ_k ⌈N_k/d_x⌉ gates",
                     {"d1": d1, "k": k, "G": G, "k·G": k * G}, d1 >= k * G)
    if not cond.holds:
        raise ConditionError(
            f"width d1 = {d1} is too small for Corollary 4.2's construction on N={ds.N}, d_x={ds.d_x}, "
            f"d_y={ds.d_y}: it needs G = {G} gates of {k} units, d1 ≥ {k * G} (the paper's sufficient "
            f"condition is d1 ≥ {k}N/d_x + {k}d_y, i.e. d1 ≥ {paper_w})")
    gp = require_general_position(ds, gp_budget)
    rng = np.random.default_rng(seed)
    frame = IntegerFrame(ds.X)
    groups = class_groups(ds)
    try:
        gates = build_gates(frame, frame.rows, groups, margin, rng)
    except DegenerateSubset as exc:
        raise ConditionError(degenerate_message(
            ds, exc.subset, f"Assumption 4.1 fails: points {_shown(exc.subset)} lie on one affine "
            f"hyperplane ({exc.reason})")) from None
    U, b, V, off = gate_layer(gates, act, k, [flint.fmpq(1)] * len(gates), ds.d_y)
    n_units = len(U)
    W1 = to_field(U, exact, (n_units, ds.d_x))
    b1 = to_field(b, exact, (n_units,))
    W2 = to_field(V, exact, (ds.d_y, n_units))
    b2 = to_field(off, exact, (ds.d_y,))
    if d1 > n_units:  # idle units: zero weights in and out
        W1 = np.concatenate([W1, zeros_field((d1 - n_units, ds.d_x), exact)])
        b1 = np.concatenate([b1, zeros_field((d1 - n_units,), exact)])
        W2 = np.concatenate([W2, zeros_field((ds.d_y, d1 - n_units), exact)], axis=1)
    net = Network([Dense(W1, b1, act), Dense(W2, b2, IDENTITY)],
                  meta={mk.METHOD: "yun-2layer-gp", mk.ACTIVATION: act.name})
    conditions = [Condition("classification data, one-hot targets (Sec. 4)", {"d_y": ds.d_y}, True)]
    notes = [gp.message()]
    if gp.holds:
        conditions.append(Condition("Assumption 4.1: every min(N, d_x+1) points affinely independent "
                                    "(exact)", {"method": gp.method, "cost": gp.cost}, True))
    conditions.append(Condition(
        "every gate's hyperplane contains exactly its ≤ d_x chosen points (what the proof uses; exact "
        "integer check)", {"gates": G}, True))
    conditions.append(cond)
    notes.append(f"printed width condition d1 ≥ {k}N/d_x + {k}d_y (k = units per gate) gives {paper_w}; "
                 f"the construction "
                 f"uses {k}·G = {k * G} (G ≤ N/d_x + d_y always)")
    if k == 3:
        notes.append("3-unit gate (σ_R(t+1) - 2σ_R(t) + σ_R(t-1))/(s+ - s-), no offset")
    elif k == 4:
        notes.append("4-unit ReLU gate (Gadget H on the paper's two hard-tanh units); its constant "
                     "offset -(s+ + s-)/(s+ - s-) per gate is absorbed by b2")
    cert = Certificate(
        method="yun-2layer-gp", theorem="Corollary 4.2", reference=REFERENCE, conditions=conditions,
        guarantees=["f(x_i) = one-hot(y_i) exactly in exact arithmetic of the stated weights"
                    if exact else "f(x_i) = one-hot(y_i) up to rounding the weights to float64 (the "
                    "verifier certifies the margin)"],
        arithmetic=arithmetic, notes=notes)
    info = {"G": G, "gate_units": k, "theorem_width": paper_w, "general_position": gp.holds,
            "general_position_method": gp.method, "build_seconds": time.perf_counter() - t0,
            "max_alpha": max(float(max(abs(x) for x in g.a)) for g in gates) if gates else 0.0}
    return Construction(net, cert, info)
