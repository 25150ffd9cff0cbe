import numpy as np
import pytest

import memcap
from memcap._util import atomic_write_bytes


@pytest.mark.parametrize("arithmetic", ["float64", "exact"])
def test_save_load_round_trip(tmp_path, arithmetic):
    ds = memcap.load_dataset("gen:gaussian?n=20&d=3&seed=1")
    c = memcap.construct(ds, "yun-3layer", arithmetic=arithmetic, activation="leaky:0.125")
    p = tmp_path / "net.npz"
    memcap.save(c.network, p)
    net = memcap.load(p)
    assert net.exact == (arithmetic == "exact")
    for a, b in zip(c.network.layers, net.layers, strict=True):
        assert a.activation == b.activation
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    assert net.meta["certificate"]["theorem"] == "Theorem 3.1"
    assert memcap.verify(net, ds).memorized
    assert [f.name for f in tmp_path.iterdir()] == ["net.npz"]  # no temporary left behind


def test_load_refuses_foreign_files(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a memcap network"):
        memcap.load(p)
    q = tmp_path / "junk.npz"
    q.write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot read"):
        memcap.load(q)
    with pytest.raises(FileNotFoundError):
        memcap.load(tmp_path / "missing.npz")


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    import os

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"data")
    assert list(tmp_path.iterdir()) == []


def test_to_torch_matches_float64_evaluation():
    torch = pytest.importorskip("torch")
    ds = memcap.load_dataset("builtin:digits", limit=200)
    c = memcap.construct(ds, "yun-3layer", activation="relu_like:2,1/2")
    model = c.network.to_torch()
    X = torch.as_tensor(ds.X, dtype=torch.float64)
    with torch.no_grad():
        pred = model(X).argmax(dim=1).numpy()
    assert np.array_equal(pred, ds.labels)
    out, bound = memcap.numerics.forward_float_bounded(c.network, ds.X)
    with torch.no_grad():
        t = model(X).numpy()
    exact_gap = np.abs(t - out)
    assert np.all(exact_gap <= 2 * bound + 1e-300)
