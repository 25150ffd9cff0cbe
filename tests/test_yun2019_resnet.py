"""Theorem 4.1 (yun-resnet): certified memorization, sizes, errata, refusals, export."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.constructions.base import ConditionError
from memcap.constructions.yun2019.resnet import resnet, resnet_sizes
from memcap.network import Residual


def _gauss(n, d, classes, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)
    return memcap.Dataset(rng.standard_normal((n, d)), y, task="classification", name="gauss")


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 30), d=st.integers(2, 5), classes=st.integers(2, 3), seed=st.integers(0, 10**6),
       activation=st.sampled_from(["relu", "hardtanh", "leaky:0.2"]), gate=st.sampled_from([None, 3]),
       layers=st.integers(1, 4))
def test_certified_on_random_data_and_sizes_match(n, d, classes, seed, activation, gate, layers):
    classes = min(classes, d)
    if activation == "hardtanh":
        gate = None
    ds = _gauss(n, d, classes, seed)
    c = memcap.construct(ds, "yun-resnet", activation=activation, gate=gate, layers=layers)
    assert c.verification.memorized and c.verification.certified
    s = resnet_sizes(ds, activation=activation, gate=gate, layers=layers)
    net = c.network
    assert net.widths == s["widths"] and net.parameters == s["parameters"] and net.depth == s["depth"]
    assert sum(isinstance(layer, Residual) for layer in net.layers) == min(layers, s["gates"])
    assert net.widths[-1] == (1 if activation == "hardtanh" else 2) * ds.d_y


def test_one_gate_per_layer_uses_moved_points():
    """Every gate in its own residual layer: later gates see earlier groups already pushed."""
    ds = _gauss(30, 2, 2, 11)
    c = resnet(ds, layers=100)
    G = c.info["G"]
    assert c.info["residual_layers"] == G == sum(-(-int(n) // 2) for n in np.bincount(ds.labels))
    rep = memcap.verify(c.network, ds)
    assert rep.memorized and rep.certified
    # the pushes are real: the class coordinate of chosen points ends beyond x^max + 1
    h = ds.X.copy()
    for layer in c.network.layers[:G]:
        h = h + np.maximum(h @ layer.U.T + layer.b, 0) @ layer.V.T + layer.c
    for k in range(2):
        inside = ds.labels == k
        assert np.all(h[inside, k] >= ds.X[:, k].max() + 1 - 1e-9)
        assert np.all(h[~inside, k] <= ds.X[:, k].max() + 1e-9)


def test_four_unit_gate_offsets_are_absorbed_by_c():
    """Erratum: with 4-unit ReLU gates c^l ≠ 0; with 3-unit gates c^l = 0."""
    ds = _gauss(20, 3, 2, 2)
    four = resnet(ds, layers=1)
    three = resnet(ds, layers=1, gate=3)
    assert np.any(four.network.layers[0].c != 0)
    assert np.all(three.network.layers[0].c == 0)
    assert memcap.verify(four.network, ds).memorized and memcap.verify(three.network, ds).memorized


def test_packing_erratum_paper_condition_is_not_enough():
    """Σ d_l ≥ 4N/d_x + 4d_y holds, but width-3 layers host no 4-unit gate."""
    ds = _gauss(12, 3, 2, 4)
    G = resnet_sizes(ds)["gates"]
    ws = (3,) * (4 * G + 8) + (4,)
    with pytest.raises(ConditionError, match="⌊d_l/4⌋"):
        resnet(ds, widths=ws)
    ok = memcap.construct(ds, "yun-resnet", widths=(3,) * (3 * G) + (4,), gate=3)
    assert ok.verification.memorized


def test_refusals():
    with pytest.raises(ConditionError, match="d_x ≥ d_y"):
        resnet(_gauss(10, 2, 3, 0))
    with pytest.raises(ConditionError, match="classification"):
        resnet(memcap.Dataset(np.eye(3), [0.1, 0.2, 0.3]))
    ds = memcap.load_dataset("builtin:digits")
    with pytest.raises(ConditionError, match="x_0 = 0"):
        resnet(ds)
    ds = _gauss(20, 2, 2, 1)
    with pytest.raises(ConditionError, match="d_L"):
        resnet(ds, widths=(40, 3))


def test_exact_and_torch_export_agree():
    torch = pytest.importorskip("torch")
    ds = _gauss(25, 3, 3, 9)
    c = memcap.construct(ds, "yun-resnet", arithmetic="exact", layers=3)
    assert c.network.exact and c.verification.memorized
    from memcap.numerics import forward_exact

    out = forward_exact(c.network, ds.X)
    assert all(int(np.argmax([float(v) for v in row])) == y for row, y in zip(out, ds.labels, strict=True))
    m = c.network.to_float().to_torch(torch.float64)
    o = m(torch.tensor(ds.X)).detach().numpy()
    assert np.abs(o - c.network.to_float()(ds.X)).max() < 1e-9
    assert np.all(o.argmax(1) == ds.labels)


def test_real_digits_projected_certified():
    ds = memcap.load_dataset("builtin:digits", limit=300)
    R = np.random.default_rng(0).standard_normal((64, 16))
    P = memcap.Dataset(ds.X @ R, ds.y, task="classification", name="digits@R")
    c = memcap.construct(P, "yun-resnet")
    assert c.verification.memorized and c.verification.certified
    assert c.network.widths == resnet_sizes(P)["widths"]
