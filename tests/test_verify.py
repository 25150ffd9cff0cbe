import numpy as np
import pytest

import memcap
from memcap import Dataset
from memcap.network import Dense, Network


def _built(n=30, task="regression"):
    ds = memcap.load_dataset(f"gen:gaussian?n={n}&d=3&seed=7&task={task}&classes=3")
    return ds, memcap.construct(ds, "yun-3layer").network


def test_broken_network_is_caught():
    ds, net = _built()
    layers = list(net.layers)
    out = layers[-1]
    layers[-1] = Dense(out.weight, out.bias + 1e-3, out.activation)
    rep = memcap.verify(Network(layers), ds)
    assert not rep.memorized and rep.certified and len(rep.failing) == ds.N


def test_single_point_off_by_a_hair_is_caught_exactly():
    # a network whose error is exactly tol at one point and tol + 2^-60 at another: only exact
    # arithmetic separates them
    X = np.array([[0.0], [1.0]])
    tol = 2.0**-20
    net = Network([Dense(np.array([[2.0**-60]]), np.array([tol]))])
    ds = Dataset(X, [0.0, 0.0])
    rep = memcap.verify(net, ds, tol=tol)
    assert rep.failing == [1] and rep.certified
    assert rep.tiers.get("exact-int") == 1  # decided by exact integer evaluation


def test_classification_margin_and_float_fields():
    ds, net = _built(task="classification")
    rep = memcap.verify(net, ds)
    assert rep.memorized and rep.min_margin > 0 and rep.tolerance is None
    assert rep.bits_needed is not None and rep.bits_needed > 10
    assert rep.float64_bound >= 0 and rep.float32_bound >= rep.float64_bound


def test_verify_checks_dimensions():
    ds, net = _built()
    other = memcap.load_dataset("gen:gaussian?n=30&d=4")
    with pytest.raises(ValueError, match="expects 3 inputs"):
        memcap.verify(net, other)
    with pytest.raises(ValueError, match="tol applies to regression"):
        cds, cnet = _built(task="classification")
        memcap.verify(cnet, cds, tol=0.1)


def test_float32_certificate_agrees_with_torch():
    torch = pytest.importorskip("torch")
    ds = memcap.load_dataset("gen:gaussian?n=12&d=2&seed=3")
    c = memcap.construct(ds, "yun-3layer")
    rep = c.verification
    model = c.network.to_torch(torch.float32)
    with torch.no_grad():
        y32 = model(torch.as_tensor(ds.X, dtype=torch.float32)).double().numpy()
    err = np.abs(y32 - ds.targets).max()
    # the certified statement: |float32 - y| <= exact error + certified float32 bound
    assert err <= rep.worst_error + rep.float32_bound


def test_classification_reports_measured_margins_not_distance_to_one_hot():
    torch = pytest.importorskip("torch")
    ds, net = _built(task="classification")
    rep = memcap.verify(net, ds)
    model = net.to_torch(torch.float64)
    with torch.no_grad():
        f = model(torch.as_tensor(ds.X, dtype=torch.float64)).numpy()
    own = f[np.arange(ds.N), ds.labels]
    rival = np.where(np.eye(ds.d_y, dtype=bool)[ds.labels], -np.inf, f).max(axis=1)
    margin = float(np.min(own - rival))
    assert margin > 0
    # a memorizer has positive measured margins (not "error 4" against one-hot targets)
    assert rep.float64_error == pytest.approx(margin, rel=1e-9, abs=1e-9)
    assert rep.float32_error == pytest.approx(margin, rel=1e-3, abs=1e-3) and rep.float32_error > 0
    assert rep.float32_measured_memorizes
    assert "smallest margin" in rep.summary()
