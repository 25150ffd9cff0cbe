"""Architecture plans and exact sizes of Park et al. (2021)'s networks, for any N, without building.

A *plan* fixes every number the architecture depends on (N, d_x, C, Δ and the options): K0, L1, U,
V, the compression-2 targets T_i and block counts C_i, the lookup split A·B ≥ V, bits per stage R.
The builders in :mod:`memcap.constructions.park2021.sublinear` follow the plan layer by layer; the counts here
are computed from the plan in closed form (run-length over repeated layer patterns), so N = 10^9
costs milliseconds. The tests check that a built network's widths and parameters equal these.

Layer kinds are ``(ID neurons, STEP neurons)`` per Step+Id hidden layer; the compiled widths follow
:func:`memcap.constructions.park2021.program.layer_widths`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap.data.dataset import Dataset
from memcap.errors import ConditionError
from memcap.theory.conditions import Condition

__all__ = ["pairwise_extremes", "exact_sq_distance", "separation", "default_delta", "check_separated",
           "park_size", "theorem3", "min_depth_uniform",
           "Plan", "plan_sublinear", "plan_width3", "segments", "count", "sizes_from_plan",
           "k0_bound", "label_bits", "icbrt_ceil_pow"]

def label_bits(C: int) -> int:
    """D = max(1, ⌈log2 C⌉) (erratum PLYS-8: C = 1 would give D = 0)."""
    return max(1, (C - 1).bit_length())


def icbrt_ceil_pow(n: int, num: int, den: int) -> int:
    """The least integer V with V^den >= n^num (i.e. ⌈n^(num/den)⌉), exactly."""
    t = n ** num
    r = int(flint.fmpz(t).root(den))
    while r ** den < t:
        r += 1
    while r > 0 and (r - 1) ** den >= t:
        r -= 1
    return r


def k0_bound(N: int, d_x: int, delta: Fraction) -> int:
    """K0 = ⌈N² Δ √(π d_x / 8)⌉ (Lemma 5), rounded up rigorously (arb ball, upper end)."""
    old = flint.ctx.prec
    flint.ctx.prec = 256
    try:
        v = flint.arb(N * N) * flint.arb(flint.fmpq(delta.numerator, delta.denominator)) * (
            flint.arb.pi() * d_x / 8).sqrt()
        up = v.upper()
        f = up.ceil().unique_fmpz()
        k = int(f) if f is not None else None
    finally:
        flint.ctx.prec = old
    if k is None:  # pragma: no cover - upper() is exact, ceil of an exact value is unique
        raise RuntimeError("could not round K0")
    return max(k, N)


def _ceil_log2_ratio(a: int, b: int) -> int:
    """Least s >= 0 with a <= b·2^s."""
    s = 0
    while a > b << s:
        s += 1
    return s


@dataclass
class Plan:
    """Every number a Park et al. architecture depends on."""

    theorem: int
    N: int
    d_x: int
    C: int
    D: int
    delta: Fraction
    K0: int
    L1: int
    c1_bounds: list[int]          # K after each compression-1 layer
    U: int
    V: int
    c2_targets: list[int]         # T_i
    c2_blocks: list[int]          # C_i
    A: int
    B: int
    R: int = 1
    bottlenecks: bool = True
    w: str = "2/3"
    variant: str = "paper"
    activation: str = "relu"
    notes: list[str] = field(default_factory=list)

    @property
    def S(self) -> int:
        return -(-(self.B * self.D) // self.R)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["delta"] = str(self.delta)
        d["S"] = self.S
        return d


def _common(N: int, d_x: int, C: int, delta: Fraction) -> tuple[int, int, list[int], int]:
    K0 = k0_bound(N, d_x, delta)
    U = N * N // 4 + 1
    bounds, K = [], K0
    while K > U:  # Lemma 15 at width 3: T = max(⌈K/2⌉, U); smallest L1 reaching U (<= the paper's)
        K = max(-(-K // 2), U)
        bounds.append(K)
    return K0, U, bounds, len(bounds)


def _c2(N: int, U: int, V: int) -> tuple[list[int], list[int]]:
    s = _ceil_log2_ratio(U, V) if V < U else 0
    targets = [-(-U // 2 ** i) for i in range(1, s)] + ([V] if s else [])
    blocks = [-(-N // (T // N)) for T in targets]
    return targets, blocks


def plan_width3(N: int, d_x: int, C: int, delta: Fraction, activation: str = "hardtanh") -> Plan:
    """Theorem 2 (App. F): V = ⌈N^{4/3}⌉, A = ⌈√((2D+1)V)⌉, B = ⌈√(V/(2D+1))⌉."""
    D = label_bits(C)
    K0, U, bounds, L1 = _common(N, d_x, C, delta)
    V = min(max(icbrt_ceil_pow(N, 4, 3), N), U)
    A = icbrt_ceil_pow((2 * D + 1) * V, 1, 2)
    B = 1
    while B * B * (2 * D + 1) < V:
        B += 1
    while A * B < V:  # cannot happen (√ · √ = V), kept as a guard
        B += 1
    targets, blocks = _c2(N, U, V)
    return Plan(2, N, d_x, C, D, delta, K0, L1, bounds, U, V, targets, blocks, A, B,
                w="4/3 (V)", variant="paper", activation=activation)


def _sublinear(N: int, d_x: int, C: int, delta: Fraction, w: Fraction, R: int | str, A: int | None,
               bottlenecks: bool, activation: str, variant: str) -> Plan:
    D = label_bits(C)
    K0, U, bounds, L1 = _common(N, d_x, C, delta)
    e = 2 - w
    V = min(max(icbrt_ceil_pow(N, e.numerator, e.denominator), N), U)
    p = w / e
    if A is None:
        A = icbrt_ceil_pow(V, p.numerator, p.denominator)
    A = max(1, min(A, V))
    B = -(-V // A)
    if R == "paper":  # Lemma 4 / E.1: R = 1 + (2p-1) log V (rounded up to an integer)
        R = max(1, math.ceil(1 + float(2 * p - 1) * math.log2(V)))
    elif R == "fixed":  # erratum PLYS-5: R = max(1, ⌊log(V^{2p-1}/D)⌋)
        R = max(1, math.floor(float(2 * p - 1) * math.log2(V) - math.log2(D)))
    R = int(R)
    if R < 1:
        raise ValueError(f"R must be a positive integer, got {R}")
    targets, blocks = _c2(N, U, V)
    return Plan(1, N, d_x, C, D, delta, K0, L1, bounds, U, V, targets, blocks, A, B, R=R,
                bottlenecks=bottlenecks, w=str(w), variant=variant, activation=activation)


def plan_sublinear(N: int, d_x: int, C: int, delta: Fraction, variant: str = "improved",
                   w: Any = None, R: Any = None, A: int | None = None, bottlenecks: bool = True,
                   activation: str = "relu") -> Plan:
    """Theorem 1's plan. ``variant="paper"``: w = 2/3, R = 1 + (2p-1)log V, A = ⌈V^p⌉ (Lemma 4),
    bottlenecks as Section 5. ``variant="improved"``: the same lemmas with w, R and the split A·B
    chosen to minimize the exact parameter count (sound: every choice meets the lemmas' conditions).
    Explicit ``w``/``R``/``A`` override either variant.
    """
    if variant not in ("paper", "improved"):
        raise ValueError(f"variant must be 'paper' or 'improved', got {variant!r}")
    if w is not None:
        w = Fraction(w).limit_denominator(1000) if not isinstance(w, Fraction) else w
        if not Fraction(2, 3) <= w <= 1:
            raise ValueError(f"Theorem 1 needs w in [2/3, 1], got {w}")
    if variant == "paper":
        return _sublinear(N, d_x, C, delta, w if w is not None else Fraction(2, 3),
                          R if R is not None else "paper", A, bottlenecks, activation, "paper")
    best: tuple[int, Plan] | None = None
    ws = [w] if w is not None else [Fraction(2, 3) + Fraction(k, 36) for k in range(13)]
    Rs = [R] if R is not None else [1, 2, 3, 4]
    for wv in ws:
        for Rv in Rs:
            base = _sublinear(N, d_x, C, delta, wv, Rv, A, bottlenecks, activation, "improved")
            cands = [base]
            if A is None:  # scan the split A·B >= V around its optimum
                A0 = base.A
                for f in (0.25, 0.35, 0.5, 0.7, 1.4, 2, 2.8, 4, 6, 8, 12):
                    a = max(1, min(base.V, int(A0 * f)))
                    cands.append(_sublinear(N, d_x, C, delta, wv, Rv, a, bottlenecks, activation,
                                            "improved"))
            for pl in cands:
                n = count(pl)["parameters"]
                if best is None or n < best[0]:
                    best = (n, pl)
    assert best is not None
    return best[1]


# ---- layer kinds and counts ---------------------------------------------------------------------
Kind = tuple[int, int, int]  # (ID, STEP, STEP known ≤ 0)


def _extract_kinds(pl: Plan) -> list[tuple[list[Kind], int]]:
    """Lemma 21/22 stages as run-length segments (pattern of layers, repeat)."""
    S, R, D = pl.S, pl.R, pl.D

    def k_l(st: int) -> int:
        m_min = ((st - 1) * R) // D
        m_max = (st * R - 1) // D
        return m_max - m_min + 2

    P = D // math.gcd(R, D)  # k_l depends on (l-1)R mod D only
    segs: list[tuple[list[Kind], int]] = []
    body = S - 1
    # stages 1..S-1 (layer b keeps x), then the last stage (layer b drops x)
    pattern = [[(2, 2 ** R - 1 + k_l(st), 0), (2, 0, R)] for st in range(1, P + 1)]
    full, rest = divmod(body, P)
    if full:
        segs.append(([k for pair in pattern for k in pair], full))
    for i in range(rest):
        segs.append((pattern[i], 1))
    segs.append(([(2, 2 ** R - 1 + k_l(S), 0), (1, 0, R)], 1))
    return segs


def segments(pl: Plan) -> list[tuple[list[Kind], int]]:
    """The whole network's Step+Id layer kinds, run-length encoded."""
    segs: list[tuple[list[Kind], int]] = []
    if pl.L1:
        segs.append(([(1, 2, 0)], pl.L1))
    if pl.theorem == 1:
        for c in pl.c2_blocks:
            segs.append(([(1, 2 * c, 0)] + ([(1, 0, 0)] if pl.bottlenecks else []), 1))
        segs.append(([(1, pl.A - 1, 0)] + ([(2, 0, 0)] if pl.bottlenecks else []), 1))
        segs.extend(_extract_kinds(pl))
    else:
        for c in pl.c2_blocks:
            L = max(1, 2 * c - 2)
            if L == 1:
                segs.append(([(1, 2, 0)], 1))
            else:
                segs.append(([(1, 2, 0)], 1))
                if L > 2:
                    segs.append(([(2, 1, 0)], L - 2))
                segs.append(([(1, 2, 0)], 1))
        if pl.A > 1:
            segs.append(([(2, 1, 0)], pl.A - 1))
        segs.append(([(2, 1, 0)] * (2 * pl.D + 1), pl.B))  # Lemma 23: h, then (g, f) per bit
    return segs


def _widths_of(kind: Kind, activation: str) -> list[int]:
    i, s, s0 = kind
    if activation == "relu":
        return [i + 2 * s + s0]
    if activation == "hardtanh":
        return [i + s + s0]
    return [i + s + s0, i + s + s0]


def count(pl: Plan, activation: str | None = None, d_out: int | None = None) -> dict[str, Any]:
    """Depth, width, hidden neurons and dense parameters of the compiled network, from the plan."""
    act = activation or pl.activation
    d_out = pl.C if d_out is None else d_out
    prev = pl.d_x
    params = neurons = layers = width = 0
    stepid_params = 0
    prev_s = pl.d_x
    for pattern, rep in segments(pl):
        ws = [w for k in pattern for w in _widths_of(k, act)]
        sw = [i + s + s0 for i, s, s0 in pattern]
        # first repetition reads `prev`; later ones read the pattern's last width
        first = sum((a + 1) * b for a, b in zip([prev, *ws[:-1]], ws, strict=True))
        again = sum((a + 1) * b for a, b in zip([ws[-1], *ws[:-1]], ws, strict=True))
        params += first + (rep - 1) * again
        s_first = sum((a + 1) * b for a, b in zip([prev_s, *sw[:-1]], sw, strict=True))
        s_again = sum((a + 1) * b for a, b in zip([sw[-1], *sw[:-1]], sw, strict=True))
        stepid_params += s_first + (rep - 1) * s_again
        neurons += rep * sum(ws)
        layers += rep * len(ws)
        width = max(width, *ws)
        prev, prev_s = ws[-1], sw[-1]
    params += (prev + 1) * d_out
    stepid_params += (prev_s + 1) * 1
    return {"depth": layers + 1, "hidden_layers": layers, "width": width, "hidden_neurons": neurons,
            "parameters": params, "stepid_parameters_scalar_output": stepid_params}


def sizes_from_plan(pl: Plan, activation: str | None = None) -> dict[str, Any]:
    """Counts plus the explicit width list (expanded; use :func:`count` for huge N)."""
    act = activation or pl.activation
    widths = [w for pattern, rep in segments(pl) for _ in range(rep) for k in pattern
              for w in _widths_of(k, act)]
    out = count(pl, act)
    out["widths"] = widths
    return out


PI_UP = Fraction(355, 113)  # > π: makes Theorem 3's condition 2 sufficient


# ---- Theorem 3 (widths given) -------------------------------------------------------------------
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


# ---- Δ-separation (Definition 1) and sizes without building ------------------------------------
def pairwise_extremes(X: np.ndarray) -> tuple[float, tuple[int, int], float, tuple[int, int]]:
    """Largest and smallest squared distance (float64) with their pairs; chunked, direct differences."""
    n = len(X)
    best_max, pmax, best_min, pmin = -1.0, (0, 0), np.inf, (0, 0)
    step = max(1, 2_000_000 // max(1, n * X.shape[1]))
    for i0 in range(0, n, step):
        i1 = min(n, i0 + step)
        diff = X[i0:i1, None, :] - X[None, :, :]
        d2 = np.einsum("ijk,ijk->ij", diff, diff)
        rows = np.arange(i0, i1)
        d2_min = d2.copy()
        d2_min[np.arange(i1 - i0), rows] = np.inf
        a = np.unravel_index(np.argmax(d2), d2.shape)
        if d2[a] > best_max:
            best_max, pmax = float(d2[a]), (int(rows[a[0]]), int(a[1]))
        b = np.unravel_index(np.argmin(d2_min), d2_min.shape)
        if d2_min[b] < best_min:
            best_min, pmin = float(d2_min[b]), (int(rows[b[0]]), int(b[1]))
    return best_max, pmax, best_min, pmin


def exact_sq_distance(X: np.ndarray, i: int, j: int) -> Fraction:
    return sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(X[i], X[j], strict=True))


def separation(ds: Dataset) -> dict[str, Any]:
    """diam/min-distance of the inputs with the pairs attaining them (float64 with a rigorous band).

    ``ratio_upper`` is a rational upper bound on the true ratio (float rounding accounted for).
    """
    X = np.asarray(ds.X, dtype=np.float64)
    if ds.N < 2:
        return {"ratio": 1.0, "ratio_upper": Fraction(1), "max_pair": None, "min_pair": None}
    mx, pmax, mn, pmin = pairwise_extremes(X)
    eps = Fraction((X.shape[1] + 4) * 2, 2**52)
    # exact values of the witnessing pairs, and a bound covering every other pair
    dmax2, dmin2 = exact_sq_distance(X, *pmax), exact_sq_distance(X, *pmin)
    up_max = max(dmax2, Fraction(mx) * (1 + eps))
    lo_min = min(dmin2, Fraction(mn) * (1 - eps))
    return {"ratio": float(np.sqrt(mx / mn)), "ratio2_upper": up_max / lo_min,
            "max_pair": pmax, "min_pair": pmin, "dmax2": dmax2, "dmin2": dmin2}


def default_delta(ds: Dataset) -> Fraction:
    """The smallest dyadic Δ = k/1024 with Δ² above the certified ratio² (so the data are Δ-separated)."""
    sep = separation(ds)
    if ds.N < 2:
        return Fraction(1)
    r2 = sep["ratio2_upper"]
    k = max(1024, int(np.floor(np.sqrt(float(r2)) * 1024)))
    while Fraction(k, 1024) ** 2 <= r2:
        k += 1
    return Fraction(k, 1024)


def check_separated(ds: Dataset, delta: Any) -> tuple[Fraction, Condition]:
    """Definition 1: max ‖x−x'‖ < Δ · min ‖x−x'‖. Raises ConditionError naming the pairs otherwise."""
    if delta is None:
        d = default_delta(ds)
        return d, Condition("Δ-separated (Def. 1): diam < Δ · min distance; Δ computed from the data",
                            {"delta": str(d)}, True)
    d = Fraction(delta).limit_denominator(10**12) if not isinstance(delta, Fraction) else delta
    if d < 1:
        raise ConditionError(f"Δ must be ≥ 1 (diameter ≥ minimum distance), got Δ = {float(d)}")
    if ds.N < 2:
        return d, Condition("Δ-separated (Def. 1)", {"delta": str(d), "N": ds.N}, True)
    sep = separation(ds)
    if sep["ratio2_upper"] < d * d:
        return d, Condition("Δ-separated (Def. 1): diam < Δ · min distance",
                            {"delta": str(d), "ratio": sep["ratio"]}, True)
    (i, j), (k, m) = sep["max_pair"], sep["min_pair"]
    if sep["dmax2"] >= d * d * sep["dmin2"]:
        raise ConditionError(
            f"the data are not Δ-separated at Δ = {float(d):.6g} (Definition 1 needs "
            f"max ‖x−x'‖ < Δ · min ‖x−x'‖): points {i} and {j} are {float(sep['dmax2']) ** 0.5:.6g} "
            f"apart but points {k} and {m} only {float(sep['dmin2']) ** 0.5:.6g}, ratio "
            f"{(float(sep['dmax2']) / float(sep['dmin2'])) ** 0.5:.6g} ≥ Δ. Use Δ > that ratio "
            "(or omit delta to compute it)")
    raise ConditionError(  # the float band is ambiguous: refuse rather than guess
        f"cannot certify Δ-separation at Δ = {float(d):.6g}: the ratio diam/min distance of points "
        f"{i},{j} / {k},{m} is within float64 rounding of Δ; use a slightly larger Δ")


def _flag(v: Any, name: str) -> bool:
    """A boolean option given as a bool or as text (CLI --option KEY=VALUE)."""
    if isinstance(v, bool):
        return v
    t = str(v).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ConditionError(f"option {name} must be true or false, got {v!r}")


def park_size(N: int, d_x: int, C: int, delta: Any, method: str = "park-sublinear", **options: Any
              ) -> dict[str, Any]:
    """Exact depth, width, hidden neurons and parameters of ``method``'s network for N points in d_x
    dimensions with C classes at separation Δ, without data and without building (any N, e.g. 10^9).
    ``options`` are the method's (variant, w, R, A, bottlenecks, activation)."""
    d = Fraction(delta) if not isinstance(delta, Fraction) else delta
    if method == "park-sublinear":
        opts = dict(options)
        if "bottlenecks" in opts:
            opts["bottlenecks"] = _flag(opts["bottlenecks"], "bottlenecks")
        pl = plan_sublinear(int(N), int(d_x), int(C), d, **opts)
    elif method == "park-width3":
        pl = plan_width3(int(N), int(d_x), int(C), d, **options)
    else:
        raise ValueError(f"method must be park-sublinear or park-width3, got {method!r}")
    out = count(pl)
    out["plan"] = pl.to_json()
    return out
