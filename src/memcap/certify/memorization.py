"""Certified memorization check: does the network, with exactly its stored weights, fit every point?

Tiers, cheapest first; each point is decided by the first tier that can:

1. float64 evaluation with a rigorous rounding bound (:func:`memcap.numerics.forward_float_bounded`);
2. exact-weight networks whose layers after the first are dyadic (deep exact constructions):
   exact integer evaluation of every undecided point (:mod:`memcap.certify.integer`);
   otherwise ball arithmetic (arb) at 128, 256, ... 4096 bits on the points still undecided;
3. exact rational arithmetic on whatever is left.

Regression: ``|f(x_i) - y_i| <= tol`` for every output. Classification: margin
``f_y(x_i) - max_{c != y} f_c(x_i) > 0``. The report also gives what plain float64 and float32
evaluation do (measured, and certified for any summation order) and the mantissa bits a float
evaluation needs, estimated from the certified bound.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import flint
import numpy as np

from memcap.data.dataset import Dataset
from memcap.network import Network
from memcap.numerics import (
    HAS_EXTENDED,
    _fmpq,
    forward_balls,
    forward_exact,
    forward_float_bounded,
    unit_roundoff,
)

__all__ = ["VerificationReport", "verify", "default_tolerance"]

PRECISIONS = (128, 256, 512, 1024, 2048, 4096)
BALL_BATCH = 512  # points per ball-arithmetic call (progress granularity)


def default_tolerance(ds: Dataset) -> float:
    """Regression tolerance when none is given: 1e-6 · max(1, max |y|)."""
    return 1e-6 * max(1.0, float(np.max(np.abs(ds.targets))))


@dataclass
class VerificationReport:
    """Outcome of :func:`verify`. ``memorized`` is certified when ``certified`` is True."""

    memorized: bool
    certified: bool
    task: str
    N: int
    tolerance: float | None
    worst_error: float | None          # certified upper bound on max |f(x_i) - y_i| (regression)
    min_margin: float | None           # certified lower bound on the smallest margin (classification)
    failing: list[int]
    undecided: list[int]
    tiers: dict[str, int]
    # measured plain float64 / float32 evaluation: regression max |f(x_i) - y_i|; classification the
    # smallest margin f_y(x_i) - max_{c != y} f_c(x_i) (> 0: every point classified right; inf: 1 class)
    float64_error: float
    float32_error: float
    float64_bound: float               # certified max |fl64(f)(x_i) - f(x_i)|, any summation order
    float32_bound: float
    float64_memorizes: bool            # certified for any summation order
    float32_memorizes: bool
    float32_measured_memorizes: bool
    bits_needed: int | None            # mantissa bits for a float evaluation to stay certified
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["failing"] = self.failing[:50]
        d["undecided"] = self.undecided[:50]
        return d

    def summary(self) -> str:
        verdict = ("memorized" if self.memorized else "NOT memorized") + (
            " (certified)" if self.certified else " (NOT certified)")
        how = ", ".join(f"{k}: {v}" for k, v in self.tiers.items() if v)
        measured = "max error" if self.task == "regression" else "smallest margin"
        return (f"{verdict}; {self.N} points decided by {how}; measured {measured} float64 "
                f"{self.float64_error:.3g}, float32 {self.float32_error:.3g}")


def _regression_errs(out: np.ndarray, bnd: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point (upper, lower) bounds on max_t |f_t - y_t|."""
    d = np.abs(out - Y)
    up = (d + bnd).max(axis=1) * (1 + 4 * unit_roundoff(np.float64))
    lo = (d - bnd).max(axis=1) * (1 - 4 * unit_roundoff(np.float64))
    return up, lo


def _margins(out: np.ndarray, bnd: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point (lower, upper) bounds on f_y - max_{c != y} f_c."""
    n = len(labels)
    rows = np.arange(n)
    own_lo = out[rows, labels] - bnd[rows, labels]
    own_hi = out[rows, labels] + bnd[rows, labels]
    hi = out + bnd
    lo = out - bnd
    hi[rows, labels] = -np.inf
    lo[rows, labels] = -np.inf
    if out.shape[1] == 1:
        return np.full(n, np.inf), np.full(n, np.inf)
    slack = 4 * unit_roundoff(np.float64) * (np.abs(out).max(axis=1) + bnd.max(axis=1))
    return own_lo - hi.max(axis=1) - slack, own_hi - lo.max(axis=1) + slack


def _measured_margin(out: np.ndarray, labels: np.ndarray) -> float:
    """Smallest f_y - max_{c != y} f_c of a plain float evaluation (inf with a single output)."""
    if out.shape[1] < 2:
        return math.inf
    own = out[np.arange(len(labels)), labels]
    others = np.where(np.eye(out.shape[1], dtype=bool)[labels], -np.inf, out).max(axis=1)
    m = own - others
    return float(np.min(np.where(np.isnan(m), -np.inf, m)))


def _decide_balls(vals: list[Any], y: np.ndarray, label: int | None, tol: Any
                  ) -> tuple[bool | None, float]:
    """Decide one point from exact/ball outputs. Returns (verdict or None, error/margin estimate)."""
    if label is None:
        errs = [abs(v - _fmpq(float(t))) for v, t in zip(vals, y, strict=True)]
        if all(e <= tol for e in errs):
            return True, max(_upper(e) for e in errs)
        if any(e > tol for e in errs):
            return False, max(_upper(e) for e in errs)
        return None, math.nan
    own = vals[label]
    others = [v for c, v in enumerate(vals) if c != label]
    if not others:
        return True, math.inf
    diffs = [own - o for o in others]
    if all(d > 0 for d in diffs):
        return True, min(_lower(d) for d in diffs)
    if any(d <= 0 for d in diffs):
        return False, min(_lower(d) for d in diffs)
    return None, math.nan


def _upper(v: Any) -> float:
    if isinstance(v, flint.arb):
        return float(v.upper().mid()) * (1 + 2**-50) + 2.0**-1074
    return float(v)


def _lower(v: Any) -> float:
    if isinstance(v, flint.arb):
        return float(v.lower().mid()) - abs(float(v.lower().mid())) * 2**-50 - 2.0**-1074
    return float(v)


def _start_precision(net: Network) -> int:
    """First ball precision worth trying for exact-weight nets.

    A dyadic weight (integer or p/2^k) with a b-bit numerator is represented exactly only from b bits
    of working precision on, so lookup-style weights of hundreds of bits (park-*) make smaller
    passes pure waste. Non-dyadic rationals (yun-* in exact arithmetic: huge denominators) are never
    exact in a ball; their values need only the float error budget, so they start at the bottom.
    """
    if not net.exact:
        return PRECISIONS[0]
    bits = 0
    for layer in net.layers:
        for a in layer.arrays():
            if a.dtype != object:
                continue
            for v in a.ravel():
                if isinstance(v, flint.fmpq):
                    q = int(v.q)
                    if q & (q - 1) == 0:
                        bits = max(bits, int(v.p).bit_length())
    want = bits + 64
    return next((p for p in PRECISIONS if p >= want), PRECISIONS[-1])


def _embed(a: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    full = np.full((n, a.shape[1]), np.nan)
    full[rows] = a
    return full


def _integer_program(net: Network) -> Any:
    """The integer form of an exact-weight network dyadic after its first layer, else None."""
    if not net.exact:
        return None
    from memcap.certify.integer import prepare

    return prepare(net)


def _integer_tier(prog: Any, ds: Dataset, todo: np.ndarray, Y: np.ndarray, labels: Any, tol_q: Any,
                  verdict: np.ndarray, score: np.ndarray, tiers: dict[str, int],
                  say: Callable[[str], None]) -> np.ndarray:
    """Exact tier: every undecided point is decided by exact integer evaluation
    (:mod:`memcap.certify.integer`; sound: no rounding anywhere). Returns the empty remainder."""
    from memcap.certify.integer import forward as forward_integer

    say(f"exact integer arithmetic on {len(todo)} points ({len(prog.layers) + 1} layers)")
    exact = forward_integer(prog, ds.X[todo], progress=say)
    for i, vals in zip(todo, exact, strict=True):
        v, sc = _decide_balls(vals, Y[i], None if labels is None else int(labels[i]), tol_q)
        verdict[i], score[i] = int(bool(v)), sc
    tiers["exact-integer"] = len(todo)
    return todo[:0]


def verify(net: Network, ds: Dataset, tol: float | None = None,
           progress: Callable[[str], None] | None = None, exact_tiers: bool = True
           ) -> VerificationReport:
    """Certify that ``net`` memorizes ``ds`` (see module docstring for the tiers).

    ``exact_tiers=False`` stops after the float tiers (for very large N, where ball arithmetic costs
    O(N·d1·d2) ball operations): points they cannot decide are reported as undecided.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    if net.in_dim != ds.d_x:
        raise ValueError(f"network expects {net.in_dim} inputs but the data have d_x = {ds.d_x}")
    if net.out_dim != ds.d_y:
        raise ValueError(f"network has {net.out_dim} outputs but the data have d_y = {ds.d_y}")
    classification = ds.task == "classification"
    if classification and tol is not None:
        raise ValueError("tol applies to regression; classification is certified by margin > 0")
    tolerance = None if classification else (default_tolerance(ds) if tol is None else float(tol))
    Y = ds.targets.astype(np.float64)
    labels = ds.labels if classification else None
    say("float64 evaluation with certified rounding bound")
    out64, b64 = forward_float_bounded(net, ds.X, np.float64)
    verdict = np.full(ds.N, -1)
    certified_score = np.full(ds.N, np.nan)
    tiers: dict[str, int] = {}
    todo = np.arange(ds.N)
    # exact-weight networks that are dyadic after layer 1 are decided exactly in integers (cheaper
    # than the extended-precision and ball tiers over thousands of layers)
    int_prog = _integer_program(net) if exact_tiers else None
    float_tiers = [("float64+bound", np.float64)]
    if HAS_EXTENDED and int_prog is None:
        float_tiers.append(("float80+bound", np.longdouble))
    for name, dtype in float_tiers:
        if not len(todo):
            break
        if dtype is np.float64:
            out, bnd = out64, b64
        else:
            say(f"extended-precision evaluation with certified rounding bound on {len(todo)} points")
            out, bnd = forward_float_bounded(net, ds.X[todo], dtype)
            out, bnd = _embed(out, todo, ds.N), _embed(bnd, todo, ds.N)
        if classification:
            lo, hi = _margins(out[todo], bnd[todo], labels[todo])
            ok, bad, score = lo > 0, hi <= 0, lo
        else:
            hi, lo = _regression_errs(out[todo], bnd[todo], Y[todo])
            ok, bad, score = hi <= tolerance, lo > tolerance, hi
        done = ok | bad
        verdict[todo[done]] = ok[done].astype(int)
        certified_score[todo[done]] = score[done]
        tiers[name] = int(done.sum())
        todo = todo[~done]
    tol_q = None if tolerance is None else _fmpq(tolerance)
    if len(todo) and int_prog is not None:
        todo = _integer_tier(int_prog, ds, todo, Y, labels, tol_q, verdict, certified_score, tiers, say)
    start = _start_precision(net) if len(todo) else PRECISIONS[0]
    for prec in PRECISIONS if exact_tiers else ():
        if prec < start:
            continue
        if not len(todo):
            break
        tol_ball = None if tol_q is None else flint.arb(tol_q)
        decided = []
        for start in range(0, len(todo), BALL_BATCH):  # batches, so long runs report progress
            batch = todo[start:start + BALL_BATCH]
            say(f"ball arithmetic at {prec} bits: points {start + 1}-{start + len(batch)} of "
                f"{len(todo)} undecided")
            balls = forward_balls(net, ds.X[batch], prec)
            for i, vals in zip(batch, balls, strict=True):
                v, sc = _decide_balls(vals, Y[i], None if labels is None else int(labels[i]), tol_ball)
                if v is not None:
                    verdict[i], certified_score[i] = int(v), sc
                    decided.append(i)
        tiers[f"arb{prec}"] = len(decided)
        todo = np.setdiff1d(todo, decided)
    if len(todo) and exact_tiers:
        say(f"exact rational arithmetic on {len(todo)} points")
        exact = forward_exact(net, ds.X[todo])
        for i, vals in zip(todo, exact, strict=True):
            v, sc = _decide_balls(vals, Y[i], None if labels is None else int(labels[i]), tol_q)
            verdict[i], certified_score[i] = int(bool(v)), sc
        tiers["exact"] = len(todo)
    failing = np.flatnonzero(verdict == 0).tolist()
    undecided = np.flatnonzero(verdict < 0).tolist()
    memorized = not failing and not undecided

    # what users run: plain float64 / float32, measured and certified for any summation order
    say("float32 evaluation")
    out32, b32 = forward_float_bounded(net, ds.X, np.float32)
    if classification:
        f64_err, f32_err = _measured_margin(out64, labels), _measured_margin(out32, labels)
        f32_ok = f32_err > 0
        margin_lo = np.nan_to_num(certified_score, nan=-np.inf)
        f64_cert = memorized and bool(np.all(margin_lo - 2 * b64.max(axis=1) > 0))
        f32_cert = memorized and bool(np.all(margin_lo - 2 * b32.max(axis=1) > 0))
        slack = margin_lo / 2
        worst_error, min_margin = None, float(np.min(certified_score)) if memorized else None
    else:
        f64_err = float(np.max(np.abs(out64 - Y)))
        f32_err = float(np.max(np.abs(out32 - Y)))
        f32_ok = f32_err <= tolerance
        err_hi = np.nan_to_num(certified_score, nan=np.inf)
        f64_cert = memorized and bool(np.all(err_hi + b64.max(axis=1) <= tolerance))
        f32_cert = memorized and bool(np.all(err_hi + b32.max(axis=1) <= tolerance))
        slack = tolerance - err_hi
        worst_error, min_margin = (float(np.max(certified_score)) if memorized else None), None
    bits = None
    if memorized:
        # the bound is ≈ K·u: need K·2^-b ≤ slack, i.e. b ≥ log2(K/slack)
        K = b64.max(axis=1) / unit_roundoff(np.float64)
        with np.errstate(divide="ignore"):
            need = np.log2(np.maximum(K, 1e-300) / np.maximum(slack, 1e-300))
        worst = float(np.max(need))
        # an overflowing float evaluation (huge weights) gives an infinite bound: bits unknown
        bits = max(1, int(math.ceil(worst))) + 1 if math.isfinite(worst) else None
    return VerificationReport(
        memorized=memorized,
        certified=not undecided,
        task=ds.task,
        N=ds.N,
        tolerance=tolerance,
        worst_error=worst_error,
        min_margin=min_margin,
        failing=failing,
        undecided=undecided,
        tiers=tiers,
        float64_error=f64_err,
        float32_error=f32_err,
        float64_bound=float(np.max(b64)),
        float32_bound=float(np.max(b32)),
        float64_memorizes=f64_cert,
        float32_memorizes=f32_cert,
        float32_measured_memorizes=bool(f32_ok),
        bits_needed=bits,
        seconds=time.perf_counter() - t0,
    )
