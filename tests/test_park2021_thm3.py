"""park-thm3: networks of the user's widths that pass Theorem 3 memorize (certified)."""

from __future__ import annotations

import numpy as np
import pytest

import memcap
from memcap.constructions.base import ConditionError
from memcap.constructions.registry import get_method
from memcap.theory.park2021 import default_delta, theorem3


def _gauss(n: int, d: int, c: int, seed: int) -> memcap.Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    y[:c] = np.arange(c)
    return memcap.Dataset(rng.standard_normal((n, d)), y, task="classification")


def _minimal(shape, ds):
    delta = default_delta(ds)
    k = 1
    while not theorem3(shape(k), max(ds.N, 4), ds.d_x, ds.n_classes, delta)["holds"]:
        k += 1
    return shape(k)


@pytest.mark.parametrize("shape", [
    lambda m: [3] * (6 + 2 * m) + [7] * m,             # the paper's minimum-width shape
    lambda m: [5] * 3 + [9] * m + [7] * (m + 4),         # mixed widths
    lambda m: [7] * m,
])
def test_passing_widths_memorize_with_exact_widths(shape):
    ds = _gauss(50, 3, 4, 1)
    ws = _minimal(shape, ds)
    c = memcap.construct(ds, "park-thm3", widths=ws)
    assert c.verification.memorized and c.verification.certified
    assert c.network.widths == ws
    sizes = get_method("park-thm3").size_formula(ds, widths=ws)
    assert c.network.parameters == sizes["parameters"]


def test_failing_widths_are_refused_with_the_condition():
    ds = _gauss(50, 3, 4, 2)
    with pytest.raises(ConditionError, match="condition 2"):
        memcap.construct(ds, "park-thm3", widths=[3, 3])
    with pytest.raises(ConditionError, match="condition 4"):
        memcap.construct(ds, "park-thm3", widths=[7] * 20)


def test_relu_narrow_and_digits():
    full = memcap.load_dataset("builtin:digits")
    ds = memcap.Dataset(full.X[:80], full.labels[:80], task="classification")
    c = memcap.construct(ds, "park-thm3", activation="relu-narrow")
    assert c.verification.memorized and max(c.network.widths) == 7
