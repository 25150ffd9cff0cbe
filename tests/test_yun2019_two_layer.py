"""Corollary 4.2 (yun-2layer-gp): sizes, CIFAR-10 arithmetic, certified memorization, refusals."""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.constructions.base import ConditionError
from memcap.constructions.yun2019.resnet import resnet_sizes, thm41_theorem_width
from memcap.constructions.yun2019.two_layer import gate_unit_rows, two_layer_gp, two_layer_gp_sizes
from memcap.network import HARDTANH, RELU, Activation
from memcap.theory.general_position import general_position
from memcap.theory.yun2019 import cor42_theorem_width, gate_count


def _cifar_like():
    """A stand-in with CIFAR-10's shape (N = 50000, d_x = 3072, 10 classes of 5000) for size formulas."""
    labels = np.repeat(np.arange(10), 5000)
    return SimpleNamespace(N=50000, d_x=3072, d_y=10, labels=labels, task="classification")


def test_cifar10_arithmetic_of_section_4():
    # Sec. 4: "126 ReLUs for ResNets and 106 ReLUs for 2-layer FNNs"
    assert cor42_theorem_width(50000, 3072, 10, RELU) == 106
    assert thm41_theorem_width(50000, 3072, 10, RELU) == 126
    assert gate_count([5000] * 10, 3072) == 20
    s = two_layer_gp_sizes(_cifar_like())
    assert s["gates"] == 20 and s["theorem_width"] == 106
    assert s["widths"] == [80]  # the construction needs only 4·G = 80 ReLUs
    assert s["parameters"] == 80 * 3073 + 10 * 81
    assert two_layer_gp_sizes(_cifar_like(), gate=3)["widths"] == [60]
    assert two_layer_gp_sizes(_cifar_like(), activation="hardtanh")["widths"] == [40]
    assert cor42_theorem_width(50000, 3072, 10, HARDTANH) == 53  # 2N/d_x + 2d_y = 52.55
    r = resnet_sizes(_cifar_like())
    assert r["theorem_hidden"] == 126 and sum(r["widths"]) == 80 + 20


def _gauss(n, d, classes, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)
    return memcap.Dataset(rng.standard_normal((n, d)), y, task="classification", name="gauss")


@pytest.mark.parametrize(("activation", "gate"), [("relu", None), ("relu", 3), ("hardtanh", None),
                                                  ("leaky:0.1", None), ("relu_like:2,1/3", 3)])
def test_gate_identity(activation, gate):
    """Each gate's units reproduce σ_G(t) = max(0, 1 - |t|) up to the stated offset."""
    act = Activation.parse(activation)
    k = 2 if act == HARDTANH else (gate or 4)
    units, offset = gate_unit_rows(act, k)
    t = np.linspace(-3, 3, 601)
    from memcap.numerics import _act_float

    g = sum(float(o) * _act_float(a * t + b, act) for a, b, o in units) + float(offset)
    assert np.allclose(g, np.maximum(0, 1 - np.abs(t)), atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 5), classes=st.integers(1, 4), seed=st.integers(0, 10**6),
       activation=st.sampled_from(["relu", "hardtanh", "leaky:0.2"]), gate=st.sampled_from([None, 3]))
def test_certified_on_random_data_and_sizes_match(n, d, classes, seed, activation, gate):
    if activation == "hardtanh":
        gate = None
    ds = _gauss(max(n, classes), d, classes, seed)
    c = memcap.construct(ds, "yun-2layer-gp", activation=activation, gate=gate)
    assert c.verification.memorized and c.verification.certified
    s = two_layer_gp_sizes(ds, activation=activation, gate=gate)
    assert c.network.widths == s["widths"] and c.network.parameters == s["parameters"]
    assert c.network.depth == 2
    # never more than the paper's width
    assert s["widths"][0] <= s["theorem_width"]


def test_exact_arithmetic_outputs_are_exactly_one_hot():
    ds = _gauss(25, 3, 3, 7)
    c = two_layer_gp(ds, arithmetic="exact", margin=0)
    from memcap.numerics import forward_exact

    out = forward_exact(c.network, ds.X)
    assert all([int(v == 1) for v in row] == list(t.astype(int)) and all(v in (0, 1) for v in row)
               for row, t in zip(out, ds.targets, strict=True))


def test_digits_refused_naming_the_degenerate_subset():
    ds = memcap.load_dataset("builtin:digits")
    with pytest.raises(ConditionError) as e:
        two_layer_gp(ds)
    msg = str(e.value)
    assert "Assumption 4.1" in msg and "x_0 = 0" in msg and "(65 points)" in msg
    gp = general_position(ds.X)
    assert gp.holds is False and len(gp.subset) == 65
    assert np.all(ds.X[gp.subset, 0] == 0)  # the named hyperplane really contains them


def test_iris_refused_naming_the_degenerate_subset():
    with pytest.warns(UserWarning):
        ds = memcap.load_dataset("builtin:iris")
    gp = general_position(ds.X)
    assert gp.holds is False and len(gp.subset) == 5
    j = int(gp.description.split("_")[1].split()[0])
    assert len(set(ds.X[gp.subset, j])) == 1
    with pytest.raises(ConditionError, match=r"\[4, 7, 25, 26, 35\]"):
        memcap.construct(ds, "yun-2layer-gp")


def test_real_digits_projected_to_general_position_is_certified():
    """Real digits images under a fixed random linear map R^64 -> R^16 (generic: no named degeneracy)."""
    ds = memcap.load_dataset("builtin:digits", limit=400)
    R = np.random.default_rng(0).standard_normal((64, 16))
    P = memcap.Dataset(ds.X @ R, ds.y, task="classification", name="digits@R")
    c = memcap.construct(P, "yun-2layer-gp")
    assert c.verification.memorized and c.verification.certified
    assert c.network.widths == [4 * c.info["G"]] and c.info["G"] == gate_count(np.bincount(P.labels), 16)
    assert c.info["general_position"] is None  # C(400, 16) subsets: only the per-gate check ran


def test_collinear_points_found_by_the_exhaustive_check():
    ds = _gauss(12, 2, 2, 3)
    X = ds.X.copy()
    X[5] = 3 * X[1] - 2 * X[2]  # exactly collinear with points 1 and 2 (integer combination)
    X[[1, 2, 5]] = np.round(X[[1, 2, 5]])
    X[5] = 3 * X[1] - 2 * X[2]
    bad = memcap.Dataset(X, ds.y, task="classification")
    gp = general_position(bad.X)
    assert gp.holds is False and gp.method == "exhaustive" and {1, 2, 5} <= set(gp.subset)
    with pytest.raises(ConditionError, match="Assumption 4.1"):
        two_layer_gp(bad)


def test_gate_check_catches_degeneracy_the_budgeted_check_missed():
    """With the exhaustive test over budget, a gate whose hyperplane holds a third point is refused."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 2))
    X[:3] = [[0.0, 0.0], [1.0, 1.0], [3.0, 3.0]]  # points 0 and 1 share a gate; 2 is on their line
    y = np.zeros(60, dtype=int)
    y[2:] = rng.integers(0, 2, 58)
    ds = memcap.Dataset(X, y, task="classification")
    with pytest.raises(ConditionError, match=r"\[0, 1, 2\]"):
        two_layer_gp(ds, gp_budget=10)


def test_width_conditions():
    ds = _gauss(20, 2, 2, 1)
    s = two_layer_gp_sizes(ds)
    with pytest.raises(ConditionError, match="too small"):
        two_layer_gp(ds, widths=(s["widths"][0] - 1,))
    wide = memcap.construct(ds, "yun-2layer-gp", widths=(s["widths"][0] + 5,))
    assert wide.network.widths == [s["widths"][0] + 5] and wide.verification.memorized
    with pytest.raises(ConditionError, match="classification"):
        two_layer_gp(memcap.Dataset(ds.X, np.arange(20.0)))
    with pytest.raises(ConditionError, match="gate"):
        two_layer_gp(ds, activation="hardtanh", gate=3)
