"""Vardi, Yehudai & Shamir (ICLR 2022), "On the Optimal Memorization Power of ReLU Neural Networks":
``vardi-optimal`` (Theorem 3.1, the Õ(√N) memorizer, width 12) and ``vardi-depth`` (the depth-L
theorem: Õ(N/L) parameters at depth ≤ L).

Both are built in exact rationals (the label and code words carry n·ℓ bits, hundreds to thousands);
``memcap.verify`` decides them by the exact integer path (:mod:`memcap.certify.integer`). Sizes come
from :mod:`memcap.theory.vardi2022` without building; erratum IDs VYS-n are listed in
docs/vardi2022.md.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import Certificate, Condition, Construction, register
from memcap.constructions.options import SEED, Option
from memcap.constructions.vardi2022.build import Q, build_network, encode
from memcap.data.dataset import Dataset
from memcap.errors import ConditionError, ConstructionError, NeedsExactArithmetic, OptionError
from memcap.numerics import to_exact_array
from memcap.theory import vardi2022 as th
from memcap.theory.park2021 import exact_sq_distance, pairwise_extremes

__all__ = ["vardi_optimal", "vardi_depth", "geometry", "label_codes", "plan_for"]

REFERENCE = ("Vardi, Yehudai & Shamir (ICLR 2022), On the Optimal Memorization Power of ReLU Neural "
             "Networks")


# ---- the theorem's conditions on the data ---------------------------------------------------------
def _num(v: Any, name: str) -> Fraction:
    try:
        f = Fraction(v) if not isinstance(v, str) else Fraction(v.strip())
    except (TypeError, ValueError):
        raise OptionError(f"option {name} must be a positive number, got {v!r}") from None
    if f <= 0:
        raise ConditionError(f"Theorem 3.1 needs {name} > 0, got {name} = {v!r}")
    return f


def geometry(ds: Dataset, r: Any = None, delta: Any = None) -> tuple[float, float, list[Condition]]:
    """(r, δ, conditions): ‖x_i‖ ≤ r for all i and ‖x_i − x_j‖ ≥ δ for all i ≠ j, checked exactly
    (norms) and with a rigorous float band (distances; refusals name the pair). Defaults: the data's
    own max norm (rounded up) and min distance (rounded down)."""
    X = np.asarray(ds.X, dtype=np.float64)
    Xq = to_exact_array(X)
    n2 = (Xq * Xq).sum(axis=1) if ds.d_x else np.zeros(ds.N, dtype=object)
    i_max = int(np.argmax(np.array([float(v) for v in n2])))
    n2max = max(n2)
    n2max = Fraction(int(n2max.p), int(n2max.q)) if hasattr(n2max, "q") else Fraction(n2max)
    if r is None:
        r_f = math.sqrt(float(n2max)) * (1 + 1e-12) + 1e-300
        while Fraction(r_f) ** 2 < Fraction(n2max):
            r_f = math.nextafter(r_f, math.inf)
        r_f = max(r_f, 1e-300)
    else:
        r_q = _num(r, "r")
        if r_q * r_q < Fraction(n2max):
            raise ConditionError(
                f"Theorem 3.1 needs ‖x_i‖ ≤ r for every point: point {i_max} has norm "
                f"{math.sqrt(float(n2max)):.6g} > r = {float(r_q):.6g}; use r ≥ that (or omit r)")
        r_f = float(r_q)
    conds = [Condition("‖x_i‖ ≤ r for every i", {"r": r_f, "max_norm": math.sqrt(float(n2max))}, True)]
    if ds.N < 2:
        d_f = 1.0 if delta is None else float(_num(delta, "delta"))
        conds.append(Condition("‖x_i − x_j‖ ≥ δ for i ≠ j (one point)", {"delta": d_f}, True))
        return r_f, d_f, conds
    _mx, _pmx, mn, (i, j) = pairwise_extremes(X)
    eps = (X.shape[1] + 4) * 2.0 ** -51
    lo = mn * (1 - eps)  # every pair's squared distance is ≥ lo (direct differences, ≤ d+2 roundings)
    if delta is None:
        d_f = math.sqrt(lo) * (1 - 1e-12)
    else:
        dq = _num(delta, "delta")
        exact_min = exact_sq_distance(X, i, j)
        if exact_min < dq * dq:
            raise ConditionError(
                f"Theorem 3.1 needs ‖x_i − x_j‖ ≥ δ for i ≠ j: points {i} and {j} are "
                f"{math.sqrt(float(exact_min)):.6g} apart < δ = {float(dq):.6g}; use δ ≤ that "
                "(or omit delta)")
        if Fraction(lo) < dq * dq:
            raise ConditionError(
                f"cannot certify ‖x_i − x_j‖ ≥ δ = {float(dq):.6g}: the smallest distance (points "
                f"{i}, {j}) is within float64 rounding of δ; use a slightly smaller δ")
        d_f = float(dq)
    conds.append(Condition("‖x_i − x_j‖ ≥ δ for every i ≠ j", {"delta": d_f, "min_distance": math.sqrt(mn)},
                           True))
    return r_f, d_f, conds


def label_codes(ds: Dataset) -> tuple[np.ndarray, int, list[tuple[Any, Any]], str]:
    """(codes ≥ 0, largest code, output rows (a, b): out = a·F + b, description).

    Classification: code = class index 0..C−1 (architecture fixed by C), outputs 2c·F − c² (argmax
    F with margin ≥ 1). Regression (one output): the float64 targets are dyadic, y_i = (m + k_i)/2^e
    with integers k_i ≥ 0 — the label words store k_i exactly, so F = y_i exactly (the paper's
    labels are integers in [C]; any finite set of dyadic targets is the same thing, erratum VYS-5).
    """
    if ds.task == "classification":
        C = ds.n_classes
        rows = [(Q(2 * c), Q(-c * c)) for c in range(C)]
        return np.asarray(ds.labels, dtype=np.int64).astype(object), max(C - 1, 0), rows, f"C = {C} classes"
    if ds.d_y != 1:
        raise ConditionError(f"vardi-*: regression with one output only (the construction extracts one "
                             f"label word), got d_y = {ds.d_y}; fit each output separately")
    fr = [Fraction(float(v)) for v in np.asarray(ds.targets, dtype=np.float64)[:, 0]]
    e = max((f.denominator.bit_length() - 1) for f in fr)
    m = [int(f * 2 ** e) for f in fr]
    m0 = min(m)
    codes = np.array([mi - m0 for mi in m], dtype=object)
    scale = Q(1, 2 ** e)
    return codes, int(max(codes)), [(scale, Q(m0) * scale)], f"dyadic targets (m + k)/2^{e}"


def _assumption(ds: Dataset) -> str | None:
    if ds.task == "regression" and ds.d_y != 1:
        return f"one regression output only (d_y = {ds.d_y})"
    return None


def plan_for(ds: Dataset, r: Any = None, delta: Any = None, grouping: str = "depth", n: Any = None,
             depth: Any = None) -> tuple[th.Plan, list[Condition], Any]:
    if _assumption(ds) is not None:
        raise ConditionError(f"vardi-*: {_assumption(ds)}")
    r_f, d_f, conds = geometry(ds, r, delta)
    codes, kmax, rows, desc = label_codes(ds)
    try:
        p = th.plan(ds.N, ds.d_x, len(rows), kmax, r_f, d_f, grouping=str(grouping),
                    n=None if n is None else int(n), depth=None if depth is None else int(depth))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConditionError | OptionError):
            raise
        raise OptionError(f"vardi-*: bad option ({exc})") from None
    return p, conds, (codes, rows, desc)


def _out_counts(rows: list[tuple[Any, Any]]) -> tuple[int, int]:
    return sum(1 for a, _ in rows if a != 0), sum(1 for _, b in rows if b != 0)


def _sizes(ds: Dataset, r: Any = None, delta: Any = None, grouping: str = "depth", n: Any = None,
           depth: Any = None, **_: Any) -> dict[str, Any]:
    p, _c, (_codes, rows, _d) = plan_for(ds, r, delta, grouping, n, depth)
    a_rows, b_rows = _out_counts(rows)
    return th.sizes(p, out_bias=b_rows, out_rows=a_rows)


def _build(ds: Dataset, method: str, theorem: str, arithmetic: str, seed: int, p: th.Plan,
           conds: list[Condition], enc_data: Any, t0: float) -> Construction:
    codes, rows, desc = enc_data
    Xq = to_exact_array(np.asarray(ds.X, dtype=np.float64))
    enc = encode(Xq, codes, p, seed=int(seed))
    net = build_network(enc, p, ds.d_x, rows)
    a_rows, b_rows = _out_counts(rows)
    sz = th.sizes(p, out_bias=b_rows, out_rows=a_rows)
    if net.widths != sz.get("widths", net.widths) or net.parameters != sz["parameters"]:
        raise ConstructionError("internal: built network differs from the size formula")  # guard
    vals = [v for L in net.layers for a in L.arrays() for v in a.ravel() if v != 0]
    num_bits = max(int(v.p).bit_length() for v in vals)
    den_bits = max(int(v.q).bit_length() - 1 for v in vals)
    per_weight = [_fixed_point_bits(v) for v in vals]
    wbits, total_bits = max(per_weight), sum(per_weight)
    net.meta.update({mk.METHOD: method, mk.EXACT_ONLY: True, mk.WEIGHT_BITS: wbits})
    conds = [
        Condition("x_i distinct", {"N": ds.N}, True), *conds,
        Condition("projection: min z = 0, projected points exactly 2 apart, codes ⌊z⌋ < 2^ρ "
                  "(Las Vegas, checked exactly)",
                  {"rho": p.rho, "max_code": int(max(enc.codes)), "tries": enc.tries}, True),
    ]
    notes = [
        f"R = 10·r·N²·√(πd)/δ = {p.R:.6g}, ρ = {p.rho}, c = {p.c}, ℓ = max(ρ, c) = {p.ell} bits per slot; "
        f"n = {p.n} points per group ({p.grouping if p.selection == 'serial' else 'depth budget'}), "
        f"N1 = {p.N1} groups, words of M = {p.M} bits",
        f"labels: {desc}; padded slots hold code 0 and label 0 (never fire)",
        f"weights: up to {num_bits}-bit numerators and 2^{den_bits} denominators, {wbits} bits per "
        f"weight at most, {total_bits} in total (stage 1 is a non-dyadic rational direction): "
        "float64 cannot carry them, export to float is refused",
        f"{sz['nonzeros_generic']} nonzero parameters generically (built: {net.nonzeros})",
    ]
    cert = Certificate(
        method=method, theorem=theorem, reference=REFERENCE, conditions=conds,
        guarantees=["F(x_i) = y_i exactly (classification: logits 2c·y − c², margin ≥ 1) in exact "
                    "arithmetic of the stated weights"],
        arithmetic="exact", notes=notes)
    info = {"plan": p.to_json(), "sizes": {k: v for k, v in sz.items() if k != "widths"},
            "weight_bits": wbits, "total_weight_bits": total_bits, "projection_tries": enc.tries,
            "first_group_last_point": int(enc.order[min(p.n, ds.N) - 1]),
            "build_seconds": time.perf_counter() - t0}
    return Construction(net, cert, info)


def _fixed_point_bits(v: Any) -> int:
    """Sign + magnitude + fraction bits of a dyadic m/2^e (bitlen m + e + 1); a non-dyadic p/q
    counts bitlen p + bitlen q + 1 (numerator and denominator stored)."""
    q = int(v.q)
    frac = q.bit_length() - 1 if q & (q - 1) == 0 else q.bit_length()
    return abs(int(v.p)).bit_length() + frac + 1


def _refuse_float(method: str, arithmetic: str) -> None:
    """Refused before any work: the weights are exact rationals that float64 cannot carry."""
    if arithmetic not in ("exact", "float64"):
        raise OptionError(f"arithmetic must be 'exact' or 'float64', got {arithmetic!r}")
    if arithmetic == "float64":
        raise NeedsExactArithmetic(
            f"{method}: the packed words carry M = n·ℓ bits (ℓ ≥ bitlen⌊10rN²√(πd)/δ⌋ ≥ 10) and the "
            "projection is a non-dyadic rational: float64's 53-bit significand cannot hold them; "
            "use arithmetic='exact' (memcap.construct escalates)")


def _break(ds: Dataset, **_: Any) -> dict[str, Any]:
    """δ above the data's smallest distance (the separation condition fails)."""
    if ds.N < 2:
        return {"r": 0}
    X = np.asarray(ds.X, dtype=np.float64)
    _mx, _p, mn, _q = pairwise_extremes(X)
    return {"delta": Fraction(math.sqrt(mn)) * Fraction(1001, 1000)}

#: the options of both methods (the architecture's r and δ, the group size n, the projection's seed)
R_OPT = Option("r", "number", None, "the input-norm bound r of the architecture (default: the data's max "
               "norm)", low=0, open_low=True)
DELTA_OPT = Option("delta", "number", None, "the separation δ of the architecture (default: the data's min "
                   "distance)", low=0, open_low=True)
N_OPT = Option("n", int, None, "points per group (default: chosen by the grouping rule)", low=1)


@register(
    "vardi-optimal",
    theorem="Vardi, Yehudai & Shamir 2022, Theorem 3.1",
    condition="‖x_i‖ ≤ r, ‖x_i − x_j‖ ≥ δ (any N distinct points; r, δ fix R = 10rN²√(πd)/δ)",
    sizes="width 12, depth 3⌈N/n⌉ + n(3ℓ+2) + 3 with n ≈ √(N/ℓ): Õ(d + √N) parameters of n·ℓ + 2 "
          "bits; ≈ 200k dense / 36k nonzero at N=10^4, d=10 (3638 layers)",
    size_formula=_sizes,
    break_condition=_break,
    assumption=_assumption,
    options=(R_OPT, DELTA_OPT, Option("grouping", str, "depth", "group size rule: 'depth' (n ≈ √(N/ℓ)), "
                                      "'params' (fewest dense parameters) or 'paper'",
                                      choices=("depth", "params", "paper")), N_OPT, SEED),
)
def vardi_optimal(ds: Dataset, arithmetic: str = "exact", r: Any = None, delta: Any = None,
                  grouping: str = "depth", n: Any = None, seed: int = 0) -> Construction:
    """Theorem 3.1: any N points with ‖x_i‖ ≤ r and ‖x_i − x_j‖ ≥ δ, labels in [C], are memorized
    by a ReLU network of width 12, depth 3⌈N/n⌉ + n(3ℓ + 2) + 3 affine layers and weights of
    n·ℓ + 2 bits, ℓ = max(bitlen⌊R⌋, bitlen(C − 1)), R = 10 r N² √(πd)/δ.

    ``grouping``: ``depth`` (default; n minimizing depth ≈ √(N/ℓ)), ``params`` (n minimizing dense
    parameters) or ``paper`` (n = ⌈√(N/log N)⌉). ``n`` fixes the group size. ``r``/``delta`` fix
    the architecture (defaults: the data's max norm and min distance); data breaking them are
    refused with the numbers. Regression with one dyadic output works too (label words hold
    the targets' integer codes).
    """
    t0 = time.perf_counter()
    _refuse_float("vardi-optimal", arithmetic)
    p, conds, enc = plan_for(ds, r, delta, grouping, n, None)
    return _build(ds, "vardi-optimal", "Theorem 3.1", arithmetic, seed, p, conds, enc, t0)


def _depth_sizes(ds: Dataset, depth: Any = None, r: Any = None, delta: Any = None, n: Any = None,
                 **_: Any) -> dict[str, Any]:
    return _sizes(ds, r, delta, "depth", n, _depth_default(ds, depth, r, delta))


def _depth_default(ds: Dataset, depth: Any, r: Any, delta: Any) -> int:
    """Default L: the smallest depth with one slot per group (width 2N − 1), i.e. 3ℓ + 7."""
    if depth is not None:
        try:
            return int(depth)
        except (TypeError, ValueError):
            raise OptionError(f"option depth must be an integer, got {depth!r}") from None
    p, _c, _e = plan_for(ds, r, delta, "depth", 1, None)
    return 3 * p.ell + 7


@register(
    "vardi-depth",
    theorem="Vardi, Yehudai & Shamir 2022, depth-L theorem (Õ(N/L) parameters)",
    condition="‖x_i‖ ≤ r, ‖x_i − x_j‖ ≥ δ; depth L ≥ 3ℓ + 7 (option depth=L, affine layers)",
    sizes="depth ≤ L, width 2⌈N/n⌉ − 1 with n = ⌊(L − 5)/(3ℓ + 2)⌋; ≈ 10N(3ℓ+2)/L + 95L parameters",
    size_formula=_depth_sizes,
    break_condition=_break,
    assumption=_assumption,
    options=(Option("depth", int, None, "the depth budget L in affine layers (default 3ℓ + 7; L ≥ 3ℓ + 7)",
                    low=1), R_OPT, DELTA_OPT, N_OPT, SEED),
)
def vardi_depth(ds: Dataset, arithmetic: str = "exact", depth: Any = None, r: Any = None,
                delta: Any = None, n: Any = None, seed: int = 0) -> Construction:
    """The depth-L theorem: for 1 ≤ L ≤ √N (up to logs) N separated points are memorized at depth L
    with Õ(N/L) parameters. Here: the same stages as ``vardi-optimal`` with the serial group
    selection replaced by one staircase layer of 2⌈N/n⌉ − 1 unit ramps, n = ⌊(L − 5)/(3ℓ + 2)⌋
    slots per group; depth ≤ L affine layers, weights of n·ℓ + 2 bits. L below 3ℓ + 7 is refused.
    ``depth`` defaults to 3ℓ + 7 (one slot per group).
    """
    t0 = time.perf_counter()
    _refuse_float("vardi-depth", arithmetic)
    L = _depth_default(ds, depth, r, delta)
    p, conds, enc = plan_for(ds, r, delta, "depth", n, L)
    conds.append(Condition("depth ≤ L (affine layers)", {"L": L, "depth": 5 + p.n * (3 * p.ell + 2)},
                           True))
    return _build(ds, "vardi-depth", "depth-L theorem", arithmetic, seed, p, conds, enc, t0)
