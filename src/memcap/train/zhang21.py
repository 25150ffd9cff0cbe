"""The narrow-net training regime of Zhang, Zhang, Hong, Sun & Luo (NeurIPS 2021).

"When Expressivity Meets Trainability: Fewer than n Neurons Can Work". Pieces, with the paper's symbols:

- the pairwise network (6): ``f(x; w, v) = sum_{j<=m/2} v_j [sigma(w_j^T x) - sigma(w_{j+m/2}^T x)]``;
- the mirrored LeCun initialization (Algorithm 1): ``w_j^0 ~ N(0, I_d/d)``, ``v_j^0 ~ N(0, 1/m)`` for
  ``j <= m/2``, then ``w_{j+m/2}^0 = +w_j^0`` — the same sign, as in Algorithm 1, the code and (F.13);
  App. E.1 prints ``-w_j^0``, which with tanh does not give a zero output (erratum ZZHSL-7);
- the constraint set of problem (7): ``B_eps(w^0) = {||w - w^0||_F <= eps}`` (one Frobenius ball over
  the whole hidden matrix, centred at the initialization) and ``B_{zeta,kappa} = {v >= zeta 1,
  v_j / v_j' <= kappa}``, with their Euclidean projections (projected gradient descent, Algorithm 2).

Where the paper's printed procedure is wrong we implement what the theory requires:

- ``projectv`` of App. H.1 is not a projection (it moves one entry per call, indexes a (1, m/2) tensor
  with a flat index — an IndexError — and hard-codes kappa = 1, zeta = 1e-3; erratum ZZHSL-3). We use
  the exact Euclidean projection onto B_{zeta,kappa} (:func:`project_v`).
- v^0 ~ N(0, 1/m) is outside B_{zeta,kappa} (negative entries; ZZHSL-2). With ``v_projection="exact"``
  v is projected once before the first step so that every iterate is feasible, as (7) requires.
- The paper says v "never touches the boundary" for kappa = 1, but with kappa = 1 the feasible set is a
  ray (all v_j equal, ZZHSL-1) so every feasible v is on the boundary; the experiments were evidently run
  without projecting v. ``v_projection="off"`` reproduces that ("as run").
- Theorem 2 needs the activation to be analytic with sigma' != 0 (tanh; softplus; ZZHSL-6); ReLU is allowed
  as the experiments' option but is outside the theory (ZZHSL-5).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ZETA", "KAPPA", "EPS", "MOMENTUM", "LR_W", "LR_V", "EPS_GRID", "LR_GRID", "STEPS_SYNTHETIC",
           "EPS_RANDOM_LABELS", "LR_RANDOM_LABELS", "mirrored_lecun_init", "project_ball", "project_v",
           "pairwise_output", "min_width", "legacy_projectv", "in_constraint_set"]

#: B_{zeta,kappa}: v >= ZETA (App. H.2)
ZETA = 1e-3
#: B_{zeta,kappa}: v_j / v_j' <= KAPPA (App. H.2; kappa = 1 forces all v_j equal, erratum ZZHSL-1)
KAPPA = 1.0
#: default radius of B_eps(w^0): the paper's random-label CIFAR-10 value (App. H.6)
EPS = 10.0
#: heavy-ball momentum of the synthetic experiments (App. H.2), torch SGD convention
MOMENTUM = 0.9
#: default learning rates (hidden / output) for the mean-squared loss; best pair of the quick grid
LR_W = 0.1
LR_V = 0.1
#: eps grid of Fig. 4 (synthetic, MNIST, CIFAR); 1000 is the paper's stand-in for "unconstrained"
EPS_GRID: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8, 1.0, 2.0, 4.0, 8.0, 10.0, 1000.0)
#: lr_1 (hidden) and lr_2 (output) grid of the synthetic experiment (App. H.2): 49 pairs, best reported
LR_GRID: tuple[float, ...] = (1e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1, 5e-1)
#: iterations of the synthetic experiment (App. H.2)
STEPS_SYNTHETIC = 200_000
#: random-label CIFAR-10 (App. H.6): eps = 10, initial lr 0.1
EPS_RANDOM_LABELS = 10.0
LR_RANDOM_LABELS = 0.1


def min_width(n: int, d: int) -> int:
    """Assumption 1: the smallest even m with m >= 2n/d (equivalently (m/2)·d >= n)."""
    return 2 * max(1, math.ceil(n / d))


def mirrored_lecun_init(torch: Any, G: int, m: int, d: int, C: int, generator: Any,
                        init: str = "lecun_normal", dtype: Any = None) -> tuple[Any, Any]:
    """Algorithm 1 for ``G`` independent copies: returns ``W0 (G, m, d)`` with ``W0[:, m/2:] = W0[:, :m/2]``
    and ``v0 (G, m/2, C)``. ``init="torch_default"`` draws the halves from nn.Linear's default
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) — what the paper's code actually did (erratum ZZHSL-13)."""
    if m % 2:
        raise ValueError(f"the pairwise network needs an even width m (Assumption 1), got m = {m}")
    h = m // 2
    Wh = _draw(torch, (G, h, d), d, init, generator, dtype)
    v0 = _draw(torch, (G, h, C), m, init, generator, dtype)
    return torch.cat([Wh, Wh], dim=1), v0


def _draw(torch: Any, shape: tuple[int, ...], fan: int, init: str, generator: Any, dtype: Any) -> Any:
    if init == "lecun_normal":
        return torch.randn(shape, generator=generator, dtype=dtype) / math.sqrt(fan)
    if init == "torch_default":
        return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) / math.sqrt(fan)
    raise ValueError(f"init must be lecun_normal or torch_default, got {init!r}")


def pairwise_output(v: Any) -> Any:
    """The effective (G, m, C) output matrix ``[v; -v]`` of eq. (6)."""
    import torch

    return torch.cat([v, -v], dim=1)


def project_ball(W: Any, W0: Any, eps: float | None) -> Any:
    """Projection onto ``B_eps(W0)`` per grid element: ``W0 + (W - W0) · min(1, eps / ||W - W0||_F)``.
    ``eps=None`` is the unconstrained problem."""
    if eps is None or math.isinf(eps):
        return W
    D = W - W0
    norm = D.flatten(1).norm(dim=1).clamp_min(1e-300)
    scale = (eps / norm).clamp(max=1.0)
    return W0 + D * scale.view(-1, *([1] * (W.dim() - 1)))


def project_v(u: Any, zeta: float = ZETA, kappa: float = KAPPA, iters: int = 100) -> Any:
    """Exact Euclidean projection onto ``B_{zeta,kappa}`` of each column of ``u`` (shape (G, k, C)).

    The set is ``union_{a >= zeta} [a, kappa·a]^k`` (convex), so ``P(u) = clip(u, a*, kappa·a*)`` with
    ``a* = argmin_{a >= zeta} g(a)``, ``g(a) = sum_j dist(u_j, [a, kappa a])^2`` convex. ``g'(a) =
    2 sum (a - u_j)_+ - 2 kappa sum (u_j - kappa a)_+`` is non-decreasing: bisection on [zeta,
    max(zeta, max u)] (g' >= 0 at the right end). kappa = 1 has the closed form a* = max(zeta, mean u).
    """
    import torch

    if kappa < 1 or zeta <= 0:
        raise ValueError(f"B_(zeta,kappa) needs zeta > 0 and kappa >= 1, got zeta={zeta}, kappa={kappa}")
    if kappa == 1:
        a = u.mean(dim=1, keepdim=True).clamp_min(zeta)
        return a.expand_as(u).clone()
    lo = torch.full_like(u[:, :1, :], zeta)
    hi = torch.maximum(u.max(dim=1, keepdim=True).values, lo)

    def gprime(a: Any) -> Any:
        return (a - u).clamp_min(0).sum(dim=1, keepdim=True) - kappa * (u - kappa * a).clamp_min(0).sum(
            dim=1, keepdim=True)

    at_zeta = gprime(lo) >= 0
    for _ in range(iters):
        mid = (lo + hi) / 2
        pos = gprime(mid) >= 0
        hi = torch.where(pos, mid, hi)
        lo = torch.where(pos, lo, mid)
    a = torch.where(at_zeta, torch.full_like(lo, zeta), (lo + hi) / 2)
    return torch.minimum(torch.maximum(u, a), kappa * a)


def legacy_projectv(v: Any) -> Any:
    """The paper's printed ``projectv`` (App. H.1), for comparison only — it is NOT a projection.

    Ported on a flat vector (the printed version indexes a (1, m/2) tensor with a flat index, which
    raises IndexError unless the arg-min is entry 0, erratum ZZHSL-3). It moves one entry per call, tests
    the ratio with the pre-clipping minimum and hard-codes zeta = 1e-3, kappa = 1, so its output can be
    infeasible: ``legacy_projectv([-1, 5]) = [0.001, 5]``. Never used by :func:`memcap.train.train`.
    """
    v = v.clone().flatten()
    vmax, argmax = v.max(), int(v.argmax())
    vmin, argmin = v.min(), int(v.argmin())
    if vmin < 0.001:
        v[argmin] = 0.001
    if vmax / vmin > 1:
        v[argmax] = 1 * vmin
    return v


def in_constraint_set(W: Any, W0: Any, v: Any | None, eps: float | None, zeta: float, kappa: float,
                      rtol: float = 1e-12) -> bool:
    """Whether every grid element satisfies ``||W - W0||_F <= eps`` and (if given) ``v in B_{zeta,kappa}``
    up to relative rounding ``rtol``."""
    ok = True
    if eps is not None and not math.isinf(eps):
        ok &= bool(((W - W0).flatten(1).norm(dim=1) <= eps * (1 + rtol)).all())
    if v is not None:
        vmin = v.min(dim=1).values
        vmax = v.max(dim=1).values
        ok &= bool((vmin >= zeta * (1 - rtol)).all()) and bool((vmax <= kappa * vmin * (1 + rtol)).all())
    return ok
