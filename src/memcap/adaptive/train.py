"""Training the small network that ``adaptive`` certifies: a 1-hidden-layer ReLU MLP in PyTorch.

Full-batch Adam on standardized inputs (cross-entropy for classification, mean squared error on
targets scaled to [-1, 1] for regression), single-threaded and seeded, so the same seed gives the same
weights. Growing the width warm-starts from the narrower network: its units are kept, the new units
start with zero output weights (the function is unchanged at the first step). The standardization is
folded into the first layer afterwards and every weight is rounded to float32, which is what the
certificate is about (:mod:`memcap.adaptive.repair`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from memcap._util import require_extra
from memcap.data.dataset import Dataset

__all__ = ["Trained", "train_width", "fold_float32"]


@dataclass
class Trained:
    """Weights of ``x -> W2 relu(W1 z + b1) + b2`` on standardized inputs ``z = (x - mu) / sd``
    (float64 copies of the torch float32 parameters), and what training reached."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    mu: np.ndarray
    sd: np.ndarray
    yscale: float
    steps: int
    seconds: float
    fitted: bool  # training's own stopping test (float32 torch) was met

    @property
    def width(self) -> int:
        return int(self.W1.shape[0])


def _standardize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return mu, sd


def train_width(ds: Dataset, width: int, *, seed: int = 0, steps: int = 3000, lr: float | None = None,
                warm: Trained | None = None, weights: np.ndarray | None = None, tol: float | None = None,
                check_every: int = 50, deadline: float | None = None, give_up: float | None = 0.1
                ) -> Trained:
    """Train (or continue training, with ``warm`` of the same width) a width-``width`` network.

    Stops when every point is fitted in torch float32 — margin ≥ 0.5 (classification) or
    |f - y| ≤ tol/4 (regression) — after ``steps`` steps, or at ``deadline`` (a ``time.process_time``
    value, CPU seconds; only checked every ``check_every`` steps). ``weights`` (N,) weight the per-point loss
    (the repair phase up-weights the points that failed certification) and add a margin hinge.
    ``give_up``: stop after a quarter of the steps when more than this fraction of the points is
    still unfitted (the width is too small; a wider network will be tried).
    """
    torch = require_extra("torch", "torch")
    t0 = time.process_time()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    denormal = torch.set_flush_denormal(True)  # subnormal gradients slow Adam's updates by 3-5x
    try:
        return _train(torch, ds, width, seed, steps, lr, warm, weights, tol, check_every, deadline,
                      give_up, t0)
    finally:
        torch.set_num_threads(before)
        if denormal:
            torch.set_flush_denormal(False)


def _train(torch: Any, ds: Dataset, width: int, seed: int, steps: int, lr: float | None,
           warm: Trained | None, weights: np.ndarray | None, tol: float | None, check_every: int,
           deadline: float | None, give_up: float | None, t0: float) -> Trained:
    cls = ds.task == "classification"
    X = ds.X
    mu, sd = (warm.mu, warm.sd) if warm is not None else _standardize(X)
    yscale = warm.yscale if warm is not None else (
        1.0 if cls else max(1.0, float(np.max(np.abs(ds.targets)))))
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(width))
    Z = torch.tensor((X - mu) / sd, dtype=torch.float32)
    d_x, d_y = ds.d_x, ds.d_y
    bound1 = 1.0 / np.sqrt(d_x)
    W1 = (torch.rand((width, d_x), generator=g) * 2 - 1) * bound1
    b1 = (torch.rand((width,), generator=g) * 2 - 1) * bound1
    W2 = (torch.rand((d_y, width), generator=g) * 2 - 1) / np.sqrt(width)
    b2 = torch.zeros(d_y)
    if warm is not None:  # keep the trained units; new units get zero output weights
        k = warm.width
        W1[:k] = torch.tensor(warm.W1, dtype=torch.float32)
        b1[:k] = torch.tensor(warm.b1, dtype=torch.float32)
        W2[:, :k] = torch.tensor(warm.W2, dtype=torch.float32)
        W2[:, k:] = 0.0
        b2[:] = torch.tensor(warm.b2, dtype=torch.float32)
    params = [p.requires_grad_(True) for p in (W1, b1, W2, b2)]
    opt = torch.optim.Adam(params, lr=lr if lr is not None else 0.01)
    if cls:
        Y = torch.tensor(ds.labels, dtype=torch.int64)
        rows = torch.arange(ds.N)
    else:
        Y = torch.tensor(ds.targets / yscale, dtype=torch.float32)
        goal = (tol if tol is not None else 1e-3 * yscale) / yscale / 4
    wts = None if weights is None else torch.tensor(weights / weights.mean(), dtype=torch.float32)

    def forward() -> Any:
        return torch.addmm(b2, torch.relu(torch.addmm(b1, Z, W1.T)), W2.T)

    def margins(out: Any) -> Any:
        own = out[rows, Y]
        other = out.clone()
        other[rows, Y] = -torch.inf
        return own - other.max(dim=1).values

    fitted, step = False, 0
    for step in range(1, steps + 1):
        out = forward()
        if cls:
            per = torch.nn.functional.cross_entropy(out, Y, reduction="none")
            if wts is not None:
                per = wts * (per + torch.relu(1.0 - margins(out)))
        else:
            per = ((out - Y) ** 2).mean(dim=1)
            if wts is not None:
                per = wts * per
        loss = per.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % check_every == 0 or step == steps:
            with torch.no_grad():
                o = forward()
                miss = (margins(o) < 0.5) if cls else ((o - Y).abs().max(dim=1).values > goal)
                unfit = int(miss.sum())
            fitted = unfit == 0
            if fitted or (deadline is not None and time.process_time() > deadline):
                break
            if give_up and step >= steps // 4 and unfit > give_up * ds.N:
                break  # hopeless at this width: leave it to a wider network
    as64 = [p.detach().numpy().astype(np.float64) for p in params]
    return Trained(*as64, mu=mu, sd=sd, yscale=yscale, steps=step + (warm.steps if warm else 0),
                   seconds=time.process_time() - t0 + (warm.seconds if warm else 0.0), fitted=fitted)


def f32(a: Any) -> np.ndarray:
    """Round to float32 and back: a float64 array of float32-representable values."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def fold_float32(t: Trained, ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(W1, b1, W2, b2) on raw inputs — standardization and target scale folded in — rounded to
    float32. Regression refits the output layer by least squares on the rounded hidden layer (float64,
    the best output layer for those features) before rounding it."""
    W1 = f32(t.W1 / t.sd[None, :])
    b1 = f32(t.b1 - (t.W1 / t.sd[None, :]) @ t.mu)
    if ds.task == "classification":
        return W1, b1, f32(t.W2), f32(t.b2)
    H = np.maximum(ds.X @ W1.T + b1, 0.0)
    A = np.hstack([H, np.ones((ds.N, 1))])
    sol, *_ = np.linalg.lstsq(A, ds.targets, rcond=None)
    return W1, b1, f32(sol[:-1].T), f32(sol[-1])
