"""Tier 1 of robustness verification: attacks (falsification only, never a proof).

Candidates in the ball ``B_p(x_i, r)``: the point itself, the ball's corners (L∞: all 2^d corners
when d <= 10, else a random sample; L1: the 2d vertices ``x_i ± r e_j``; L2: the 2d points
``x_i ± r e_j`` and random points of the sphere) and PGD with random restarts on the margin
``f_y - max_{c != y} f_c`` (torch, float64, CPU; sign steps for L∞, normalized-gradient steps for
L2, steepest-coordinate steps for L1, each followed by the projection onto the ball).

A candidate becomes a *counterexample* only after two checks in exact arithmetic: it lies in the
closed ball (rational comparison of ``||z - x_i||_p`` with r), and the exact network's margin at it
is <= 0 (float evaluation with the certified rounding bound of :func:`forward_float_bounded`,
falling back to exact rationals). A tie counts as wrong, as in :mod:`memcap.verify`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from memcap._util import require_extra
from memcap.network import Network
from memcap.numerics import forward_exact, forward_float, forward_float_bounded

__all__ = ["Counterexample", "attack", "confirm", "inside_exact", "polish"]


@dataclass
class Counterexample:
    index: int          # the data point
    z: np.ndarray       # the input in the ball (float64, exactly inside)
    label: int
    predicted: int      # a class c != label with f_c(z) >= f_label(z) (exactly)
    margin: float       # f_label(z) - f_predicted(z) (float estimate, <= 0 certified)
    found_by: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "z": [float(v) for v in self.z], "label": self.label,
                "predicted": self.predicted, "margin": self.margin, "found_by": self.found_by}


def _dist_exact(z: np.ndarray, x: np.ndarray, norm: str) -> Fraction:
    d = [abs(Fraction(float(a)) - Fraction(float(b))) for a, b in zip(z, x, strict=True)]
    if norm == "inf":
        return max(d)
    if norm == "1":
        return sum(d, Fraction(0))
    return sum((v * v for v in d), Fraction(0))


def inside_exact(z: np.ndarray, x: np.ndarray, r: float, norm: str) -> bool:
    """Exact test ``||z - x||_p <= r`` (p = inf, 1, 2)."""
    R = Fraction(float(r))
    return _dist_exact(z, x, norm) <= (R * R if norm == "2" else R)


def _pull_inside(z: np.ndarray, x: np.ndarray, r: float, norm: str) -> np.ndarray | None:
    for k in range(8):
        if inside_exact(z, x, r, norm):
            return z
        z = x + (z - x) * (1 - 2.0 ** (-45 + 4 * k))
    return None


def _margins(out: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(labels))
    other = out.copy()
    other[rows, labels] = -np.inf
    c = other.argmax(axis=1)
    return out[rows, labels] - other[rows, c], c


def confirm(net: Network, Z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For inputs ``Z`` (rows): (certified f_y(z) - max_c f_c(z) <= 0, the class c). Exact fallback."""
    out, bnd = forward_float_bounded(net, Z, np.float64)
    rows = np.arange(len(Z))
    hi = out + bnd
    lo = out - bnd
    lo_other = lo.copy()
    lo_other[rows, labels] = -np.inf
    c = lo_other.argmax(axis=1)
    certain = hi[rows, labels] <= lo[rows, c]
    ok = certain.copy()
    maybe = np.flatnonzero(~certain & (_margins(out, labels)[0] <= 1e-9 * (1 + np.abs(out).max(axis=1))))
    if len(maybe):
        exact = forward_exact(net, Z[maybe])
        for k, vals in zip(maybe, exact, strict=True):
            y = int(labels[k])
            best = max((cc for cc in range(len(vals)) if cc != y), key=lambda cc: vals[cc])
            if vals[best] >= vals[y]:
                ok[k], c[k] = True, best
    return ok, c


def polish(net: Network, z: np.ndarray, x: np.ndarray, label: int, r: float, norm: str,
           seed: int = 0, tries: int = 64) -> tuple[np.ndarray, int] | None:
    """A confirmed counterexample near a candidate ``z`` whose float margin is ~0 (e.g. a MILP
    optimum at a tie): random nearby points at scales 1e-12·r ... 1e-3·r, pulled into the ball."""
    rng = np.random.default_rng(seed)
    scales = r * 10.0 ** -rng.uniform(3, 12, size=tries)
    dirs = rng.choice([-1.0, 1.0], size=(tries, len(z))) * rng.uniform(0, 1, size=(tries, len(z)))
    Z = _project_np(z[None, :] + scales[:, None] * dirs, x, r, norm)
    Z = np.concatenate([z[None, :], Z])
    m, _ = _margins(forward_float(net, Z), np.full(len(Z), label))
    order = np.argsort(m)[:8]
    keep = [q for q in (_pull_inside(Z[k].copy(), x, r, norm) for k in order) if q is not None]
    if not keep:
        return None
    ok, c = confirm(net, np.array(keep), np.full(len(keep), label))
    hits = np.flatnonzero(ok)
    return (keep[hits[0]], int(c[hits[0]])) if len(hits) else None


def _project_np(Z: np.ndarray, x: np.ndarray, r: float, norm: str) -> np.ndarray:
    D = Z - x
    if norm == "inf":
        D = np.clip(D, -r, r)
    elif norm == "2":
        n = np.linalg.norm(D, axis=1, keepdims=True)
        D = D * np.minimum(1.0, r / np.maximum(n, 1e-300))
    else:
        n = np.abs(D).sum(axis=1, keepdims=True)
        D = D * np.minimum(1.0, r / np.maximum(n, 1e-300))
    return x + D


def _corners(x: np.ndarray, r: float, norm: str, rng: np.random.Generator, cap: int) -> np.ndarray:
    d = len(x)
    if norm == "inf":
        if d <= 10 and 2**d <= cap:
            signs = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1) * 2 - 1
        else:
            signs = rng.choice([-1.0, 1.0], size=(cap, d))
        return x + r * signs
    eye = np.eye(d)
    pts = [x + r * eye, x - r * eye]
    if norm == "2":
        g = rng.standard_normal((min(cap, 64), d))
        pts.append(x + r * g / np.linalg.norm(g, axis=1, keepdims=True))
    return np.concatenate(pts)


def _project(torch: Any, z: Any, x: Any, r: float, norm: str) -> Any:
    d = z - x
    if norm == "inf":
        d = d.clamp(-r, r)
    elif norm == "2":
        n = d.norm(dim=1, keepdim=True).clamp_min(1e-300)
        d = d * torch.clamp(r / n, max=1.0)
    else:  # Duchi et al. (2008) projection onto the L1 ball
        a = d.abs()
        over = a.sum(dim=1) > r
        if bool(over.any()):
            s, _ = torch.sort(a[over], dim=1, descending=True)
            cs = s.cumsum(dim=1) - r
            k = torch.arange(1, s.shape[1] + 1, dtype=s.dtype)
            rho = ((s - cs / k) > 0).sum(dim=1, keepdim=True)
            theta = cs.gather(1, rho - 1) / rho
            d[over] = torch.sign(d[over]) * (a[over] - theta).clamp_min(0)
    return x + d


def _pgd(net: Network, X: np.ndarray, labels: np.ndarray, r: float, norm: str, steps: int,
         restarts: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Best (lowest-margin) PGD point per row and its float margin."""
    torch = require_extra("torch", "torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention
    try:
        return _pgd_run(torch, net, X, labels, r, norm, steps, restarts, rng)
    finally:
        torch.set_num_threads(threads)


def _pgd_run(torch: Any, net: Network, X: np.ndarray, labels: np.ndarray, r: float, norm: str,
             steps: int, restarts: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    model = net.to_torch(torch.float64)
    x = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    rows = torch.arange(len(X))
    best = X.copy()
    best_m = np.full(len(X), np.inf)
    alpha = 2.5 * r / steps if norm != "1" else r / 4
    for rs in range(restarts):
        if rs == 0:
            z = x.clone()
        else:
            noise = torch.as_tensor(rng.uniform(-r, r, size=X.shape))
            z = _project(torch, x + noise, x, r, norm)
        for _ in range(steps):
            z = z.detach().requires_grad_(True)
            out = model(z)
            other = out.clone()
            other[rows, y] = -torch.inf
            m = out[rows, y] - other.max(dim=1).values
            mn = m.detach().numpy()
            better = mn < best_m
            best[better], best_m[better] = z.detach().numpy()[better], mn[better]
            if out.shape[1] < 2:
                break
            (g,) = torch.autograd.grad(m.sum(), z)
            if not bool(g.any()):
                break  # flat everywhere in this batch: no step moves any point
            with torch.no_grad():
                if norm == "inf":
                    step = g.sign()
                elif norm == "2":
                    step = g / g.norm(dim=1, keepdim=True).clamp_min(1e-300)
                else:
                    step = torch.zeros_like(g)
                    j = g.abs().argmax(dim=1)
                    step[rows, j] = g[rows, j].sign()
                z = _project(torch, z - alpha * step, x, r, norm)
        if np.all(best_m < 0):
            break
    return best, best_m


def attack(net: Network, X: np.ndarray, labels: np.ndarray, r: float, norm: str, steps: int = 40,
           restarts: int = 5, corners: int = 1024, seed: int = 0) -> list[Counterexample | None]:
    """One confirmed counterexample per point, or None when the attack found none."""
    X = np.asarray(X, np.float64)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    found: list[Counterexample | None] = [None] * len(X)
    if net.out_dim < 2:
        return found
    # corners / vertices (and the point itself), evaluated in float, best per point confirmed
    cand = np.empty_like(X)
    cand_m = np.full(len(X), np.inf)
    for i, x in enumerate(X):
        Z = np.concatenate([x[None, :], _corners(x, r, norm, rng, corners)])
        m, _ = _margins(forward_float(net, Z), np.full(len(Z), labels[i]))
        k = int(np.argmin(m))
        cand[i], cand_m[i] = Z[k], m[k]
    _record(net, X, labels, r, norm, cand, cand_m, found, "corners")
    todo = np.array([i for i in range(len(X)) if found[i] is None], dtype=int)
    if len(todo) and steps > 0:
        Z, m = _pgd(net, X[todo], labels[todo], r, norm, steps, restarts, rng)
        sub: list[Counterexample | None] = [None] * len(todo)
        _record(net, X[todo], labels[todo], r, norm, Z, m, sub, "pgd")
        for k, i in enumerate(todo):
            if sub[k] is not None:
                sub[k].index = int(i)
                found[i] = sub[k]
    return found


def _record(net: Network, X: np.ndarray, labels: np.ndarray, r: float, norm: str, Z: np.ndarray,
            m: np.ndarray, found: list[Counterexample | None], how: str) -> None:
    scale = 1e-9 * (1 + np.abs(forward_float(net, Z)).max(axis=1))
    idx = np.flatnonzero(m <= scale)
    if not len(idx):
        return
    zs, keep = [], []
    for i in idx:
        z = _pull_inside(Z[i].copy(), X[i], r, norm)
        if z is not None:
            zs.append(z)
            keep.append(i)
    if not keep:
        return
    keep_a = np.array(keep)
    Zk = np.array(zs)
    ok, c = confirm(net, Zk, labels[keep_a])
    mm, _ = _margins(forward_float(net, Zk), labels[keep_a])
    for k, i in enumerate(keep_a):
        if ok[k]:
            found[i] = Counterexample(int(i), Zk[k], int(labels[i]), int(c[k]), float(mm[k]), how)
