"""Hypothesis strategies for datasets: any distinct small dataset must be memorized."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from memcap import Dataset


@st.composite
def datasets(draw, task: str = "regression", max_n: int = 24, max_d: int = 4, max_classes: int = 3,
             max_dy: int = 2) -> Dataset:
    n = draw(st.integers(2, max_n))
    d = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**31 - 1))
    kind = draw(st.sampled_from(["gauss", "grid", "line", "scaled"]))
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        X = rng.standard_normal((n, d))
    elif kind == "grid":  # many ties in every coordinate
        X = rng.integers(-3, 4, size=(n, d)).astype(float)
    elif kind == "line":  # collinear
        X = np.outer(rng.permutation(n).astype(float), rng.standard_normal(d))
    else:  # tiny and huge coordinates
        X = rng.standard_normal((n, d)) * 10.0 ** rng.integers(-6, 7)
    X = np.unique(X, axis=0)
    n = len(X)
    if task == "classification":
        c = draw(st.integers(2, max_classes))
        y = rng.integers(0, c, size=n)
        y[: min(c, n)] = np.arange(min(c, n))
    else:
        dy = draw(st.integers(1, max_dy))
        y = rng.uniform(-1, 1, size=(n, dy)) * 10.0 ** draw(st.integers(0, 3))
    return Dataset(X, y, task=task, name=f"hyp-{kind}")
