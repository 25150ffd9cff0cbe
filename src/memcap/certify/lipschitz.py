"""Sound upper bounds on the Lipschitz constant of a network, and lower bounds to compare with.

What is bounded: a scalar function ``g(x) = c·f(x)`` of the network's outputs ``f`` — by default
every class *margin* ``f_a - f_b`` (what decides a classification; for one output, ``f`` itself) —
with respect to the input norm ``p`` (``inf``, ``1`` or ``2``):
``|g(x) - g(z)| <= Lip · ||x - z||_p``. The dual norm of the gradient is what is bounded
(``||∇g||_1`` for p = inf, ``||∇g||_∞`` for p = 1, ``||∇g||_2`` for p = 2).

Two certified upper bounds, both sound under floating point (every float sum, product and rounding
of exact weights is enlarged by a proved bound, so the answer is an upper bound of the exact one):

* :func:`product_bound` — global (all of R^n): ``||c^T W_D||_q · Π_l lip(act_l)·||W_l||_{p->p}``;
  for p = 2 the spectral norm is bounded by ``sqrt(||W||_1 ||W||_∞)``. Cheap, and for deep
  networks exponentially loose (it ignores cancellation and which units can be active together).
* :func:`interval_bound` — local, on a box ``[lo, hi]``: interval bound propagation finds each unit's
  possible slopes (stable units have one), then an interval Jacobian row ``c^T W_D D W ... D W_1``
  is propagated backwards (a Fast-Lip / RecurJac-style bound). Tighter where many units are stable
  (small boxes), vacuous on large ones.

Lower bounds (not certificates, they show the gap): :func:`pairs_lower_bound` (the largest
``|g(x_i) - g(x_j)| / ||x_i - x_j||_p`` over given points, in float64) and
:func:`gradient_lower_bound` (the largest gradient norm at sample points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.network import Activation, Dense, Network
from memcap.norms import BALL_NORMS, norm_name, parse_norm
from memcap.numerics import _abs64, to_float_array, unit_roundoff

__all__ = ["LipschitzBound", "product_bound", "interval_bound", "pairs_lower_bound",
           "gradient_lower_bound", "lipschitz_report", "margin_directions"]

U = unit_roundoff(np.float64)
TINY = 2.0**-1070


@dataclass
class LipschitzBound:
    """A certified upper bound ``value`` (``log2`` kept too: products overflow float64)."""

    method: str
    norm: str
    value: float
    log2: float
    region: str
    notes: list[str] = field(default_factory=list)

    @property
    def vacuous(self) -> bool:
        """True when the bound says nothing a float64 number could violate (infinite, NaN or beyond
        the float64 range, e.g. a product of thousands of layer norms)."""
        return not math.isfinite(self.value)


def _norm_key(norm: Any) -> str:
    """``"inf"``, ``"1"`` or ``"2"`` (read by :func:`memcap.norms.parse_norm`; others: OptionError)."""
    return norm_name(parse_norm(norm, allowed=BALL_NORMS))


def _up(x: np.ndarray | float) -> Any:
    return x + np.abs(x) * (4 * U) + TINY


def _down(x: np.ndarray | float) -> Any:
    return x - np.abs(x) * (4 * U) - TINY


def _gamma(n: int) -> float:
    return n * U / (1 - n * U)


def _dense_layers(net: Network) -> list[Dense]:
    if not all(isinstance(layer, Dense) for layer in net.layers):
        raise ValueError("Lipschitz bounds are implemented for dense networks; this one has residual "
                         "blocks")
    return list(net.layers)  # type: ignore[arg-type]


def _act_slopes(act: Activation) -> tuple[float, float]:
    """(smallest, largest) slope of the activation (both exact small rationals)."""
    if act.kind == "identity":
        return 1.0, 1.0
    if act.kind == "hardtanh":
        return 0.0, 1.0
    if act.kind == "relu_like":
        return float(act.s_minus), float(act.s_plus)
    raise ValueError(f"no Lipschitz bound for activation {act.name}")


def margin_directions(d_out: int) -> np.ndarray:
    """Rows c = e_a - e_b for every ordered pair a < b (for one output: c = [1])."""
    if d_out == 1:
        return np.ones((1, 1))
    rows = []
    for a in range(d_out):
        for b in range(a + 1, d_out):
            r = np.zeros(d_out)
            r[a], r[b] = 1.0, -1.0
            rows.append(r)
    return np.array(rows)


def _abs_upper(W: np.ndarray) -> np.ndarray:
    """|W| as float64, rounded up (exact entries and float entries alike)."""
    return _abs64(W) if np.asarray(W).dtype == object else np.abs(np.asarray(W, dtype=np.float64))


def _log2_up(v: float) -> float:
    if v == 0:
        return -math.inf
    lg = math.log2(v)
    return lg + 1e-12 * max(1.0, abs(lg))


def _op_norm_log2(W: np.ndarray, p: str) -> float:
    """log2 of an upper bound on ||W||_{p->p} (max row sum, max column sum, or sqrt of both)."""
    A = _abs_upper(W)
    if not A.size:
        return -math.inf
    r = float(np.max(A.sum(axis=1))) * (1 + _gamma(A.shape[1] + 1))
    c = float(np.max(A.sum(axis=0))) * (1 + _gamma(A.shape[0] + 1))
    v = {"inf": r, "1": c, "2": math.sqrt(r * c) * (1 + 4 * U)}[p]
    return _log2_up(v)


def product_bound(net: Network, norm: Any = "inf", c: np.ndarray | None = None) -> LipschitzBound:
    """Global bound ``max_c ||c^T W_D||_q · Π_{l<D} lip(act_l) ||W_l||_{p->p}`` (with the last
    layer's activation slope), for the rows ``c`` (default: every margin direction)."""
    p = _norm_key(norm)
    layers = _dense_layers(net)
    C = margin_directions(net.out_dim) if c is None else np.atleast_2d(np.asarray(c, dtype=np.float64))
    WD = _abs_upper(layers[-1].weight)
    # ||c^T W_D||_q <= |c|^T |W_D| summed in the dual norm
    row = (np.abs(C) @ WD) * (1 + _gamma(WD.shape[0] + 1)) + TINY
    q = {"inf": 1, "1": np.inf, "2": 2}[p]
    head = float(np.max(np.linalg.norm(row, ord=q, axis=1))) * (1 + 4 * U)
    top = _act_slopes(layers[-1].activation)[1]
    if head == 0 or top == 0:
        return LipschitzBound("product of layer norms", p, 0.0, -math.inf, "R^n")
    log2 = _log2_up(head) + (_log2_up(top) if top != 1 else 0.0)
    for layer in layers[:-1]:
        slope = _act_slopes(layer.activation)[1]
        if slope == 0:
            return LipschitzBound("product of layer norms", p, 0.0, -math.inf, "R^n")
        log2 += _op_norm_log2(layer.weight, p) + (_log2_up(slope) if slope != 1 else 0.0)
    value = math.inf if log2 > 1023 else (0.0 if log2 == -math.inf else 2.0**log2)
    return LipschitzBound("product of layer norms", p, value, log2, "R^n",
                          [f"{len(layers)} layers; log2(bound) = {log2:.6g}"])


# ---- interval bounds ----------------------------------------------------------------------------
def _affine_interval(lo: np.ndarray, hi: np.ndarray, W: np.ndarray, b: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of {W a + b : lo <= a <= hi} (rows of lo/hi are boxes), outward rounded.

    Midpoint m and radius r of the box; W a + b lies in (W m + b) ± |W| r. Float products and sums
    add at most γ_{n+2}(|W||m| + |b| + |W| r); exact weights rounded to float add u|W|(|m| + r) and
    u|b| more."""
    exact = np.asarray(W).dtype == object
    Wf, bf = to_float_array(W), to_float_array(b)
    absW = _abs_upper(W)
    m = lo / 2 + hi / 2
    r = _up(np.maximum(hi - m, m - lo))
    n = W.shape[1] + 2
    am = np.abs(m)
    zc = m @ Wf.T + bf
    err = _gamma(n) * (am @ np.abs(Wf).T + np.abs(bf))
    if exact:
        err = err + ((am + r) @ absW.T) * (2 * U) + _abs_upper(b) * (2 * U)
    zr = (r @ absW.T) * (1 + _gamma(n)) + err + n * TINY
    return _down(zc - zr), _up(zc + zr)


def _act_interval(lo: np.ndarray, hi: np.ndarray, act: Activation
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Post-activation box and the slope interval [dlo, dhi] of every unit."""
    if act.kind == "identity":
        one = np.ones_like(lo)
        return lo, hi, one, one
    if act.kind == "hardtanh":
        alo, ahi = np.clip(lo, -1, 1), np.clip(hi, -1, 1)
        inside = (lo >= -1) & (hi <= 1)
        outside = (hi <= -1) | (lo >= 1)
        dlo = np.where(inside, 1.0, 0.0)
        dhi = np.where(outside, 0.0, 1.0)
        return alo, ahi, dlo, dhi
    sm, sp = float(act.s_minus), float(act.s_plus)

    def f(z: np.ndarray) -> np.ndarray:
        return np.where(z >= 0, sp * z, sm * z)

    alo, ahi = f(lo), f(hi)
    if not (sp == 1 and sm == 0):
        alo, ahi = _down(alo), _up(ahi)
    dlo = np.where(lo >= 0, sp, sm)
    dhi = np.where(hi <= 0, sm, sp)
    return alo, ahi, dlo, dhi


def _slopes(net: Network, lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    a_lo, a_hi = np.atleast_2d(lo).astype(np.float64), np.atleast_2d(hi).astype(np.float64)
    out = []
    for layer in _dense_layers(net):
        z_lo, z_hi = _affine_interval(a_lo, a_hi, layer.weight, layer.bias)
        a_lo, a_hi, dlo, dhi = _act_interval(z_lo, z_hi, layer.activation)
        out.append((dlo, dhi))
    return out


def interval_bound(net: Network, lo: np.ndarray, hi: np.ndarray, norm: Any = "inf",
                   c: np.ndarray | None = None) -> LipschitzBound:
    """Upper bound on ``sup_{x in [lo, hi]} ||∇(c·f)(x)||_q`` (= the Lipschitz constant of c·f on
    the box) for the rows ``c`` (default: every margin direction); the maximum over the rows."""
    p = _norm_key(norm)
    layers = _dense_layers(net)
    lo, hi = np.asarray(lo, dtype=np.float64).ravel(), np.asarray(hi, dtype=np.float64).ravel()
    if lo.shape != (net.in_dim,) or hi.shape != lo.shape or np.any(lo > hi):
        raise ValueError(f"the box needs lo <= hi with {net.in_dim} coordinates each")
    slopes = _slopes(net, lo, hi)
    C = margin_directions(net.out_dim) if c is None else np.atleast_2d(np.asarray(c, dtype=np.float64))
    vlo, vhi = C.copy(), C.copy()  # one interval row per direction
    for layer, (dlo, dhi) in zip(reversed(layers), reversed(slopes), strict=True):
        d0, d1 = dlo[0], dhi[0]
        cands = np.stack([vlo * d0, vlo * d1, vhi * d0, vhi * d1])
        vlo, vhi = _down(cands.min(axis=0)), _up(cands.max(axis=0))
        W = layer.weight
        Wf, absW = to_float_array(W), _abs_upper(W)
        m = vlo / 2 + vhi / 2
        r = _up(np.maximum(vhi - m, m - vlo))
        n = W.shape[0] + 1
        err = _gamma(n + 2) * (np.abs(m) @ np.abs(Wf))
        if np.asarray(W).dtype == object:
            err = err + (np.abs(m) + r) @ (absW * 2 * U)
        cm = m @ Wf
        cr = (r @ absW) * (1 + _gamma(n + 2)) + err + n * TINY
        vlo, vhi = _down(cm - cr), _up(cm + cr)
    g = np.maximum(np.abs(vlo), np.abs(vhi))
    q = {"inf": 1, "1": np.inf, "2": 2}[p]
    value = float(np.max(np.linalg.norm(g, ord=q, axis=1))) * (1 + (g.shape[1] + 4) * 4 * U)
    log2 = math.log2(value) if 0 < value < math.inf else (-math.inf if value == 0 else math.inf)
    unstable = int(sum(int(np.sum(dl[0] != dh[0])) for dl, dh in slopes))
    return LipschitzBound("interval Jacobian (IBP slopes)", p, value, log2,
                          f"box of width {float(np.max(hi - lo)):.3g}",
                          [f"{unstable} of {sum(dl.shape[1] for dl, _ in slopes)} units unstable"])


# ---- lower bounds -------------------------------------------------------------------------------
def _dual(v: np.ndarray, p: str) -> np.ndarray:
    return np.linalg.norm(v, ord={"inf": 1, "1": np.inf, "2": 2}[p], axis=-1)


def pairs_lower_bound(net: Network, X: np.ndarray, norm: Any = "inf", c: np.ndarray | None = None,
                      max_pairs: int = 200_000) -> float:
    """max over pairs (and rows c) of |c·(f(x_i) - f(x_j))| / ||x_i - x_j||_p (float64; a lower
    bound on the Lipschitz constant up to rounding, not a certificate)."""
    p = _norm_key(norm)
    X = np.asarray(X, dtype=np.float64)
    C = margin_directions(net.out_dim) if c is None else np.atleast_2d(np.asarray(c, dtype=np.float64))
    G = net(X) @ C.T  # (N, rows)
    N = len(X)
    rng = np.random.default_rng(0)
    if N * (N - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(N, 1)
    else:
        i, j = rng.integers(0, N, max_pairs), rng.integers(0, N, max_pairs)
        keep = i != j
        i, j = i[keep], j[keep]
    ordp = {"inf": np.inf, "1": 1, "2": 2}[p]
    d = np.linalg.norm(X[i] - X[j], ord=ordp, axis=1)
    num = np.abs(G[i] - G[j]).max(axis=1)
    return float(np.max(num / d)) if len(d) else 0.0


def gradient_lower_bound(net: Network, X: np.ndarray, norm: Any = "inf",
                         c: np.ndarray | None = None) -> float:
    """max over the points (and rows c) of ||∇(c·f)(x)||_q, computed in float64 from the activation
    pattern at x (exact where no unit sits on a kink; a lower bound on the Lipschitz constant)."""
    p = _norm_key(norm)
    layers = _dense_layers(net)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    C = margin_directions(net.out_dim) if c is None else np.atleast_2d(np.asarray(c, dtype=np.float64))
    acts, a = [], X
    for layer in layers:
        z = a @ to_float_array(layer.weight).T + to_float_array(layer.bias)
        act = layer.activation
        if act.kind == "identity":
            d = np.ones_like(z)
            a = z
        elif act.kind == "hardtanh":
            d = ((z > -1) & (z < 1)).astype(float)
            a = np.clip(z, -1, 1)
        else:
            d = np.where(z > 0, float(act.s_plus), float(act.s_minus))
            a = np.where(z > 0, float(act.s_plus) * z, float(act.s_minus) * z)
        acts.append(d)
    best = 0.0
    for row in C:
        v = np.tile(row, (len(X), 1))
        for layer, d in zip(reversed(layers), reversed(acts), strict=True):
            v = (v * d) @ to_float_array(layer.weight)
        best = max(best, float(np.max(_dual(v, p))))
    return best


def lipschitz_report(net: Network, X: np.ndarray | None = None, norm: Any = "inf",
                     box: tuple[np.ndarray, np.ndarray] | None = None, samples: int = 256,
                     seed: int = 0) -> dict[str, Any]:
    """Upper bounds (global product; interval on ``box``, default the data's bounding box) and
    lower bounds (data pairs, sampled gradients) of the margins' Lipschitz constant, next to the
    value the construction claims (``net.meta[mk.LIPSCHITZ]``) and whether the bounds contradict it.

    ``claim_consistent`` is True when lower ≤ claim ≤ a finite upper bound, False when a bound
    contradicts the claim, and None when every upper bound is vacuous (``*_vacuous`` keys) and the
    lower bounds do not contradict it: then the claim is simply unchecked from above."""
    p = _norm_key(norm)
    rep: dict[str, Any] = {"norm": p, "of": "every margin f_a - f_b" if net.out_dim > 1 else "f"}
    prod = product_bound(net, p)
    rep["product_bound"] = prod.value
    rep["product_bound_log2"] = prod.log2
    rep["product_bound_vacuous"] = prod.vacuous
    if box is None and X is not None:
        box = (np.min(X, axis=0), np.max(X, axis=0))
    if box is not None:
        ib = interval_bound(net, box[0], box[1], p)
        rep["interval_bound"] = ib.value
        rep["interval_bound_vacuous"] = ib.vacuous
        rep["interval_box"] = ib.region
        rep["interval_notes"] = ib.notes
    if X is not None:
        X = np.asarray(X, dtype=np.float64)
        rep["pairs_lower_bound"] = pairs_lower_bound(net, X, p)
        rng = np.random.default_rng(seed)
        lo, hi = (box if box is not None else (X.min(axis=0), X.max(axis=0)))
        S = rng.uniform(lo, hi, size=(samples, net.in_dim))
        near = X[rng.integers(0, len(X), samples)]
        if len(X) > 1:  # points near the data, within a quarter of the nearest-neighbour distance
            from scipy.spatial import cKDTree

            d = cKDTree(X).query(near, k=2, p=np.inf)[0][:, 1]
            near = near + rng.uniform(-1, 1, near.shape) * (d[:, None] / 4)
        rep["gradient_lower_bound"] = max(gradient_lower_bound(net, S, p),
                                          gradient_lower_bound(net, near, p))
    claim = net.meta.get(mk.LIPSCHITZ)
    if claim and claim.get("norm") == p:
        v = float(claim["value"])
        rep["claimed"] = v
        # a float64 lower bound that overflowed (inf/NaN) says nothing: a piecewise-linear net with
        # finite weights has a finite constant, so only finite lower bounds are compared
        lows = [b for b in (rep.get("pairs_lower_bound", 0.0), rep.get("gradient_lower_bound", 0.0))
                if math.isfinite(b)]
        lower = max(lows, default=0.0)
        finite = [b for b in (rep["product_bound"], rep.get("interval_bound", math.inf)) if math.isfinite(b)]
        below = lower <= v * (1 + 1e-9)
        if not finite:  # every upper bound is vacuous: only the lower side can be checked
            rep["claim_consistent"] = None if below else False
            rep["claim_check"] = ("lower bounds only: every certified upper bound is vacuous (infinite "
                                  "in float64), so the claim is not checked from above")
        else:
            rep["claim_consistent"] = bool(below and v <= min(finite) * (1 + 1e-12))
            rep["claim_check"] = "lower and upper bounds"
    return rep
