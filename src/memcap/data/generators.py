"""Synthetic dataset generators, including the papers' own (all offline, seeded)."""

from __future__ import annotations

import numpy as np

from memcap.data.dataset import DataError, Dataset, Task

__all__ = ["gaussian", "line", "sphere", "hard_alternating", "GENERATORS"]


def _labels(rng: np.random.Generator, n: int, task: Task, classes: int, d_y: int) -> np.ndarray:
    if task == "classification":
        if classes < 1:
            raise DataError(f"classes must be >= 1, got {classes}")
        return rng.integers(0, classes, size=n)
    y = rng.uniform(-1, 1, size=(n, d_y))
    return y[:, 0] if d_y == 1 else y


def gaussian(n: int = 100, d: int = 8, seed: int = 0, task: Task = "regression", classes: int = 2,
             d_y: int = 1) -> Dataset:
    """x_i ~ N(0, I_d); regression targets ~ U[-1, 1]^d_y or uniform random classes."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return Dataset(X, _labels(rng, n, task, classes, d_y), task=task, name=f"gaussian(n={n},d={d})")


def line(n: int = 100, d: int = 8, seed: int = 0, task: Task = "regression", classes: int = 2,
         d_y: int = 1) -> Dataset:
    """Points on one random line in R^d at random distinct positions (a degenerate, collinear set)."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    t = np.sort(rng.uniform(-1, 1, size=n))
    X = t[:, None] * u[None, :] + rng.standard_normal(d)[None, :]
    return Dataset(X, _labels(rng, n, task, classes, d_y), task=task, name=f"line(n={n},d={d})")


def sphere(n: int = 100, d: int = 8, seed: int = 0, task: Task = "regression", classes: int = 2,
           d_y: int = 1) -> Dataset:
    """Points uniform on the unit sphere S^{d-1}."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return Dataset(X, _labels(rng, n, task, classes, d_y), task=task, name=f"sphere(n={n},d={d})")


def hard_alternating(n: int = 100, d: int = 1, seed: int = 0, task: Task = "regression",
                     classes: int = 2, d_y: int = 1) -> Dataset:
    """Theorem 3.3's hard dataset (Yun et al. 2019, App. D): x_i = i·u, y_i = (-1)^i, i in [N].

    ``u`` is the first basis vector (any u != 0 works). For classification, labels are i mod 2.
    """
    u = np.zeros(d)
    u[0] = 1.0
    i = np.arange(1, n + 1)
    X = i[:, None] * u[None, :]
    y = (i % 2) if task == "classification" else (-1.0) ** i
    return Dataset(X, y, task=task, name=f"hard(n={n})")


GENERATORS = {"gaussian": gaussian, "line": line, "sphere": sphere, "hard": hard_alternating}
