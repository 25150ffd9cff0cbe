"""Tier 3 of robustness verification: an exact mixed-integer program per point (HiGHS).

For a point ``x_i`` with label y and each class c != y not already excluded by tier 2, solve
``min f_y(z) - f_c(z)`` over ``z`` in the ball, with the network encoded exactly:

* ReLU-like neuron ``a = s+ t (t >= 0), s- t (t < 0)`` with pre-activation bounds ``l < 0 < u``
  from tier 2 (the big-M constants): one binary d and
  ``a >= s+ t,  a >= s- t,  a <= s+ t - (s+ - s-) l (1 - d),  a <= s- t + (s+ - s-) u d``
  (plain ReLU: the usual four constraints). Stable neurons are linear.
* Hard-tanh in its ReLU form ``clip(t, -1, 1) = -1 + relu(t + 1) - relu(t - 1)``: two binaries
  when the interval contains both breakpoints (exact).
* Identity layers and residual blocks ``h' = h + V a + c`` are linear equalities.
* The ball: L∞ is a box; L1 adds ``s_j >= ±(z_j - x_j)``, ``sum s_j <= r``. **L2 is not linear**:
  the program starts from the outer polytope box ∩ {||z - x||_1 <= r sqrt(d)} and adds Kelley
  cutting planes (the ball's tangent half-space facing each solution that lies outside it) until
  the solution lies in the ball or the optimum is positive; "proven" stays sound (every polytope
  contains the ball), and the point stays unknown when ``max_cuts`` or the time runs out.

Outcome per point: *proven* only when, after the solver's dual bound exceeds ``proof_margin``
(1e-7) for every c, the claim is re-derived by the exact tier (:mod:`.exact`: a branch and bound
whose every node bound is checked in exact rational arithmetic, over the box and, for L1/L2, its
L1 outer polytope; for L2 also the Kelley cuts above, each checked exactly to hold on the ball).
HiGHS works in floating point with its own tolerances (primal feasibility 1e-7, integrality 1e-6 by
default), so its answer alone is not called a proof: a HiGHS "optimal > 0" that the exact tier
cannot confirm within the time limit is reported *unknown*. Never claimed for exact-rational
weights (the solver sees them rounded). *Refuted* when an optimal or incumbent
solution, replayed in exact arithmetic (after pulling it into the ball and, at a near-tie,
polishing it), is a counterexample. *Unknown* otherwise (time limit, solver failure, a spurious
solution, or a HiGHS bound the exact tier does not confirm).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from memcap.certify.robust.attack import Counterexample, _pull_inside, confirm, polish
from memcap.certify.robust.bounds import Op, prepare
from memcap.network import Network

__all__ = ["MilpOutcome", "milp_point"]


@dataclass
class MilpOutcome:
    status: str                      # "proven" | "refuted" | "unknown"
    min_margin: float | None         # certified-by-solver lower bound on the worst margin (proven)
    counterexample: Counterexample | None
    binaries: int
    seconds: float
    detail: str = ""


class _Model:
    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integ: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def var(self, lo: float, hi: float, integer: bool = False) -> int:
        self.lb.append(float(lo))
        self.ub.append(float(hi))
        self.integ.append(1 if integer else 0)
        return len(self.lb) - 1

    def vars(self, lo: np.ndarray, hi: np.ndarray) -> list[int]:
        return [self.var(a, b) for a, b in zip(lo, hi, strict=True)]

    def row(self, coef: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((coef, lo, hi))

    def affine(self, W: np.ndarray, b: np.ndarray, inp: list[int], outs: list[int],
               extra: list[int] | None = None) -> None:
        """outs = W inp + b (+ extra)."""
        for j, o in enumerate(outs):
            coef = {o: 1.0}
            for k in np.flatnonzero(W[j]):
                coef[inp[k]] = coef.get(inp[k], 0.0) - float(W[j, k])
            if extra is not None:
                coef[extra[j]] = coef.get(extra[j], 0.0) - 1.0
            self.row(coef, float(b[j]), float(b[j]))

    def relu_like(self, t: int, lo: float, hi: float, sp: float, sm: float, shift: float = 0.0) -> int:
        """A variable equal to relu_like(t + shift) for t + shift in [lo, hi]."""
        if lo >= 0 or hi <= 0:
            s = sp if lo >= 0 else sm
            a = self.var(min(s * lo, s * hi), max(s * lo, s * hi))
            self.row({a: 1.0, t: -s}, s * shift, s * shift)
            return a
        a = self.var(min(sm * lo, 0.0), sp * hi)
        d = self.var(0, 1, integer=True)
        g = sp - sm
        self.row({a: 1.0, t: -sp}, sp * shift, np.inf)                      # a >= s+ (t+shift)
        self.row({a: 1.0, t: -sm}, sm * shift, np.inf)                      # a >= s- (t+shift)
        self.row({a: 1.0, t: -sp, d: -g * lo}, -np.inf, sp * shift - g * lo)  # a <= s+ x - g lo (1-d)
        self.row({a: 1.0, t: -sm, d: -g * hi}, -np.inf, sm * shift)          # a <= s- x + g hi d
        return a


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints some diagnostics straight to file descriptor 1 (which would corrupt the CLI's
    JSON output): send fd 1 to /dev/null while it runs."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _encode(ops: list[Op], x: np.ndarray, r: float, norm: str,
            zb: list[tuple[np.ndarray, np.ndarray]]) -> tuple[_Model, list[int], list[int]]:
    m = _Model()
    d = len(x)
    box_r = r
    xin = m.vars(np.nextafter(x - box_r, -np.inf), np.nextafter(x + box_r, np.inf))
    if norm in ("1", "2"):
        R = r if norm == "1" else r * np.sqrt(d) * (1 + 1e-12)
        s = m.vars(np.zeros(d), np.full(d, r))
        for j in range(d):
            m.row({s[j]: 1.0, xin[j]: -1.0}, -x[j], np.inf)
            m.row({s[j]: 1.0, xin[j]: 1.0}, x[j], np.inf)
        m.row(dict.fromkeys(s, 1.0), -np.inf, R)
    h = xin
    for k, op in enumerate(ops):
        lo, hi = zb[k]
        z = m.vars(lo, hi)
        m.affine(op.W, op.b, h, z)
        act = op.act
        if act.kind == "identity":
            a = z
        elif act.kind == "relu_like":
            sp, sm = float(act.s_plus), float(act.s_minus)
            a = [m.relu_like(z[j], lo[j], hi[j], sp, sm) for j in range(len(z))]
        else:
            a = []
            for j in range(len(z)):
                r1 = m.relu_like(z[j], lo[j] + 1, hi[j] + 1, 1.0, 0.0, shift=1.0)
                r2 = m.relu_like(z[j], lo[j] - 1, hi[j] - 1, 1.0, 0.0, shift=-1.0)
                v = m.var(float(np.clip(lo[j], -1, 1)), float(np.clip(hi[j], -1, 1)))
                m.row({v: 1.0, r1: -1.0, r2: 1.0}, -1.0, -1.0)
                a.append(v)
        if op.kind == "dense":
            h = a
        else:
            hn = [m.var(-np.inf, np.inf) for _ in h]
            m.affine(op.V, op.c, a, hn, extra=h)
            h = hn
    return m, xin, h


def milp_point(net: Network, x: np.ndarray, label: int, r: float, norm: str,
               zb: list[tuple[np.ndarray, np.ndarray]], classes: list[int] | None = None,
               time_limit: float = 10.0, proof_margin: float = 1e-7, max_cuts: int = 60) -> MilpOutcome:
    """Decide one point exactly (up to the solver's tolerances; see the module docstring).

    A HiGHS solve error (status 4, numerical trouble with the big-M rows) is retried once, within the
    remaining time, with every pre-activation interval widened by a relative 1e-9 (a looser outer
    bound, so still sound); if that fails too the point is "unknown", never a failure."""
    t0 = time.perf_counter()
    out, solver_error = _milp_point(net, x, label, r, norm, zb, classes, time_limit, proof_margin, max_cuts)
    left = time_limit - (time.perf_counter() - t0)
    if solver_error and left > 0:
        wide = [(lo - 1e-9 * (1 + np.abs(lo)), hi + 1e-9 * (1 + np.abs(hi))) for lo, hi in zb]
        out, _ = _milp_point(net, x, label, r, norm, wide, classes, left, proof_margin, max_cuts)
        out.seconds = time.perf_counter() - t0
        out.detail = (out.detail + "; " if out.detail else "") + "retried after a HiGHS solve error"
    return out


def _milp_point(net: Network, x: np.ndarray, label: int, r: float, norm: str,
                zb: list[tuple[np.ndarray, np.ndarray]], classes: list[int] | None,
                time_limit: float, proof_margin: float, max_cuts: int) -> tuple[MilpOutcome, bool]:
    """One MILP solve of :func:`milp_point`; also says whether HiGHS reported a solve error.

    Long: the MILP of one point is built and solved in one pass (per-layer variables, big-M ReLU
    constraints from the sound bounds, the margin objective, the L2 cutting-plane loop) over shared index
    maps.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix, vstack

    t0 = time.perf_counter()
    x = np.asarray(x, np.float64)
    ops = prepare(net)
    # exact-rational weights: the program uses their float64 roundings, so it can still find
    # counterexamples (each is confirmed on the exact network) but cannot prove anything
    rounded = any(op.Wr is not None or op.br is not None or op.Vr is not None or op.cr is not None
                  for op in ops)
    zb = [(np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)) for lo, hi in zb]
    m, xin, out = _encode(ops, x, r, norm, zb)
    n = len(m.lb)
    rr, cc, vv = [], [], []
    for i, (coef, _, _) in enumerate(m.rows):
        for j, v in coef.items():
            rr.append(i)
            cc.append(j)
            vv.append(v)
    A0 = coo_matrix((vv, (rr, cc)), shape=(len(m.rows), n)).tocsr()
    lo0, hi0 = [r_[1] for r_ in m.rows], [r_[2] for r_ in m.rows]
    cut_rows: list[np.ndarray] = []
    cut_ub: list[float] = []
    bounds = Bounds(m.lb, m.ub)
    integ = np.array(m.integ)
    nbin = int(integ.sum())

    def solve(obj: np.ndarray, left: float) -> object:
        A, lo, hi = A0, lo0, hi0
        if cut_rows:
            C = np.zeros((len(cut_rows), n))
            C[:, xin] = np.array(cut_rows)
            A, lo, hi = vstack([A0, C]).tocsr(), lo0 + [-np.inf] * len(cut_ub), hi0 + cut_ub
        with _quiet_stdout():
            return milp(obj, integrality=integ, bounds=bounds, constraints=LinearConstraint(A, lo, hi),
                        options={"time_limit": left, "mip_rel_gap": 1e-6, "presolve": True})

    classes = [c for c in range(net.out_dim) if c != label] if classes is None else classes
    worst = np.inf
    for c in classes:
        obj = np.zeros(n)
        obj[out[label]] += 1.0
        obj[out[c]] -= 1.0
        for _ in range(max_cuts + 1):
            left = time_limit - (time.perf_counter() - t0)
            if left <= 0:
                return MilpOutcome("unknown", None, None, nbin, time.perf_counter() - t0, "time limit"), False
            res: Any = solve(obj, left)
            if res.x is None or res.fun is None or res.fun > proof_margin:
                break
            zraw = np.asarray(res.x[xin], np.float64)
            dist = float(np.linalg.norm(zraw - x))
            if norm == "2" and dist > r * (1 + 1e-9):
                # Kelley cut: the tangent half-space of the L2 ball facing the solution; every point
                # of the ball satisfies v·(z - x) <= |v| r (margins cover the float rounding)
                v = (zraw - x) / dist
                slack = r * float(np.linalg.norm(v)) * (1 + 1e-12) + 1e-12 * float(np.abs(v) @ np.abs(x))
                cut_rows.append(v)
                cut_ub.append(float(v @ x) + slack)
                continue
            z = _pull_inside(zraw, x, r, norm)
            if z is not None:
                ok, cls = confirm(net, z[None, :], np.array([label]))
                hit = (z, int(cls[0])) if ok[0] else polish(net, z, x, label, r, norm)
                if hit is not None:
                    z, cl = hit
                    mrg = float(net(z[None, :])[0, label] - net(z[None, :])[0, cl])
                    ce = Counterexample(-1, z, int(label), cl, mrg, "milp")
                    return MilpOutcome("refuted", None, ce, nbin, time.perf_counter() - t0), False
            break
        dual = getattr(res, "mip_dual_bound", None)
        if res.status == 0 and res.fun is not None:
            dual = res.fun if dual is None else dual
        if dual is None or not np.isfinite(dual) or dual <= proof_margin:
            why = res.message if res.status != 0 else f"optimum {res.fun:.3g} not confirmed by replay"
            if norm == "2" and res.status == 0 and res.fun is not None and res.fun <= proof_margin:
                why = f"L2 cutting planes: {len(cut_rows)} cuts, optimum {res.fun:.3g} unresolved"
            return MilpOutcome("unknown", None, None, nbin, time.perf_counter() - t0, why), res.status == 4
        worst = min(worst, float(dual))
    if rounded:
        return MilpOutcome("unknown", None, None, nbin, time.perf_counter() - t0,
                           "no counterexample, but exact-rational weights were rounded for the "
                           "solver, so this is not a proof"), False
    # HiGHS's answer is only a float computation with tolerances: re-derive it exactly
    from memcap.certify.robust.exact import exact_margin_proof, valid_l2_cuts

    lo_box, hi_box = np.nextafter(x - r, -np.inf), np.nextafter(x + r, np.inf)
    l1 = None if norm == "inf" else (x, float(np.nextafter(r if norm == "1" else r * np.sqrt(len(x))
                                                         * (1 + 1e-12), np.inf)))
    left = max(time_limit - (time.perf_counter() - t0), 0.25 * time_limit)
    cuts = valid_l2_cuts(x, r, list(zip(cut_rows, cut_ub, strict=True))) if norm == "2" else None
    ex = exact_margin_proof(ops, lo_box, hi_box, zb, label, classes, need=0.0, l1=l1, time_limit=left,
                            cuts=cuts)
    if ex.status != "proven":
        return MilpOutcome("unknown", None, None, nbin, time.perf_counter() - t0,
                           f"HiGHS found no counterexample (dual bound {worst:.3g}) but the exact re-check "
                           f"did not confirm it: {ex.detail}"), False
    return MilpOutcome("proven", worst, None, nbin, time.perf_counter() - t0,
                       f"re-checked exactly: {ex.nodes} nodes, exact lower bound {ex.bound:.6g}"), False
