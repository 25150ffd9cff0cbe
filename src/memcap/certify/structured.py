"""Structure-aware certification of piecewise-linear networks: the activation-pattern sweep.

A network of ``Dense`` layers with piecewise-linear activations (ReLU-like, hard-tanh, identity) is,
on the set of inputs sharing one *activation pattern* (the linear piece every unit is on), one
affine map. If the first layer factors as ``W1 = w ⊗ u`` (a projection on ``u``, as every
project-and-sort construction has; checked exactly, never taken from a hint), every layer's
pre-activation on a pattern is an affine function of the scalar ``θ = u·x``:
``z_l = P_l θ + q_l``. Sorting the points by ``θ`` makes consecutive points share most of the
pattern, so ``(P_l, q_l)`` is updated by a low-rank correction (only the units whose piece changed)
instead of being recomputed: the O(N·d1·d2) of a generic pass becomes O(N·(d1 + d2) + changes·d2).
Without a rank-1 first layer, ``θ = x`` (``d_x`` coordinates) and the same sweep runs.

Soundness (docs/certification.md):

* ``P_l, q_l`` are arb balls (precision ``prec``), so they contain the exact coefficients of the
  stored network on that pattern; ``θ`` is a ball around the exact ``u·x``.
* A unit is put on a piece only when a *rigorous* float enclosure of its exact pre-activation
  (midpoint/radius of the balls rounded outward, Higham's bound on the float dot product, a margin
  for the rounding of the comparison) lies inside that closed piece. Then ``act(z) = s·z + c`` holds
  exactly for that piece, and the next layer's coefficients follow exactly (in balls) from it.
* A point with any unit the enclosure cannot place (e.g. exactly at a breakpoint) is not decided
  here: it is returned to the generic ball/exact tiers. A bad sort order only costs more updates.
* The output balls contain the exact outputs; the verdict uses the same rules as the ball tier.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from memcap.network import Dense, Network

__all__ = ["applicable", "SweepPlan", "sweep_order", "rank_one_factor"]

_U = 2.0**-53
_EPS = 2.0**-51            # relative error allowed for a float copy of a ball midpoint (2 ulps)
_TINY = 2.0**-1000         # absolute floor covering underflow / subnormal conversions
_PL_KINDS = ("identity", "relu_like", "hardtanh")


def applicable(net: Network) -> bool:
    """The sweep handles networks of dense-stored Dense layers with piecewise-linear activations
    (a sparse layer goes to the exact-int engine, which reads it dense)."""
    return all(isinstance(L, Dense) and L.activation.kind in _PL_KINDS and not hasattr(L.weight, "toarray")
               for L in net.layers)


def _q(v: Any) -> flint.fmpq:
    if isinstance(v, flint.fmpq):
        return v
    f = Fraction(float(v)) if isinstance(v, float | np.floating) else Fraction(v)
    return flint.fmpq(f.numerator, f.denominator)


def _exact(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, dtype=object)
    out.ravel()[:] = [_q(v) for v in np.asarray(a).ravel()]
    return out


def rank_one_factor(W: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(w, u)`` with ``W = w ⊗ u`` exactly (entries as fmpq), or None when W has rank > 1."""
    E = _exact(W)
    nz = [(i, j) for i in range(E.shape[0]) for j in range(E.shape[1]) if E[i, j] != 0]
    if not nz:
        return None
    i0, k0 = nz[0]
    u = E[i0] / E[i0, k0]                  # u[k0] = 1
    w = E[:, k0].copy()
    for i in range(E.shape[0]):
        if not all(E[i, k] == w[i] * u[k] for k in range(E.shape[1])):
            return None
    return w, u


def _pieces(act: Any) -> list[tuple[Fraction, Fraction, float, float]]:
    """(slope, constant, lo, hi) of each closed linear piece."""
    if act.kind == "identity":
        return [(Fraction(1), Fraction(0), -math.inf, math.inf)]
    if act.kind == "relu_like":
        return [(act.s_minus, Fraction(0), -math.inf, 0.0), (act.s_plus, Fraction(0), 0.0, math.inf)]
    return [(Fraction(0), Fraction(-1), -math.inf, -1.0), (Fraction(1), Fraction(0), -1.0, 1.0),
            (Fraction(0), Fraction(1), 1.0, math.inf)]


def _exact_theta(X: np.ndarray, u: np.ndarray) -> list[flint.fmpq]:
    """Exact u·x for each row of float X (u exact rationals)."""
    den = 1
    for v in u:
        den = math.lcm(den, int(v.q))
    un = [int(v.p) * (den // int(v.q)) for v in u]
    mant, ex = np.frexp(np.asarray(X, dtype=np.float64))
    M = (mant * 2.0**53).astype(np.int64)
    E = ex.astype(np.int64) - 53
    out = []
    for m_row, e_row in zip(M, E, strict=True):
        emin = int(e_row.min())
        s = 0
        for m, e, c in zip(m_row.tolist(), e_row.tolist(), un, strict=True):
            if m and c:
                s += (c * m) << (e - emin)
        if emin >= 0:
            out.append(flint.fmpq(s << emin, den))
        else:
            out.append(flint.fmpq(s, den << -emin))
    return out


def _q_to_float(v: flint.fmpq) -> float:
    try:
        return int(v.p) / int(v.q)       # Python's int true division is correctly rounded
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _ball_floats(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(midpoints as floats, bound on |float - exact|) for an object array of arb balls."""
    mids = np.empty(M.shape)
    errs = np.empty(M.shape)
    for idx, b in np.ndenumerate(M):
        try:
            f = float(b.mid())
            r = float(b.rad())
        except (OverflowError, ValueError):
            f, r = math.inf, math.inf
        mids[idx] = f
        errs[idx] = abs(f) * _EPS + r * (1 + 2.0**-50) + 2.0**-1074
    bad = ~(np.isfinite(mids) & np.isfinite(errs))
    mids[bad], errs[bad] = 0.0, math.inf
    return mids, errs


def sweep_order(net: Network, X: np.ndarray) -> np.ndarray:
    """Point order of the sweep (stable sort by the float projection when W1 is rank 1)."""
    f = rank_one_factor(net.layers[0].weight)
    if f is None:
        return np.arange(len(X))
    u = np.array([_q_to_float(v) for v in f[1]])
    return np.argsort(np.asarray(X, dtype=np.float64) @ u, kind="stable")


class SweepPlan:
    """The network prepared for sweeps at one ball precision (built once per worker)."""

    def __init__(self, net: Network, prec: int, factor: tuple[np.ndarray, np.ndarray] | None = None,
                 factored: bool | None = None) -> None:
        if not applicable(net):
            raise ValueError("the sweep needs Dense layers with piecewise-linear activations")
        self.net, self.prec = net, prec
        old = flint.ctx.prec
        flint.ctx.prec = prec
        try:
            if factored is None or factored:
                factor = factor if factor is not None else rank_one_factor(net.layers[0].weight)
            self.u = None if factor is None else factor[1]
            L0 = net.layers[0]
            P1 = factor[0][:, None] if factor is not None else _exact(L0.weight)
            self.r = P1.shape[1]
            M0 = np.concatenate([P1, _exact(L0.bias)[:, None]], axis=1)
            self.M0 = self._balls(M0)
            self.W = [None] + [self._balls(_exact(L.weight)) for L in net.layers[1:]]
            self.Wmat = [None] + [flint.arb_mat(w.shape[0], w.shape[1], list(w.ravel())) for w in self.W[1:]]
            self.b = [self._balls(_exact(L.bias)) for L in net.layers]
            self.pieces = [_pieces(L.activation) for L in net.layers]
            self.slope = [np.array([flint.arb(_q(s)) for s, _c, _lo, _hi in p], dtype=object)
                          for p in self.pieces]
            self.const = [np.array([flint.arb(_q(c)) for _s, c, _lo, _hi in p], dtype=object)
                          for p in self.pieces]
        finally:
            flint.ctx.prec = old

    @staticmethod
    def _balls(E: np.ndarray) -> np.ndarray:
        out = np.empty(E.shape, dtype=object)
        out.ravel()[:] = [flint.arb(v) for v in E.ravel()]
        return out

    # ---- inputs ---------------------------------------------------------------------------------
    def thetas(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(θ balls (n, r), float θ (n, r), bound on |θ_float - θ|)."""
        X64 = np.asarray(X, dtype=np.float64)
        if self.u is None:
            balls = np.empty(X64.shape, dtype=object)
            balls.ravel()[:] = [flint.arb(float(v)) for v in X64.ravel()]
            return balls, X64.copy(), np.zeros(X64.shape)
        ex = _exact_theta(X64, self.u)
        balls = np.array([[flint.arb(t)] for t in ex], dtype=object).reshape(-1, 1)
        tf = np.array([_q_to_float(t) for t in ex]).reshape(-1, 1)
        err = np.abs(tf) * _U + 2.0**-1074
        bad = ~np.isfinite(tf)
        tf[bad], err[bad] = 0.0, math.inf
        return balls, tf, err

    # ---- the sweep ------------------------------------------------------------------------------
    def run(self, X: np.ndarray, deadline: float | None = None) -> tuple[list[Any], np.ndarray]:
        """Evaluate every row of X (in the given order; sort by :func:`sweep_order` first for speed).

        Returns ``(outputs, placed)``: ``outputs[i]`` is a list of output balls (or None when some
        unit could not be placed on a piece, or the deadline passed) and ``placed`` the mask of rows
        that got outputs.
        """
        old = flint.ctx.prec
        flint.ctx.prec = self.prec
        try:
            n = len(X)
            self._out: list[Any] = [None] * n
            self._deadline = deadline
            if n:
                th, tf, te = self.thetas(X)
                self._th, self._tf, self._te = th, tf, te
                self._layer(0, np.arange(n), self.M0)
            placed = np.array([o is not None for o in self._out], dtype=bool)
            return self._out, placed
        finally:
            flint.ctx.prec = old

    def _classify(self, li: int, idx: np.ndarray, M: np.ndarray) -> np.ndarray:
        """Piece index of every unit of layer li at the points idx (-1: not placed)."""
        r = self.r
        mid, err = _ball_floats(M)
        Pf, qf = mid[:, :r], mid[:, r]
        eP, eq = err[:, :r], err[:, r]
        tf, te = self._tf[idx], self._te[idx]
        with np.errstate(over="ignore", invalid="ignore"):
            zhat = tf @ Pf.T + qf
            absP = np.abs(Pf)
            atf = np.abs(tf)
            S = atf @ absP.T + np.abs(qf)
            gam = (r + 2) * _U / (1 - (r + 2) * _U)
            bound = (gam * S * (1 + gam) + (atf + te) @ eP.T + te @ absP.T + eq) * (1 + 2.0**-40) \
                + (r + 2) * _TINY * (1 + atf.sum(axis=1, keepdims=True))
            B = (bound + 4 * _U * np.abs(zhat)) * (1 + 2.0**-40) + _TINY
            lo, hi = zhat - 2 * B, zhat + 2 * B
        codes = np.full(zhat.shape, -1, dtype=np.int8)
        ok = np.isfinite(lo) & np.isfinite(hi)
        pieces = self.pieces[li]
        for k, (_s, _c, plo, phi) in enumerate(pieces):
            inside = ok & (lo >= plo) & (hi <= phi) & (codes < 0)
            codes[inside] = k
        if len(pieces) > 1:
            # what the float enclosure cannot place (cancellation, a point near a knee): the unit's
            # pre-activation as a ball, r + 1 ball operations per unit instead of a generic pass
            for a, k in zip(*np.nonzero(codes < 0), strict=True):
                z = M[k, r]
                for j in range(r):
                    z = z + M[k, j] * self._th[idx[a], j]
                for c, (_s, _c, plo, phi) in enumerate(pieces):
                    if (plo == -math.inf or z >= plo) and (phi == math.inf or z <= phi):
                        codes[a, k] = c
                        break
        return codes

    def _next_affine(self, li: int, M: np.ndarray, code: np.ndarray) -> np.ndarray:
        """Affine map of layer li+1 on the pattern ``code`` of layer li (from scratch, arb_mat)."""
        s, c = self.slope[li][code], self.const[li][code]
        A = np.concatenate([M[:, :self.r] * s[:, None], (M[:, self.r] * s + c)[:, None]], axis=1)
        Am = flint.arb_mat(A.shape[0], A.shape[1], list(A.ravel()))
        R = self.Wmat[li + 1] * Am
        out = np.array(R.entries(), dtype=object).reshape(R.nrows(), R.ncols())
        out[:, self.r] = out[:, self.r] + self.b[li + 1]
        return out

    def _update_affine(self, li: int, M: np.ndarray, prev: np.ndarray, code: np.ndarray,
                       Mn: np.ndarray) -> np.ndarray:
        J = np.flatnonzero(prev != code)
        if not len(J):
            return Mn
        if len(J) * 4 > len(code):
            return self._next_affine(li, M, code)
        ds = self.slope[li][code[J]] - self.slope[li][prev[J]]
        dc = self.const[li][code[J]] - self.const[li][prev[J]]
        D = np.concatenate([M[J, :self.r] * ds[:, None], (M[J, self.r] * ds + dc)[:, None]], axis=1)
        return Mn + self.W[li + 1][:, J] @ D

    def _layer(self, li: int, idx: np.ndarray, M: np.ndarray) -> None:
        if self._deadline is not None and time.time() > self._deadline:
            return
        last = len(self.net.layers) - 1
        act = self.net.layers[li].activation
        if li == last:
            from memcap.numerics import _act_ball

            P, q = M[:, :self.r], M[:, self.r]
            for i in idx:
                z = P @ self._th[i] + q
                self._out[i] = [_act_ball(v, act) for v in z]
            return
        codes = self._classify(li, idx, M)
        good = np.all(codes >= 0, axis=1)
        idx, codes = idx[good], codes[good]
        if not len(idx):
            return
        starts = np.flatnonzero(np.r_[True, np.any(codes[1:] != codes[:-1], axis=1)])
        ends = np.r_[starts[1:], len(idx)]
        prev, Mn = None, None
        for a, b in zip(starts, ends, strict=True):
            code = codes[a]
            if prev is None:
                Mn = self._next_affine(li, M, code)
            else:
                Mn = self._update_affine(li, M, prev, code, Mn)
            prev = code
            self._layer(li + 1, idx[a:b], Mn)
