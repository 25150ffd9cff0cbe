"""The exact tier: proofs of robustness whose every step is checked in exact rational arithmetic.

HiGHS (:mod:`.milp`) works in floating point with tolerances, so its "optimal value > 0" is not a
proof. This module re-derives the claim with a branch and bound of its own over the ReLU phases,
where the bound at every node is *verified exactly*:

* the model is the big-M encoding of a dense network (ReLU-like, hard-tanh or identity activations)
  over an input box (optionally cut by an L1 ball: the outer polytope of an L1 or L2 ball, and by
  tangent half-spaces of an L2 ball whose validity is checked exactly), every
  pre-activation row ``b_j - ε_j <= z_j - W_j a <= b_j + ε_j`` (``ε`` the float rounding noise of
  a float model, :mod:`.floatmodel`, or 0 for the exact network), with the rows' coefficients and
  right-hand sides kept as exact rationals (float weights are dyadic rationals);
* at a node (some ReLU phases fixed) HiGHS solves the LP relaxation and returns row multipliers μ;
  *any* μ with the right signs gives the weak-duality bound
  ``c·x >= μ·b + Σ_j min(r_j l_j, r_j u_j)``, ``r = c - Aᵀμ``, over the node's box ``l <= x <= u``.
  It is evaluated in exact rationals (python-flint ``fmpq``), so the float multipliers are only a
  guess and the bound is a theorem (Neumaier & Shcherbina 2004's safe bound, done exactly);
* an infeasible node LP is re-solved with elastic rows (penalised slacks), whose multipliers prove a
  bound on the original rows all the same;
* a node is closed when its exact bound exceeds ``need``; otherwise it branches on the unstable
  neuron the LP relaxes most. The claim holds when every leaf is closed. Anything else (node or
  time budget, a candidate point the caller must confirm) is "unknown" — never "proven".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import flint
import numpy as np

from memcap.certify.robust.bounds import Op

__all__ = ["ExactResult", "exact_margin_proof", "exact_lp_bound", "fq", "valid_l2_cuts"]


def _f(q: flint.fmpq) -> float:
    """The rational ``q`` rounded to a float (Python's correctly rounded integer division)."""
    return int(q.p) / int(q.q)


def fq(v: float) -> flint.fmpq:
    """The float ``v`` as an exact rational."""
    n, d = float(v).as_integer_ratio()
    return flint.fmpq(n, d)


@dataclass
class _LP:
    """Rows ``A x (<= | ==) rhs``: ``A`` as (row, col, exact value) triples; ``kind`` 'ub' or 'eq'."""

    lb: list[flint.fmpq] = field(default_factory=list)
    ub: list[flint.fmpq] = field(default_factory=list)
    entries: list[list[tuple[int, flint.fmpq]]] = field(default_factory=list)
    rhs: list[flint.fmpq] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    binaries: list[tuple[int, int]] = field(default_factory=list)  # (d var, layer-neuron id)
    relu: dict[int, tuple[int, int, float, float, float]] = field(default_factory=dict)
    # d var -> (z var, a var, s+, s-, shift): a = relu_like(z + shift)

    def var(self, lo: Any, hi: Any) -> int:
        self.lb.append(lo if isinstance(lo, flint.fmpq) else fq(lo))
        self.ub.append(hi if isinstance(hi, flint.fmpq) else fq(hi))
        return len(self.lb) - 1

    def row(self, coef: list[tuple[int, flint.fmpq]], kind: str, rhs: flint.fmpq) -> None:
        self.entries.append(coef)
        self.kind.append(kind)
        self.rhs.append(rhs)

    def range_row(self, coef: list[tuple[int, flint.fmpq]], lo: flint.fmpq, hi: flint.fmpq) -> None:
        if lo == hi:
            self.row(coef, "eq", lo)
            return
        self.row(coef, "ub", hi)
        self.row([(j, -v) for j, v in coef], "ub", -lo)


def valid_l2_cuts(x: np.ndarray, r: float, cuts: list[tuple[np.ndarray, float]]
                  ) -> list[tuple[np.ndarray, float]]:
    """The cuts ``v·z <= u`` that hold on the whole L2 ball B(x, r), checked exactly:
    ``max_ball v·z = v·x + ||v|| r``, so valid iff ``u - v·x >= 0`` and ``(u - v·x)² >= ||v||² r²``."""
    out = []
    R = fq(r)
    for v, u in cuts:
        gap = fq(u) - sum((fq(a) * fq(b) for a, b in zip(v, x, strict=True)), flint.fmpq(0))
        vv = sum((fq(a) * fq(a) for a in v), flint.fmpq(0))
        if gap >= 0 and gap * gap >= vv * R * R:
            out.append((v, u))
    return out


def _build(ops: list[Op], lo: np.ndarray, hi: np.ndarray, zb: list[tuple[np.ndarray, np.ndarray]],
           l1: tuple[np.ndarray, float] | None, cuts: list[tuple[np.ndarray, float]] | None = None
           ) -> tuple[_LP, list[int]]:
    lp = _LP()
    xin = [lp.var(a, b) for a, b in zip(lo, hi, strict=True)]
    for v, u in cuts or []:
        lp.row([(xin[j], fq(v[j])) for j in np.flatnonzero(v)], "ub", fq(u))
    if l1 is not None:
        x0, R = l1
        s = [lp.var(flint.fmpq(0), fq(b) - fq(a)) for a, b in zip(lo, hi, strict=True)]
        one = flint.fmpq(1)
        for j in range(len(xin)):
            lp.row([(xin[j], one), (s[j], -one)], "ub", fq(x0[j]))       # z - x0 <= s
            lp.row([(xin[j], -one), (s[j], -one)], "ub", -fq(x0[j]))     # x0 - z <= s
        lp.row([(sj, one) for sj in s], "ub", fq(R))
    acts: list[int | None] = list(xin)   # None: the activation is exactly 0
    one = flint.fmpq(1)
    for k, op in enumerate(ops):
        zl, zu = zb[k]
        W = op.W
        eps = np.zeros(W.shape[0]) if op.br is None else np.asarray(op.br, np.float64)
        new: list[int | None] = []
        for j in range(W.shape[0]):
            z = lp.var(zl[j], zu[j])
            coef = [(z, one)]
            for i in np.flatnonzero(W[j]):
                a = acts[i]
                if a is not None:
                    coef.append((a, -fq(W[j, i])))
            b, e = fq(op.b[j]), fq(eps[j])
            lp.range_row(coef, b - e, b + e)
            L, U = fq(zl[j]), fq(zu[j])
            act = op.act
            if act.kind == "identity":
                new.append(z)
            elif act.kind == "relu_like":
                new.append(_relu_like(lp, z, L, U, _q(act.s_plus), _q(act.s_minus), flint.fmpq(0)))
            else:  # hard-tanh: clip(t, -1, 1) = -1 + relu(t + 1) - relu(t - 1)
                r1 = _relu_like(lp, z, L + 1, U + 1, one, flint.fmpq(0), one)
                r2 = _relu_like(lp, z, L - 1, U - 1, one, flint.fmpq(0), -one)
                lo_v = max(min(L, one), -one)
                hi_v = max(min(U, one), -one)
                v = lp.var(lo_v, hi_v)
                row = [(v, one)] + ([(r1, -one)] if r1 is not None else []) \
                    + ([(r2, one)] if r2 is not None else [])
                lp.row(row, "eq", -one)
                new.append(v)
        acts = new
    return lp, [a if a is not None else -1 for a in acts]


def _q(v: Any) -> flint.fmpq:
    from fractions import Fraction

    f = Fraction(v)
    return flint.fmpq(f.numerator, f.denominator)


def _relu_like(lp: _LP, z: int, L: flint.fmpq, U: flint.fmpq, sp: flint.fmpq, sm: flint.fmpq,
               shift: flint.fmpq) -> int | None:
    """A variable equal to relu_like(z + shift) (slopes s+ > s- >= 0) for z + shift in [L, U];
    None when it is identically 0."""
    one = flint.fmpq(1)
    if L >= 0 or U <= 0:
        s = sp if L >= 0 else sm
        if s == 0:
            return None
        if s == 1 and shift == 0:
            return z
        a = lp.var(min(s * L, s * U), max(s * L, s * U))
        lp.row([(a, one), (z, -s)], "eq", s * shift)
        return a
    g = sp - sm
    a = lp.var(min(sm * L, flint.fmpq(0)), sp * U)
    d = lp.var(flint.fmpq(0), one)
    lp.row([(z, sp), (a, -one)], "ub", -sp * shift)                       # a >= s+ (z + shift)
    if sm != 0:
        lp.row([(z, sm), (a, -one)], "ub", -sm * shift)                   # a >= s- (z + shift)
    lp.row([(a, one), (z, -sp), (d, -g * L)], "ub", sp * shift - g * L)   # a <= s+ (.) - g L (1 - d)
    lp.row([(a, one), (z, -sm), (d, -g * U)], "ub", sm * shift)           # a <= s- (.) + g U d
    lp.binaries.append((d, len(lp.binaries)))
    lp.relu[d] = (z, a, _f(sp), _f(sm), _f(shift))
    return a


def exact_lp_bound(lp: _LP, c: dict[int, flint.fmpq], mu: np.ndarray, lb: list[flint.fmpq],
                   ub: list[flint.fmpq]) -> flint.fmpq:
    """The weak-duality bound ``μ·rhs + Σ_j min(r_j lb_j, r_j ub_j)``, ``r = c - Aᵀμ``, in exact
    rationals, for the float multipliers ``mu`` (signs cleaned: ``μ <= 0`` on '<=' rows)."""
    r: dict[int, flint.fmpq] = dict(c)
    total = flint.fmpq(0)
    for i, m in enumerate(mu):
        if m == 0 or not np.isfinite(m) or (lp.kind[i] == "ub" and m > 0):
            continue
        q = fq(m)
        total += q * lp.rhs[i]
        for j, v in lp.entries[i]:
            r[j] = r.get(j, flint.fmpq(0)) - q * v
    for j, rj in r.items():
        if rj != 0:
            total += rj * (lb[j] if rj > 0 else ub[j])
    return total


def _scipy_parts(lp: _LP) -> tuple[Any, np.ndarray, Any, np.ndarray, list[int], list[int]]:
    from scipy.sparse import coo_matrix

    n = len(lp.lb)
    ub_rows = [i for i, k in enumerate(lp.kind) if k == "ub"]
    eq_rows = [i for i, k in enumerate(lp.kind) if k == "eq"]

    def mat(rows: list[int]) -> Any:
        rr, cc, vv = [], [], []
        for t, i in enumerate(rows):
            for j, v in lp.entries[i]:
                rr.append(t)
                cc.append(j)
                vv.append(_f(v))
        return coo_matrix((vv, (rr, cc)), shape=(len(rows), n)).tocsr()

    def vec(rows: list[int]) -> np.ndarray:
        return np.array([_f(lp.rhs[i]) for i in rows])

    return mat(ub_rows), vec(ub_rows), mat(eq_rows), vec(eq_rows), ub_rows, eq_rows


class _NodeSolver:
    """The LP relaxation at a node (binaries fixed by bounds): one HiGHS model (highspy) re-solved
    with a warm start from node to node; scipy's HiGHS (cold starts) when highspy is missing."""

    def __init__(self, lp: _LP) -> None:
        self.A_ub, self.b_ub, self.A_eq, self.b_eq, self.ub_rows, self.eq_rows = _scipy_parts(lp)
        self.m = len(lp.kind)
        self.lb = np.array([_f(v) for v in lp.lb])
        self.ub = np.array([_f(v) for v in lp.ub])
        self.h: Any = None
        try:
            import highspy
        except ImportError:
            return
        from scipy.sparse import vstack

        A = vstack([self.A_ub, self.A_eq]).tocsc()
        model = highspy.HighsLp()
        model.num_col_, model.num_row_ = A.shape[1], A.shape[0]
        model.col_cost_ = np.zeros(A.shape[1])
        model.col_lower_, model.col_upper_ = self.lb, self.ub
        model.row_lower_ = np.concatenate([np.full(len(self.b_ub), -highspy.kHighsInf), self.b_eq])
        model.row_upper_ = np.concatenate([self.b_ub, self.b_eq])
        model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        model.a_matrix_.start_ = A.indptr
        model.a_matrix_.index_ = A.indices
        model.a_matrix_.value_ = A.data
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.passModel(model)
        self.h, self.hs = h, highspy
        self.order = np.array(self.ub_rows + self.eq_rows, dtype=int)

    def solve(self, cost: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[str, Any, np.ndarray | None,
                                                                               float | None]:
        """(status 'optimal' | 'infeasible' | other, x, row multipliers in _LP order, objective)."""
        if self.h is None:
            from scipy.optimize import linprog

            res = linprog(cost, A_ub=self.A_ub, b_ub=self.b_ub, A_eq=self.A_eq, b_eq=self.b_eq,
                          bounds=np.column_stack([lo, hi]), method="highs")
            if res.status == 0:
                mu = np.zeros(self.m)
                mu[self.ub_rows] = res.ineqlin.marginals
                mu[self.eq_rows] = res.eqlin.marginals
                return "optimal", res.x, mu, float(res.fun)
            return ("infeasible" if res.status == 2 else res.message), None, None, None
        h, hs = self.h, self.hs
        n = len(cost)
        idx = np.arange(n, dtype=np.int32)
        h.changeColsCost(n, idx, cost)
        h.changeColsBounds(n, idx, lo, hi)
        h.run()
        st = h.getModelStatus()
        if st == hs.HighsModelStatus.kOptimal:
            sol = h.getSolution()
            mu = np.zeros(self.m)
            mu[self.order] = np.asarray(sol.row_dual)
            return "optimal", np.asarray(sol.col_value), mu, float(h.getInfo().objective_function_value)
        if st == hs.HighsModelStatus.kInfeasible:
            _, has, ray = h.getDualRay()
            if has:
                mu = np.zeros(self.m)
                mu[self.order] = np.asarray(ray)
                return "infeasible", None, mu, None
            return "infeasible", None, None, None
        return h.modelStatusToString(st), None, None, None


@dataclass
class ExactResult:
    status: str                        # "proven" | "unknown"
    bound: float | None                # proven: the smallest exact leaf bound (as a float, rounded down)
    nodes: int
    seconds: float
    detail: str = ""
    candidate: np.ndarray | None = None   # an LP optimum that is a genuine ReLU point (to confirm)


def _fl_down(q: flint.fmpq) -> float:
    f = _f(q)
    return float(np.nextafter(f, -np.inf)) if fq(f) > q else f


def exact_margin_proof(ops: list[Op], lo: np.ndarray, hi: np.ndarray,
                       zb: list[tuple[np.ndarray, np.ndarray]], label: int, classes: list[int],
                       need: float = 0.0, l1: tuple[np.ndarray, float] | None = None,
                       time_limit: float = 30.0, max_nodes: int = 400,
                       cuts: list[tuple[np.ndarray, float]] | None = None) -> ExactResult:
    """Prove ``Y_label - Y_c > need`` for every c in ``classes`` and every input in the box
    ``[lo, hi]`` (∩ the L1 ball ``l1 = (centre, R)`` if given), for every network the model admits
    (``ops``: dense, ReLU or identity, float weights; their ``br`` is the rounding noise), with
    exactly checked bounds (see the module docstring). ``cuts`` are extra rows ``v·x <= u`` on the
    input that the caller has proven valid (e.g. :func:`valid_l2_cuts`).

    Long: a branch and bound whose node loop shares the LP state, the incumbent and the exact bound.
    """
    t0 = time.perf_counter()
    for k, op in enumerate(ops):
        if op.kind != "dense":
            return ExactResult("unknown", None, 0, 0.0, f"layer {k} is a residual block: no exact tier")
        if op.act.kind not in ("identity", "relu_like", "hardtanh"):
            return ExactResult("unknown", None, 0, 0.0,
                               f"layer {k}: activation {op.act.name} has no exact tier")
        if (op.Wr is not None and np.any(op.Wr)) or op.Vr is not None:
            return ExactResult("unknown", None, 0, 0.0,
                               "exact-rational weights were rounded to floats: the exact tier needs "
                               "float weights")
    lp, out = _build(ops, np.asarray(lo, np.float64), np.asarray(hi, np.float64), zb, l1, cuts)
    if out[label] < 0 or any(out[c] < 0 for c in classes):
        return ExactResult("unknown", None, 0, 0.0, "an output is identically zero after ReLU")
    solver = _NodeSolver(lp)
    n = len(lp.lb)
    lbf, ubf = solver.lb, solver.ub
    need_q = fq(need)
    nodes = 0
    worst: flint.fmpq | None = None
    for cls in classes:
        c = {out[label]: flint.fmpq(1), out[cls]: flint.fmpq(-1)}
        cf = np.zeros(n)
        cf[out[label]] += 1.0
        cf[out[cls]] -= 1.0
        stack: list[dict[int, int]] = [{}]
        while stack:
            fixed = stack.pop()
            nodes += 1
            if nodes > max_nodes:
                return ExactResult("unknown", None, nodes, time.perf_counter() - t0,
                                   f"exact branch and bound: node budget {max_nodes} spent")
            if time.perf_counter() - t0 > time_limit:
                return ExactResult("unknown", None, nodes, time.perf_counter() - t0,
                                   "exact branch and bound: time limit")
            lb, ub = list(lp.lb), list(lp.ub)
            lo_f, hi_f = lbf.copy(), ubf.copy()
            for dv, v in fixed.items():
                lb[dv] = ub[dv] = flint.fmpq(v)
                lo_f[dv] = hi_f[dv] = float(v)
            status, x, mu, fun = solver.solve(cf, lo_f, hi_f)
            if status == "infeasible" and mu is not None:
                # a Farkas ray (either sign convention): a positive exact bound with zero objective
                # proves the node empty
                zero: dict[int, flint.fmpq] = {}
                if any(exact_lp_bound(lp, zero, s * mu, lb, ub) > 0 for s in (1.0, -1.0)):
                    continue
                mu = None
            if status == "infeasible" and mu is None:
                mu = _elastic_multipliers(cf, solver.A_ub, solver.b_ub, solver.A_eq, solver.b_eq, lo_f, hi_f,
                                          solver.ub_rows, solver.eq_rows, solver.m)
                if mu is None:
                    return ExactResult("unknown", None, nodes, time.perf_counter() - t0,
                                       "exact branch and bound: an infeasible node could not be certified")
            elif status != "optimal":
                return ExactResult("unknown", None, nodes, time.perf_counter() - t0, f"LP solver: {status}")
            bound = exact_lp_bound(lp, c, mu, lb, ub)
            if bound > need_q:
                worst = bound if worst is None or bound < worst else worst
                continue
            if status != "optimal":
                return ExactResult("unknown", None, nodes, time.perf_counter() - t0,
                                   "exact bound of an infeasible node not above the threshold")
            best, viol = None, 1e-9
            for dv, (zv, av, sp, sm, sh) in lp.relu.items():
                if dv in fixed:
                    continue
                t = x[zv] + sh
                g = x[av] - (sp * t if t >= 0 else sm * t)
                if g > viol:
                    best, viol = dv, g
            if best is None:
                return ExactResult("unknown", None, nodes, time.perf_counter() - t0,
                                   f"the LP optimum {fun:.3g} is a ReLU point: a candidate "
                                   "counterexample", candidate=np.asarray(x[:len(lo)], np.float64))
            # depth first: the phase the LP leans to last (explored first)
            lean = 1 if x[best] >= 0.5 else 0
            stack.append({**fixed, best: 1 - lean})
            stack.append({**fixed, best: lean})
    return ExactResult("proven", _fl_down(worst) if worst is not None else float("inf"), nodes,
                       time.perf_counter() - t0)


def _elastic_multipliers(cf: np.ndarray, A_ub: Any, b_ub: np.ndarray, A_eq: Any, b_eq: np.ndarray,
                         lo: np.ndarray, hi: np.ndarray, ub_rows: list[int], eq_rows: list[int],
                         m: int, penalty: float = 1e6) -> np.ndarray | None:
    """Multipliers of an infeasible node from its elastic LP (every row gets penalised slack): any
    multipliers give a valid bound on the original rows, and these make it large."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, eye, hstack

    nu, ne = A_ub.shape[0], A_eq.shape[0]
    Au = hstack([A_ub, -eye(nu), csr_matrix((nu, 2 * ne))]).tocsr() if nu else None
    Ae = hstack([A_eq, csr_matrix((ne, nu)), -eye(ne), eye(ne)]).tocsr() if ne else None
    c = np.concatenate([cf, np.full(nu + 2 * ne, penalty)])
    bounds = np.vstack([np.column_stack([lo, hi]), np.column_stack([np.zeros(nu + 2 * ne),
                                                                    np.full(nu + 2 * ne, np.inf)])])
    res = linprog(c, A_ub=Au, b_ub=b_ub if nu else None, A_eq=Ae, b_eq=b_eq if ne else None,
                  bounds=bounds, method="highs")
    if res.status != 0:
        return None
    mu = np.zeros(m)
    if nu:
        mu[ub_rows] = res.ineqlin.marginals
    if ne:
        mu[eq_rows] = res.eqlin.marginals
    return mu
