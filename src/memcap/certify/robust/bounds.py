"""Tier 2 of robustness verification: sound bounds (interval bound propagation and CROWN).

For every point ``x_i`` and ball ``B_p(x_i, r)`` (p = inf, 2 or 1) this module computes certified
lower bounds on the margins ``f_y(z) - f_c(z)`` (c != y) over the whole ball. A point is *proven*
robust when every lower bound is > 0 (a tie counts as wrong).

* **IBP**: boxes layer by layer (centre-radius form; the first layer uses the exact image of the
  ball, ``W x_i + b ± r ||W_j||_q`` with q the dual norm).
* **CROWN** (Zhang et al. 2018): linear lower/upper relaxations of every activation on its
  pre-activation interval, back-substituted to the input ball. Intermediate pre-activation bounds
  are IBP, tightened by CROWN back-substitution through at most ``window`` layers (then
  concretized on the IBP box there). Relaxation slopes are chosen as in CROWN (chord above a
  convex piece, adaptive 0/1-type slope below); the intercepts are computed for the chosen slope as
  the min/max of ``act(t) - slope·t`` over the interval's end points and breakpoints, so every
  relaxation is valid for ReLU-like, hard-tanh and identity activations alike.

Floating point: every step is sound for the exact network with its stored weights, by the margins
of :mod:`memcap.certify.robust.floatbound` (``np.nextafter`` for single operations, Higham's a-priori
bound for dot products, rounding errors of the back-substituted coefficients charged to the
constant through IBP magnitude bounds). Exact-rational weights are float intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memcap.certify.robust.floatbound import (
    U64,
    Lin,
    add_lo,
    dot_lower,
    down,
    dual_norm_upper,
    fraction_interval,
    mm,
    mm_upper,
    mul_interval,
    up,
    weight_interval,
)
from memcap.network import Activation, Dense, Network

__all__ = ["Op", "prepare", "BoundsResult", "bound_margins", "ibp", "act_bounds"]


@dataclass
class Op:
    """One layer as float intervals: ``kind`` "dense" (W, b) or "res" (W=U, b; V, c)."""

    kind: str
    W: np.ndarray
    Wr: np.ndarray | None
    b: np.ndarray
    br: np.ndarray | None
    act: Activation
    V: np.ndarray | None = None
    Vr: np.ndarray | None = None
    c: np.ndarray | None = None
    cr: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.Wl = Lin(self.W)
        self.Vl = Lin(self.V) if self.V is not None else None


def prepare(net: Network) -> list[Op]:
    ops: list[Op] = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            ops.append(Op("dense", *weight_interval(layer.weight), *weight_interval(layer.bias),
                          layer.activation))
        else:
            ops.append(Op("res", *weight_interval(layer.U), *weight_interval(layer.b), layer.activation,
                          *weight_interval(layer.V), *weight_interval(layer.c)))
    return ops


# ---- activations on intervals ------------------------------------------------------------------
def _scale(s: Any, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = fraction_interval(s)
    if lo == hi and lo in (0.0, 1.0):
        v = t * lo + 0.0
        return v, v
    return mul_interval(lo, hi, t)


def act_bounds(t: np.ndarray, act: Activation) -> tuple[np.ndarray, np.ndarray]:
    """Rigorous ``[lo, hi]`` containing ``act(t)`` for float ``t``."""
    if act.kind == "identity":
        return t, t
    if act.kind == "hardtanh":
        v = np.clip(t, -1.0, 1.0)
        return v, v
    pl, ph = _scale(act.s_plus, t)
    ml, mh = _scale(act.s_minus, t)
    pos = t >= 0
    return np.where(pos, pl, ml), np.where(pos, ph, mh)


def act_box(lo: np.ndarray, hi: np.ndarray, act: Activation) -> tuple[np.ndarray, np.ndarray]:
    """Every activation here is nondecreasing."""
    return act_bounds(lo, act)[0], act_bounds(hi, act)[1]


def _breakpoints(act: Activation) -> tuple[float, ...]:
    return {"relu_like": (0.0,), "hardtanh": (-1.0, 1.0), "identity": ()}[act.kind]


def relax(lo: np.ndarray, hi: np.ndarray, act: Activation
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Slopes and intercepts with ``aL t + bL <= act(t) <= aU t + bU`` for all t in [lo, hi]."""
    width = hi - lo
    hl, hu = act_bounds(lo, act)[0], act_bounds(hi, act)[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        chord = np.where(width > 0, (hu - hl) / np.where(width > 0, width, 1.0), 0.0)
    if act.kind == "relu_like":
        sp, sm = float(act.s_plus), float(act.s_minus)
        adapt = np.where(hi >= -lo, sp, sm)
        aL = np.where(lo >= 0, sp, np.where(hi <= 0, sm, adapt))
        aU = np.where(lo >= 0, sp, np.where(hi <= 0, sm, chord))
    else:  # hard-tanh: convex on (-inf, 1], concave on [-1, inf)
        flat = (hi <= -1) | (lo >= 1)
        lin = (lo >= -1) & (hi <= 1)
        convex = (lo < -1) & (hi <= 1)
        concave = (lo >= -1) & (hi > 1)
        adapt_lo = np.where(hi + 1 >= -1 - lo, 1.0, 0.0)
        adapt_hi = np.where(1 - lo >= hi - 1, 1.0, 0.0)
        aL = np.select([flat, lin, convex, concave], [0.0, 1.0, adapt_lo, chord], chord)
        aU = np.select([flat, lin, convex, concave], [0.0, 1.0, chord, adapt_hi], chord)
    cands = [lo, hi] + [np.clip(np.full_like(lo, p), lo, hi) for p in _breakpoints(act)]
    bL = np.full_like(lo, np.inf)
    bU = np.full_like(lo, -np.inf)
    for p in cands:
        h_lo, h_hi = act_bounds(p, act)
        bL = np.minimum(bL, down(h_lo - up(aL * p)))
        bU = np.maximum(bU, up(h_hi - down(aU * p)))
    return aL, bL, aU, bU


# ---- IBP ---------------------------------------------------------------------------------------
def _affine_box(lo: np.ndarray, hi: np.ndarray, W: Lin, Wr: np.ndarray | None, b: np.ndarray,
                br: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    c = (lo + hi) / 2
    rad = np.maximum(up(hi - c), up(c - lo))
    return _affine_ball(c, rad, None, W, Wr, b, br)


def _affine_ball(c: np.ndarray, rad: Any, norm: str | None, W: Lin, Wr: np.ndarray | None,
                 b: np.ndarray, br: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Box around ``{W x + b : x in ball}``; ``norm`` None means the box ``c ± rad`` (vector)."""
    ones = np.ones(c.shape[:-1] + (1,))
    zc, E = W.right_err(c, b)
    if norm is None:
        R = W.right_abs_upper(rad)
    else:
        R = up(rad * dual_norm_upper(W.W, norm))[None, :] * ones
    if Wr is not None:
        mag = np.abs(c) + (rad if norm is None else rad)
        R = up(R + mm_upper(up(mag), Wr.T) + (br if br is not None else 0.0))
    R = up(R + E)
    return down(zc - R), up(zc + R)


@dataclass
class NodeBounds:
    z: tuple[np.ndarray, np.ndarray]          # pre-activation box
    a: tuple[np.ndarray, np.ndarray]          # post-activation box (hidden act for "res")
    h: tuple[np.ndarray, np.ndarray] | None   # block output box (res only)

    @property
    def out(self) -> tuple[np.ndarray, np.ndarray]:
        return self.h if self.h is not None else self.a


def _mag(box: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return np.maximum(np.abs(box[0]), np.abs(box[1]))


class _Prop:
    """Bounds of every node for a batch of balls B_norm(X[k], r)."""

    def __init__(self, ops: list[Op], X: np.ndarray, r: float, norm: str, window: int) -> None:
        self.ops, self.X, self.r, self.norm, self.window = ops, X, r, norm, window
        self.in_mag = up(np.abs(X) + r)
        self.nodes: list[NodeBounds] = []

    def input_box(self) -> tuple[np.ndarray, np.ndarray]:
        return down(self.X - self.r), up(self.X + self.r)

    def _first_z(self, op: Op) -> tuple[np.ndarray, np.ndarray]:
        return _affine_ball(self.X, self.r, self.norm, op.Wl, op.Wr, op.b, op.br)

    def run(self, crown: bool) -> None:
        for k, op in enumerate(self.ops):
            if k == 0:
                z = self._first_z(op)
            else:
                z = _affine_box(*self.nodes[-1].out, op.Wl, op.Wr, op.b, op.br)
            if crown and k > 0 and op.act.kind != "identity":
                z = self._refine(k, z)
            a = act_box(*z, op.act)
            h = None
            if op.kind == "res":
                prev = self.nodes[-1].out if k else self.input_box()
                vlo, vhi = _affine_box(*a, op.Vl, op.Vr, op.c, op.cr)
                h = (down(prev[0] + vlo), up(prev[1] + vhi))
            self.nodes.append(NodeBounds(z, a, h))

    def _refine(self, k: int, z: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = z
        bps = _breakpoints(self.ops[k].act)
        loose = np.zeros(lo.shape[-1], dtype=bool)
        for p in bps:
            loose |= np.any((lo < p) & (hi > p), axis=0)
        idx = np.flatnonzero(loose)
        if not len(idx):
            return z
        m = lo.shape[-1]
        P = lo.shape[0]
        C = np.zeros((P, 2 * len(idx), m))
        C[:, np.arange(len(idx)), idx] = 1.0
        C[:, len(idx) + np.arange(len(idx)), idx] = -1.0
        low = self.backsub(C, k, start_pre=True)
        lo, hi = lo.copy(), hi.copy()
        lo[:, idx] = np.maximum(lo[:, idx], low[:, :len(idx)])
        hi[:, idx] = np.minimum(hi[:, idx], -low[:, len(idx):])
        return lo, hi

    # ---- back-substitution ---------------------------------------------------------------------
    def backsub(self, C: np.ndarray, k: int, start_pre: bool, window: int | None = None) -> np.ndarray:
        """Certified lower bound of ``C · node`` (node = pre-activation of layer k if start_pre,
        else the output of layer k), back-substituting ``window`` layers (None: to the input)."""
        lam = C
        const = np.zeros(C.shape[:2])
        steps = 0
        limit = self.window if window is None and start_pre else window
        j = k
        pre = start_pre
        while True:
            op = self.ops[j]
            if op.kind == "dense":
                if not pre:
                    lam, const = self._relax_back(lam, const, j)
                lam, const = self._affine_back(lam, const, op.Wl, op.Wr, op.b, op.br, self._in_mag(j))
            else:
                if pre:
                    lam, const = self._affine_back(lam, const, op.Wl, op.Wr, op.b, op.br, self._in_mag(j))
                else:
                    la, const = self._affine_back(lam, const, op.Vl, op.Vr, op.c, op.cr,
                                                  _mag(self.nodes[j].a))
                    la, const = self._relax_back(la, const, j)
                    lz, const = self._affine_back(la, const, op.Wl, op.Wr, op.b, op.br, self._in_mag(j))
                    new = lam + lz
                    err = mm_upper(up(U64 * np.abs(new)), self._in_mag(j)[..., None])[..., 0]
                    lam, const = new, down(const - err)
            pre = False
            steps += 1
            if j == 0:
                return self._concretize_ball(lam, const)
            j -= 1
            if limit is not None and steps >= limit:
                return self._concretize_box(lam, const, self.nodes[j].out)

    def _in_mag(self, j: int) -> np.ndarray:
        return self.in_mag if j == 0 else _mag(self.nodes[j - 1].out)

    def _relax_back(self, lam: np.ndarray, const: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
        act = self.ops[j].act
        if act.kind == "identity":
            return lam, const
        zl, zu = self.nodes[j].z
        aL, bL, aU, bU = relax(zl, zu, act)
        pos = lam >= 0
        slope = np.where(pos, aL[:, None, :], aU[:, None, :])
        icpt = np.where(pos, bL[:, None, :], bU[:, None, :])
        new = lam * slope
        zmag = _mag(self.nodes[j].z)
        err = mm_upper(up(2 * U64 * np.abs(new) + 2.0**-1074), zmag[..., None])[..., 0]
        const = down(add_lo(const, dot_lower(lam, icpt)) - err)
        return new, const

    @staticmethod
    def _affine_back(lam: np.ndarray, const: np.ndarray, W: Lin, Wr: np.ndarray | None,
                     b: np.ndarray, br: np.ndarray | None, amag: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        G, E = W.left_err(lam)
        err = mm_upper(E, amag[..., None])[..., 0]
        cb, Eb = mm(lam, b[:, None])
        c_new = add_lo(const, down(cb[..., 0] - Eb[..., 0]))
        if Wr is not None:
            alam = np.abs(lam)
            err = up(err + mm_upper(mm_upper(alam, Wr), amag[..., None])[..., 0])
            if br is not None:
                err = up(err + mm_upper(alam, br[:, None])[..., 0])
        return G, down(c_new - err)

    def _concretize_ball(self, lam: np.ndarray, const: np.ndarray) -> np.ndarray:
        v, E = mm(lam, self.X[..., None])
        lin = down(v[..., 0] - E[..., 0])
        pen = up(self.r * dual_norm_upper(lam, self.norm))
        return down(add_lo(lin, const) - pen)

    @staticmethod
    def _concretize_box(lam: np.ndarray, const: np.ndarray, box: tuple[np.ndarray, np.ndarray]
                        ) -> np.ndarray:
        lo, hi = box
        c = (lo + hi) / 2
        rad = np.maximum(up(hi - c), up(c - lo))
        v, E = mm(lam, c[..., None])
        pen = mm_upper(np.abs(lam), rad[..., None])[..., 0]
        return down(add_lo(down(v[..., 0] - E[..., 0]), const) - pen)


def _spec(labels: np.ndarray, d_out: int) -> np.ndarray:
    """Rows e_y - e_c for every c != y: shape (P, d_out - 1, d_out)."""
    P = len(labels)
    C = np.zeros((P, d_out - 1, d_out))
    for i, y in enumerate(labels):
        others = [c for c in range(d_out) if c != y]
        C[i, np.arange(d_out - 1), others] = -1.0
        C[i, :, y] = 1.0
    return C


@dataclass
class BoundsResult:
    """Per point: certified lower bounds on the worst margin over the ball, by IBP and CROWN."""

    ibp: np.ndarray
    crown: np.ndarray | None
    per_class: np.ndarray            # (P, d_out): best certified lower bound on f_y - f_c; +inf at y
    z_bounds: list[list[tuple[np.ndarray, np.ndarray]]]   # per point, per layer: (l, u) pre-activation


def ibp(net: Network, X: np.ndarray, r: float, norm: str) -> list[NodeBounds]:
    prop = _Prop(prepare(net), np.asarray(X, np.float64), float(r), norm, 0)
    prop.run(crown=False)
    return prop.nodes


def bound_margins(net: Network, X: np.ndarray, labels: np.ndarray, r: float, norm: str,
                  crown: bool | str = True, window: int = 12, batch: int = 64, crown_batch: int = 8,
                  ops: list[Op] | None = None) -> BoundsResult:
    """Certified lower bounds on ``min_{z in B(x_i, r)} f_y(z) - max_{c != y} f_c(z)``.

    ``crown``: True (CROWN on every point), "auto" (only where IBP does not prove the point; the
    others get ``-inf`` in ``crown``) or False. ``z_bounds`` are CROWN-tightened where CROWN ran.
    ``ops`` replaces ``prepare(net)`` (e.g. a float model's layers with its rounding noise as an
    interval bias, :mod:`memcap.certify.robust.floatmodel`)."""
    X = np.asarray(X, np.float64)
    ops = prepare(net) if ops is None else ops
    d_out = net.out_dim
    ibp_lo, crown_lo, zb, per = [], [], [], []
    for s in range(0, len(X), batch):
        Xb, yb = X[s:s + batch], np.asarray(labels[s:s + batch])
        base = _Prop(ops, Xb, float(r), norm, window)
        base.run(crown=False)
        lo, hi = base.nodes[-1].out
        rows = np.arange(len(Xb))
        if d_out == 1:
            ibp_lo.append(np.full(len(Xb), np.inf))
            crown_lo.append(np.full(len(Xb), np.inf))
            per.append(np.full((len(Xb), 1), np.inf))
            zb.extend([[(n.z[0][i], n.z[1][i]) for n in base.nodes] for i in rows])
            continue
        others = hi.copy()
        others[rows, yb] = -np.inf
        pc = down(lo[rows, yb][:, None] - others)
        pc[rows, yb] = np.inf
        ibp_lo.append(pc.min(axis=1))
        todo = np.flatnonzero(pc.min(axis=1) <= 0) if crown == "auto" else rows
        crown_b = np.full(len(Xb), -np.inf)
        refined: dict[int, tuple[_Prop, int]] = {}
        # small CROWN batches: the intermediate refinement works on the union of the batch's
        # unstable neurons, which grows quickly with the batch on deep networks
        for s2 in range(0, len(todo) if crown else 0, crown_batch):
            part = todo[s2:s2 + crown_batch]
            prop = _Prop(ops, Xb[part], float(r), norm, window)
            prop.run(crown=True)
            low = prop.backsub(_spec(yb[part], d_out), len(ops) - 1, start_pre=False)
            crown_b[part] = low.min(axis=1)
            cols = np.array([[c for c in range(d_out) if c != y] for y in yb[part]])
            pc[part[:, None], cols] = np.maximum(pc[part[:, None], cols], low)
            refined.update({int(i): (prop, k) for k, i in enumerate(part)})
        crown_lo.append(crown_b)
        per.append(pc)
        for i in rows:
            src, k = refined.get(int(i), (base, int(i)))
            zb.append([(n.z[0][k], n.z[1][k]) for n in src.nodes])
    return BoundsResult(np.concatenate(ibp_lo), np.concatenate(crown_lo) if crown else None,
                        np.concatenate(per), zb)
