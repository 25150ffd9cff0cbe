"""yun-classifier: Proposition 3.2 (Yun et al. 2019, App. C)."""

from types import SimpleNamespace

import flint
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import memcap
from memcap import Dataset
from memcap.cli import app
from memcap.constructions.base import ConditionError, Field
from memcap.constructions.registry import get_method
from memcap.constructions.yun2019.classifier import (
    class_numbers,
    classifier_sizes,
    four_layer_classifier,
)
from memcap.data.generators import hard_alternating, line
from memcap.numerics import forward_exact
from tests.strategies import datasets

ACTS = ["relu", "hardtanh", "leaky:0.1", "relu_like:2,1/3"]


def _example16(classes=3):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 2))
    y = np.arange(16) % classes
    return Dataset(X, y, task="classification", name="ex16")


def test_worked_example_sizes():
    #: N = 16, dx = 2, dy = 3, ReLU 8-8-12, P = 24 + 72 + 108 + 39 = 243
    ds = _example16()
    c = four_layer_classifier(ds)
    assert c.network.widths == [8, 8, 12] and c.network.parameters == 243
    assert classifier_sizes(ds) == {"widths": [8, 8, 12], "depth": 4, "parameters": 243}
    ht = four_layer_classifier(ds, activation="hardtanh")
    assert ht.network.widths == [4, 4, 6] and ht.network.parameters == 12 + 20 + 30 + 21
    g3 = four_layer_classifier(ds, gate="3unit")
    assert g3.network.widths == [8, 8, 9] and g3.network.parameters == 24 + 72 + 81 + 30
    for built in (c, ht, g3):
        rep = memcap.verify(built.network, ds)
        assert rep.memorized and rep.certified


def test_imagenet_arithmetic():
    # Sec. 3.2: N = 1e6, dy = 1e3 fits in ReLU 2000-2000-4000 (4·500·500 = 1e6)
    fake = SimpleNamespace(N=10**6, d_x=3 * 224 * 224, d_y=1000)
    assert classifier_sizes(fake)["widths"] == [2000, 2000, 4000]
    assert classifier_sizes(fake, gate="3unit")["widths"] == [2000, 2000, 3000]
    assert classifier_sizes(fake, activation="hardtanh")["widths"] == [1000, 1000, 2000]


def test_class_numbers_equally_spaced():
    rho, h = class_numbers(5, Field("exact"))
    assert [str(r) for r in rho] == ["-1", "-1/2", "0", "1/2", "1"] and h == flint.fmpq(1, 2)
    rho1, _ = class_numbers(1, Field("exact"))
    assert list(rho1) == [0]


def test_exact_arithmetic_outputs_the_one_hot_vectors():
    ds = memcap.load_dataset("builtin:iris")
    for gate in ("paper", "3unit"):
        c = four_layer_classifier(ds, arithmetic="exact", gate=gate)
        out = forward_exact(c.network, ds.X)
        onehot = ds.targets
        assert all(out[i][j] == int(onehot[i, j]) for i in range(ds.N) for j in range(ds.d_y))


@pytest.mark.parametrize("activation", ACTS)
def test_digits_certified(activation):
    ds = memcap.load_dataset("builtin:digits")
    c = memcap.construct(ds, "yun-classifier", activation=activation)
    rep = c.verification
    assert rep.memorized and rep.certified and rep.min_margin > 0.5
    assert c.network.widths == classifier_sizes(ds, activation=activation)["widths"]


@settings(max_examples=15)
@given(ds=datasets(task="classification", max_classes=5), act=st.sampled_from(ACTS),
       gate=st.sampled_from(["paper", "3unit"]))
def test_random_data_is_memorized(ds, act, gate):
    if act == "hardtanh":
        gate = "paper"
    c = memcap.construct(ds, "yun-classifier", activation=act, gate=gate)
    assert c.verification.memorized and c.verification.certified
    assert c.network.widths == classifier_sizes(ds, activation=act, gate=gate)["widths"]


@settings(max_examples=10)
@given(ds=datasets(task="classification", max_classes=4), extra=st.tuples(*[st.integers(0, 5)] * 3))
def test_any_wider_widths_work(ds, extra):
    d1, d2, d3 = classifier_sizes(ds)["widths"]
    ws = (d1 + extra[0], d2 + extra[1], d3 + extra[2])
    c = memcap.construct(ds, "yun-classifier", widths=ws)
    assert c.network.widths == list(ws) and c.verification.certified


def _adversarial():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((30, 3))
    near = np.concatenate([X, X + 1e-9 * rng.standard_normal(X.shape)])
    yield Dataset(near, rng.integers(0, 4, size=60), task="classification", name="near-duplicates")
    yield line(n=80, d=5, seed=3, task="classification", classes=5)
    yield hard_alternating(n=120, d=2, task="classification")
    yield Dataset(np.arange(40.0)[:, None] * 1e6, np.arange(40) % 7, task="classification", name="huge")


@pytest.mark.parametrize("ds", list(_adversarial()), ids=lambda d: d.name)
def test_adversarial_data(ds):
    for act in ("relu", "hardtanh"):
        c = memcap.construct(ds, "yun-classifier", activation=act)
        assert c.verification.memorized and c.verification.certified


def test_broken_conditions_raise_with_numbers():
    ds = _example16()
    with pytest.raises(ConditionError, match=r"d3 ≥ 4·d_y.*d3=11.*needed=12"):
        four_layer_classifier(ds, widths=(8, 8, 11))
    with pytest.raises(ConditionError, match=r"lhs=8.*N=16"):
        four_layer_classifier(ds, widths=(8, 7, 12))
    with pytest.raises(ConditionError, match="3 hidden widths"):
        four_layer_classifier(ds, widths=(8, 8))
    with pytest.raises(ConditionError, match="classification"):
        four_layer_classifier(Dataset(ds.X, np.linspace(0, 1, 16)))
    with pytest.raises(ValueError, match="ReLU-like"):
        four_layer_classifier(ds, activation="hardtanh", gate="3unit")
    # the 3-unit gate needs only 3 d_y
    assert memcap.construct(ds, "yun-classifier", widths=(8, 8, 9), gate="3unit").verification.certified
    m = get_method("yun-classifier")
    with pytest.raises(ConditionError):
        memcap.construct(ds, "yun-classifier", **m.break_condition(ds))


def test_cli_digits(tmp_path):
    out = tmp_path / "x.npz"
    r = CliRunner().invoke(app, ["construct", "--data", "builtin:digits", "--method", "yun-classifier",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "certified" in r.stdout and out.exists()
    r = CliRunner().invoke(app, ["verify", str(out), "--data", "builtin:digits"])
    assert r.exit_code == 0, r.output
    bad = tmp_path / "bad.npz"
    r = CliRunner().invoke(app, ["construct", "--data", "builtin:digits", "--method", "yun-classifier",
                                 "--widths", "72,100,39", "-o", str(bad)])
    assert r.exit_code == 2 and not bad.exists() and "needed=40" in r.output.replace("\n", "")


def test_cli_method_options(tmp_path):
    out = tmp_path / "g.npz"
    r = CliRunner().invoke(app, ["construct", "-d", "builtin:iris", "-m", "yun-classifier",
                                 "--option", "gate=3unit", "--option", "margin=0.5", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert memcap.load(out).widths == [20, 32, 9]
    r = CliRunner().invoke(app, ["construct", "-d", "builtin:iris", "-m", "yun-classifier",
                                 "--option", "gat=3unit", "-o", str(tmp_path / "h.npz")])
    assert r.exit_code == 2 and "no option 'gat'" in r.output
    r = CliRunner().invoke(app, ["construct", "-d", "builtin:iris", "-m", "yun-classifier",
                                 "--option", "gate", "-o", str(tmp_path / "h.npz")])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
