import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap import Dataset
from memcap.constructions.base import ConditionError
from memcap.constructions.yun2019 import three_layer, three_layer_sizes
from memcap.network import HARDTANH, RELU
from memcap.theory.yun2019 import three_layer_free_integers, three_layer_minimal_widths
from tests.strategies import datasets


def _grid16():
    # c_i = u^T x_i equally spaced: x on a line
    return Dataset(np.arange(1.0, 17.0)[:, None] * np.array([[1.0, 0.0]]),
                   np.linspace(-1, 1, 16), name="grid16")


def test_worked_example_sizes():
    ds = _grid16()
    ht = three_layer(ds, activation="hardtanh")
    assert ht.network.widths == [4, 4] and ht.network.parameters == 37
    relu = three_layer(ds)
    assert relu.network.widths == [8, 8] and relu.network.parameters == 105 == 4 * 16 + 10 * 4 + 1
    assert (relu.info["p"], relu.info["q"]) == (4, 4)
    # equally spaced projections: the null vector ν is all ones (.2)
    assert relu.info["nu_spread"] == pytest.approx(1.0)


def test_worked_example_layer1_in_exact_arithmetic():
    ds = _grid16()
    c = three_layer(ds, activation="hardtanh", arithmetic="exact", candidates=1)
    u = np.array(c.info["u"])
    W1 = c.network.layers[0].weight
    # W1 = (1/2, -1/2, 1/2, -1/2)^T u^T / |u_0| scale: rows alternate in sign with equal magnitude
    ratios = [W1[j, 0] / W1[0, 0] for j in range(4)]
    assert ratios == [1, -1, 1, -1]
    assert c.network.exact and u[0] != 0


@settings(max_examples=30)
@given(st.integers(1, 3000), st.integers(1, 4), st.sampled_from([RELU, HARDTANH]))
def test_minimal_widths_meet_the_condition_and_are_minimal(N, dy, act):
    d1, d2 = three_layer_minimal_widths(N, dy, act)
    p, q = three_layer_free_integers(d1, d2, dy, act)
    assert p * q >= N
    k = 1 if act == HARDTANH else 2
    # no configuration with fewer hidden neurons satisfies the condition
    for p2 in range(2, 2 * N + 2, 2):
        q2 = 2 * -(-N // (2 * p2))
        assert k * p2 + k * dy * q2 >= d1 + d2


@pytest.mark.parametrize("activation", ["relu", "hardtanh", "leaky:0.1", "relu_like:2,1/3"])
def test_digits_certified(activation):
    ds = memcap.load_dataset("builtin:digits", limit=400)
    c = memcap.construct(ds, "yun-3layer", activation=activation)
    assert c.verification.memorized and c.verification.certified
    assert c.verification.min_margin > 0.5
    assert c.network.widths == three_layer_sizes(ds, activation=activation)["widths"]


@settings(max_examples=15)
@given(datasets(task="regression"), st.sampled_from(["relu", "hardtanh"]))
def test_any_distinct_regression_data_is_memorized(ds, activation):
    c = memcap.construct(ds, "yun-3layer", activation=activation)
    assert c.verification.memorized and c.verification.certified
    assert c.verification.worst_error <= c.verification.tolerance


def test_exact_arithmetic_has_zero_error():
    ds = memcap.load_dataset("gen:gaussian?n=40&d=3&seed=5")
    c = memcap.construct(ds, "yun-3layer", arithmetic="exact", tol=0.0)
    assert c.network.exact
    assert c.verification.memorized and c.verification.worst_error == 0.0
    assert c.certificate.arithmetic == "exact"


@pytest.mark.parametrize("name,X", [
    ("line", np.linspace(0, 1, 60)[:, None] * np.ones((1, 3))),
    ("near-duplicates", np.repeat(np.eye(3), 10, axis=0) + 1e-9 * np.arange(30)[:, None]),
    ("tiny", np.random.default_rng(0).standard_normal((50, 4)) * 1e-8),
    ("huge", np.random.default_rng(1).standard_normal((50, 4)) * 1e8),
    ("wide", np.random.default_rng(2).standard_normal((30, 500))),
])
def test_hard_data(name, X):
    y = np.random.default_rng(3).uniform(-5, 5, size=len(X))
    ds = Dataset(X, y, name=name)
    c = memcap.construct(ds, "yun-3layer")
    assert c.verification.memorized and c.verification.certified, c.verification.summary()


def test_targets_are_rescaled_and_said_so():
    ds = Dataset(np.arange(10.0)[:, None], np.arange(10.0) * 100 - 7)
    c = memcap.construct(ds, "yun-3layer")
    assert any("rescaled" in n for n in c.certificate.notes)
    assert np.allclose(c.network(ds.X)[:, 0], ds.y[:, 0], atol=1e-6)


def test_multi_output_regression():
    ds = memcap.load_dataset("gen:sphere?n=50&d=4&d_y=3&seed=1")
    c = memcap.construct(ds, "yun-3layer", activation="hardtanh")
    assert c.network.out_dim == 3 and c.verification.memorized


def test_too_small_widths_refused_with_numbers():
    ds = memcap.load_dataset("gen:gaussian?n=100&d=2")
    with pytest.raises(ConditionError, match=r"widths \(8, 8\) are too small.*gives 16 < 100.*\(20, 20\)"):
        three_layer(ds, widths=(8, 8))
    with pytest.raises(ConditionError, match="identity"):
        three_layer(ds, activation="identity")


def test_user_widths_larger_than_needed_are_padded():
    ds = memcap.load_dataset("gen:gaussian?n=20&d=2")
    c = memcap.construct(ds, "yun-3layer", widths=(30, 17))
    assert c.network.widths == [30, 17] and c.verification.memorized


def test_single_point():
    ds = Dataset([[1.0, 2.0]], [0.3])
    c = memcap.construct(ds, "yun-3layer")
    assert c.verification.memorized


@settings(max_examples=15)
@given(st.integers(0, 10**6), st.integers(2, 60), st.integers(0, 6), st.integers(0, 6),
       st.sampled_from(["relu", "hardtanh"]))
def test_any_allowed_widths_memorize(seed, n, extra1, extra2, activation):
    rng = np.random.default_rng(seed)
    ds = Dataset(rng.standard_normal((n, 3)), rng.uniform(-1, 1, n))
    d1, d2 = three_layer_minimal_widths(n, 1, memcap.network.Activation.parse(activation))
    widths = (d1 + extra1, d2 + extra2)
    c = memcap.construct(ds, "yun-3layer", widths=widths, activation=activation)
    assert c.network.widths == list(widths) and c.verification.memorized
    assert c.network.parameters == three_layer_sizes(ds, widths=widths)["parameters"]
