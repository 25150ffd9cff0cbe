"""zhang17-wide (Zhang et al. 2017, Theorem 1): the N-neuron 2-layer interpolator."""

import numpy as np
import pytest
from hypothesis import given, settings

import memcap
from memcap.constructions.base import ConditionError
from memcap.constructions.zhang2017 import zhang_wide, zhang_wide_sizes
from memcap.numerics import forward_exact
from tests.strategies import datasets


@settings(max_examples=10, deadline=None)
@given(ds=datasets(task="regression"))
def test_regression_certified_and_sizes(ds):
    c = memcap.construct(ds, "zhang17-wide")
    assert c.verification.memorized and c.verification.certified
    s = zhang_wide_sizes(ds)
    assert c.network.widths == s["widths"] == [ds.N] and c.network.parameters == s["parameters"]


@settings(max_examples=10, deadline=None)
@given(ds=datasets(task="classification"))
def test_classification_certified(ds):
    c = memcap.construct(ds, "zhang17-wide")
    assert c.verification.memorized and c.verification.certified


def test_exact_interpolation_and_triangular_structure():
    rng = np.random.default_rng(3)
    ds = memcap.Dataset(rng.standard_normal((15, 3)), rng.standard_normal((15, 2)))
    c = zhang_wide(ds, arithmetic="exact")
    out = forward_exact(c.network, ds.X)
    assert all(float(v) == t for row, ts in zip(out, ds.y, strict=True) for v, t in zip(row, ts, strict=True))
    # hidden unit j is active exactly on the points with rank ≥ j along a: A is lower triangular
    net = c.network.to_float()
    z = ds.X @ net.layers[0].weight.T + net.layers[0].bias
    A = (z > 0)[np.argsort(z[:, 0] - net.layers[0].bias[0])]
    assert np.array_equal(A, np.tril(np.ones((15, 15), dtype=bool)))


def test_o_n_solve_matches_dense_triangular_solve():
    rng = np.random.default_rng(1)
    ds = memcap.Dataset(rng.standard_normal((40, 2)), rng.uniform(-1, 1, 40))
    c = zhang_wide(ds)
    W1, b1 = c.network.layers[0].weight, c.network.layers[0].bias
    A = np.maximum(ds.X @ W1.T + b1, 0)
    w_dense = np.linalg.solve(A, ds.y[:, 0])
    assert np.allclose(w_dense, c.network.layers[1].weight[0], rtol=1e-6, atol=1e-6)


def test_real_data_and_conditions():
    with pytest.warns(UserWarning):
        iris = memcap.load_dataset("builtin:iris")
    assert memcap.construct(iris, "zhang17-wide").verification.memorized
    digits = memcap.load_dataset("builtin:digits", limit=300)
    assert memcap.construct(digits, "zhang17-wide").verification.certified
    with pytest.raises(ConditionError, match="d1 ≥ 300"):
        zhang_wide(digits, widths=(299,))
    with pytest.raises(ConditionError, match="ReLU"):
        zhang_wide(digits, activation="leaky:0.1")
    wide = memcap.construct(digits, "zhang17-wide", widths=(310,))
    assert wide.network.widths == [310] and wide.verification.memorized
