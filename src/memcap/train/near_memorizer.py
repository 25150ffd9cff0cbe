"""SGD near a memorizing global minimum: Yun, Sra & Jadbabaie (2019), Theorem 5.1 (proof in App. G).

Setting (Sec. 5): d_y = 1, piecewise-linear activations, a loss l(z; y) strictly convex and C^3 with an
attained minimum (the squared loss l = (z - y)^2 / 2 here), a *memorizing* global minimum theta*
(l'(f_theta*(x_i); y_i) = 0 for all i) at which the empirical risk R is differentiable, and
without-replacement mini-batch SGD with batch B, E = N/B steps per epoch, constant step eta.
With nu_i = grad_theta f_theta*(x_i), xi = theta - theta* = xi_par + xi_perp (xi_par in span{nu_i}):
for ||xi^(0)|| <= rho and eta < gamma, R(theta^(0)) - R(theta*) = O(||xi^(0)||^2); per epoch
||xi_par|| contracts by (1 - eta lambda) and ||xi|| grows by at most eta lambda ||xi_par|| while
||xi_par|| >= tau ||xi||^2; at the first violation t*, ||xi|| <= 2 ||xi^(0)|| and R - R* <= C ||xi^(0)||^4.

:func:`differentiable_memorizer` builds theta* with ``construct(ds, "yun-3layer")`` (certified)
and makes it a differentiable point as erratum YSJ-11 prescribes:
targets strictly inside (-1, 1), margin > 0, and spare units made *dead* (bias -1) rather than zero
(a zero unit sits on the ReLU kink). The result is re-verified. :func:`sgd_near_memorizer` perturbs
theta* and runs SGD, logging per epoch R, ||xi||, ||xi_par||, and whether any activation pattern changed.
The constants rho, gamma, lambda, tau, C of App. G are not computable in closed form (C1..C5 of Lemma
G.1 are existential), so the experiment measures the theorem's observable claims instead.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from memcap._util import require_extra
from memcap.api import construct
from memcap.certify import verify
from memcap.data.dataset import Dataset
from memcap.network import Dense, Network

__all__ = ["differentiable_memorizer", "sgd_near_memorizer", "kink_distance"]


def _pre_activations(net: Network, X: np.ndarray) -> list[np.ndarray]:
    a, zs = np.asarray(X, dtype=np.float64), []
    for layer in net.layers:
        W, b = np.asarray(layer.weight, dtype=np.float64), np.asarray(layer.bias, dtype=np.float64)
        z = a @ W.T + b
        zs.append(z)
        act = layer.activation
        if act.kind == "relu_like":
            a = np.where(z >= 0, float(act.s_plus) * z, float(act.s_minus) * z)
        elif act.kind == "hardtanh":
            a = np.clip(z, -1, 1)
        else:
            a = z
    return zs


def kink_distance(net: Network, X: np.ndarray) -> float:
    """rho_c of App. G: the smallest distance of a hidden pre-activation to a kink over the data
    (0 for ReLU-like units, ±1 for hard-tanh). Positive iff R is differentiable at these weights."""
    best = math.inf
    for layer, z in zip(net.layers[:-1], _pre_activations(net, X)[:-1], strict=True):
        kinks = (-1.0, 1.0) if layer.activation.kind == "hardtanh" else (0.0,)
        for k in kinks:
            best = min(best, float(np.min(np.abs(z - k))))
    return best


def differentiable_memorizer(ds: Dataset, seed: int = 0, margin: float = 0.5
                             ) -> tuple[Network, dict[str, Any]]:
    """A certified memorizer theta* of ``ds`` (yun-3layer, ReLU) at which R is differentiable."""
    if ds.d_y != 1 or ds.task != "regression":
        raise ValueError(f"Theorem 5.1 is stated for d_y = 1 regression; got task={ds.task}, d_y={ds.d_y}")
    y = ds.targets[:, 0]
    if not np.all(np.abs(y) < 1):
        raise ValueError("targets must lie strictly inside (-1, 1): a target at ±1 puts a ReLU pair of the "
                         f"construction on its kink (max |y| = {np.max(np.abs(y)):g}); rescale the targets")
    if not margin > 0:
        raise ValueError(f"margin must be > 0 for a differentiable memorizer, got {margin}")
    c = construct(ds, "yun-3layer", arithmetic="float64", margin=margin, seed=seed)
    net = c.network.to_float()
    layers, dead = [], 0
    for layer in net.layers:
        if isinstance(layer, Dense) and layer.activation.kind == "relu_like":
            W, b = np.array(layer.weight, dtype=np.float64), np.array(layer.bias, dtype=np.float64)
            spare = np.all(W == 0, axis=1) & (b == 0)
            b[spare] = -1.0  # dead, not zero: relu(-1) = 0 as before, and off the kink
            dead += int(spare.sum())
            layer = Dense(W, b, layer.activation)
        elif not isinstance(layer, Dense):
            raise ValueError("the SGD experiment needs a feed-forward (Dense) memorizer")
        layers.append(layer)
    net = Network(layers, {**net.meta, "differentiable_memorizer": True})
    rep = verify(net, ds)
    if not (rep.memorized and rep.certified):
        raise ValueError("the memorizer stopped memorizing after the spare units were made dead: "
                         f"{rep.summary()}")
    rho_c = kink_distance(net, ds.X)
    if not rho_c > 0:
        raise ValueError("the memorizer is not a differentiable point of R (a pre-activation sits on a kink)")
    return net, {"construction": c.certificate.theorem, "dead_units": dead, "rho_c": rho_c,
                 "verification": rep.summary(), "worst_error": rep.worst_error, "widths": net.widths}


def _torch_forward(torch: Any, net: Network) -> tuple[Any, Any]:
    """theta* as one flat float64 vector and ``f(theta, X)`` evaluating the network at theta."""
    shapes, flat = [], []
    for layer in net.layers:
        W, b = np.asarray(layer.weight, dtype=np.float64), np.asarray(layer.bias, dtype=np.float64)
        shapes.append((W.shape, b.shape, layer.activation))
        flat += [W.ravel(), b.ravel()]
    theta = torch.tensor(np.concatenate(flat), dtype=torch.float64)

    def f(th: Any, X: Any) -> Any:
        a, off = X, 0
        for (ws, bs, act) in shapes:
            nw, nb = ws[0] * ws[1], bs[0]
            W = th[off:off + nw].view(*ws)
            b = th[off + nw:off + nw + nb]
            off += nw + nb
            z = a @ W.T + b
            if act.kind == "relu_like":
                a = float(act.s_plus) * torch.relu(z) - float(act.s_minus) * torch.relu(-z)
            elif act.kind == "hardtanh":
                a = torch.clamp(z, -1, 1)
            else:
                a = z
        return a[:, 0]

    return theta, f


def sgd_near_memorizer(net: Network, ds: Dataset, radius: float, batch: int = 4, epochs: int = 1000,
                       lr: float | None = None, seed: int = 0, log_every: int = 1) -> dict[str, Any]:
    """Start without-replacement SGD at theta* + radius·u (u a random unit vector) on the squared loss
    l(z; y) = (z - y)^2 / 2 and log, per epoch, R(theta) (R(theta*) = 0), ||xi||, ||xi_par|| = ||P xi||
    (P the projector onto span{nu_i}) and activation-pattern changes. ``lr`` defaults to
    B / (2 lambda_max(H)), H = sum_i nu_i nu_i^T (l'' = 1): a stable step for the batch Hessians."""
    torch = require_extra("torch", "torch")
    if ds.N % batch:
        raise ValueError(f"Theorem 5.1 assumes N to be a multiple of the batch size B; N={ds.N}, B={batch}")
    theta_star, f = _torch_forward(torch, net)
    X = torch.tensor(np.asarray(ds.X, dtype=np.float64))
    y = torch.tensor(np.asarray(ds.targets[:, 0], dtype=np.float64))
    N = ds.N
    nus = []
    for i in range(N):
        th = theta_star.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(th, X[i:i + 1])[0], th)
        nus.append(g)
    Nu = torch.stack(nus, dim=1)  # (P, N)
    U, S, _ = torch.linalg.svd(Nu, full_matrices=False)
    rank = int((S > S[0] * 1e-10).sum())
    Q = U[:, :rank]
    lam = (S[:rank] ** 2).numpy()  # positive eigenvalues of H
    lam_min, lam_max = float(lam.min()), float(lam.max())
    step = lr if lr is not None else batch / (2 * lam_max)
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(theta_star.shape, generator=gen, dtype=torch.float64)
    theta = theta_star + radius * u / u.norm()
    pattern0 = [np.sign(z) for z in _patterns(torch, f, theta_star, X, net)]

    def risk(th: Any) -> float:
        with torch.no_grad():
            return float(0.5 * ((f(th, X) - y) ** 2).mean())

    def norms(th: Any) -> tuple[float, float]:
        xi = th - theta_star
        return float(xi.norm()), float((Q @ (Q.T @ xi)).norm())

    log: dict[str, list[float]] = {"epoch": [], "risk": [], "xi": [], "xi_par": [], "ratio": []}

    def record(ep: int, th: Any) -> None:
        n_xi, n_par = norms(th)
        log["epoch"].append(ep)
        log["risk"].append(risk(th))
        log["xi"].append(n_xi)
        log["xi_par"].append(n_par)
        log["ratio"].append(n_par / n_xi**2 if n_xi > 0 else math.inf)

    record(0, theta)
    pattern_changes = 0
    t0 = time.perf_counter()
    E = N // batch
    for ep in range(1, epochs + 1):
        perm = torch.randperm(N, generator=gen)
        for k in range(E):
            idx = perm[k * batch:(k + 1) * batch]
            th = theta.clone().requires_grad_(True)
            L = 0.5 * ((f(th, X[idx]) - y[idx]) ** 2).mean()
            (g,) = torch.autograd.grad(L, th)
            theta = theta - step * g
        if ep % log_every == 0 or ep == epochs:
            record(ep, theta)
            pats = [np.sign(z) for z in _patterns(torch, f, theta, X, net)]
            pattern_changes += int(any(np.any(p != q) for p, q in zip(pats, pattern0, strict=True)))
    xi0 = log["xi"][0]
    par = np.array(log["xi_par"])
    contracting = bool(np.all(np.diff(par) <= 1e-15 * max(par[0], 1e-300)))
    return {
        "radius": radius, "batch": batch, "epochs": epochs, "lr": step, "rank_H": rank,
        "params": int(theta.numel()),
        "lambda_min": lam_min, "lambda_max": lam_max, "risk0": log["risk"][0], "risk_end": log["risk"][-1],
        "risk_min": float(np.min(log["risk"])), "xi0": xi0, "xi_max": float(np.max(log["xi"])),
        "xi_par0": log["xi_par"][0], "xi_par_end": log["xi_par"][-1],
        "xi_par_contracts_every_logged_epoch": contracting,
        "xi_stays_within_2xi0": bool(np.max(log["xi"]) <= 2 * xi0),
        "pattern_changes": pattern_changes, "seconds": time.perf_counter() - t0, "log": log,
    }


def _patterns(torch: Any, f: Any, th: Any, X: Any, net: Network) -> list[np.ndarray]:
    """Hidden pre-activations minus their nearest kink at parameters ``th`` (sign = activation piece)."""
    flat = th.detach().numpy()
    layers, off = [], 0
    for layer in net.layers:
        W = np.asarray(layer.weight, dtype=np.float64)
        nw, nb = W.size, W.shape[0]
        layers.append(Dense(flat[off:off + nw].reshape(W.shape), flat[off + nw:off + nw + nb],
                            layer.activation))
        off += nw + nb
    zs = _pre_activations(Network(layers, {}), X.numpy())[:-1]
    out = []
    for layer, z in zip(layers[:-1], zs, strict=True):
        if layer.activation.kind == "hardtanh":
            out.append(np.sign(z - 1) + np.sign(z + 1))
        else:
            out.append(np.sign(z))
    return out
