"""Sparse layers: every evaluation tier gives the dense layer's answer, save/load keeps the CSR form,
torch keeps it sparse (and agrees in float32 within the certified bound), ONNX writes it dense and
refuses beyond its size limit; counts report stored and dense parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

import memcap
from memcap.errors import OptionError
from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network, sparse_if_smaller
from memcap.numerics import forward_balls, forward_exact, forward_float, forward_float_bounded


def _pair(seed: int, density: float = 0.25, act: Activation = RELU) -> tuple[Network, Network]:
    rng = np.random.default_rng(seed)
    shapes = [(30, 5), (20, 30), (3, 20)]
    dense_layers, sparse_layers = [], []
    for k, (o, i) in enumerate(shapes):
        W = rng.standard_normal((o, i)) * (rng.random((o, i)) < density) * 10.0 ** rng.integers(-2, 3)
        b = rng.standard_normal(o) * (rng.random(o) < 0.5)
        a = IDENTITY if k == len(shapes) - 1 else act
        dense_layers.append(Dense(W, b, a))
        sparse_layers.append(Dense(sparse.csr_matrix(W), b.copy(), a))
    return Network(dense_layers), Network(sparse_layers)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), density=st.sampled_from([0.05, 0.25, 0.6]),
       act=st.sampled_from([RELU, HARDTANH, Activation.parse("leaky:0.125")]))
def test_tiers_agree_between_sparse_and_dense(seed: int, density: float, act: Activation) -> None:
    dn, sn = _pair(seed, density, act)
    X = np.random.default_rng(seed + 1).standard_normal((9, 5))
    ex_d, ex_s = forward_exact(dn, X), forward_exact(sn, X)
    assert ex_d == ex_s  # exact rationals: identical
    exact = np.array([[float(v) for v in row] for row in ex_d])
    for dtype in (np.float64, np.float32):
        for net in (dn, sn):
            out, bnd = forward_float_bounded(net, X, dtype)
            assert np.all(np.abs(out - exact) <= bnd * (1 + 1e-12) + 1e-300)
            plain = forward_float(net, X, dtype).astype(np.float64)
            assert np.all(np.abs(plain - exact) <= bnd * (1 + 1e-12) + 1e-300)
        # the bound is computed from the same stored non-zeros: equal up to the computed values
        _, b_d = forward_float_bounded(dn, X, dtype)
        _, b_s = forward_float_bounded(sn, X, dtype)
        assert np.allclose(b_d, b_s, rtol=1e-4, atol=0)  # (orders differ: ≈ u relative)
    import flint

    balls = forward_balls(sn, X, 128)
    old, flint.ctx.prec = flint.ctx.prec, 4096  # compare against the rational nearly exactly
    try:
        for row_b, row_e in zip(balls, ex_s, strict=True):
            for ball, v in zip(row_b, row_e, strict=True):
                assert ball.contains(flint.arb(v))
    finally:
        flint.ctx.prec = old


def test_counts_report_stored_and_dense() -> None:
    dn, sn = _pair(3, 0.1)
    assert sn.parameters == dn.parameters and sn.nonzeros == dn.nonzeros
    assert sn.stored_parameters < dn.stored_parameters == dn.parameters
    c = sn.counts()
    assert c["sparse_layers"] == 3 and c["stored_parameters"] == sn.stored_parameters
    assert sn.to_dense().stored_parameters == dn.parameters
    assert dn.to_sparse().sparse and sn.max_abs_weight == dn.max_abs_weight


def test_sparse_if_smaller_picks_the_smaller_form() -> None:
    W = np.zeros((50, 40))
    W[np.arange(50), np.arange(50) % 40] = 1.0
    assert sparse.issparse(sparse_if_smaller(W))
    assert not sparse.issparse(sparse_if_smaller(np.ones((50, 40))))
    exact = memcap.constructions.base.Field("exact").zeros((3, 3))
    assert sparse_if_smaller(exact) is exact  # exact weights stay dense object arrays
    with pytest.raises(ValueError, match="float64"):
        Dense(sparse.csr_matrix(np.eye(2)).astype(object), np.zeros(2))


def test_verification_does_not_change_sparse_weights() -> None:
    # regression: the bound's representation-error matrix once shared (and compacted) the weight's
    # CSR index arrays
    _, sn = _pair(5, 0.3)
    sn.layers[1].weight.data[::3] = 1 + 2.0**-40  # not float32-representable: a non-zero dW
    before = [la.weight.copy() for la in sn.layers]
    X = np.random.default_rng(0).standard_normal((6, 5))
    o1, b1 = forward_float_bounded(sn, X, np.float32)
    o2, b2 = forward_float_bounded(sn, X, np.float32)
    assert np.array_equal(o1, o2) and np.array_equal(b1, b2)
    for a, la in zip(before, sn.layers, strict=True):
        assert (a != la.weight).nnz == 0 and np.array_equal(a.indptr, la.weight.indptr)


def test_save_load_keeps_sparsity(tmp_path) -> None:
    dn, sn = _pair(7, 0.2)
    memcap.save(sn, tmp_path / "s.npz")
    memcap.save(dn, tmp_path / "d.npz")
    back = memcap.load(tmp_path / "s.npz")
    assert back.sparse and all(la.sparse for la in back.layers)
    X = np.random.default_rng(1).standard_normal((5, 5))
    assert forward_exact(back, X) == forward_exact(sn, X)
    import json

    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        assert json.loads(str(z["__memcap__"]))["version"] == 2
        assert "layer0.weight.indptr" in z.files
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:
        assert json.loads(str(z["__memcap__"]))["version"] == 1  # dense files stay readable by v1


def test_torch_keeps_sparse_and_agrees_in_float32() -> None:
    torch = pytest.importorskip("torch")
    _, sn = _pair(11, 0.2)
    X = np.random.default_rng(2).standard_normal((40, 5))
    model = sn.to_torch(torch.float32)
    assert any(type(m).__name__ == "SparseLinear" for m in model)
    with torch.no_grad():
        got = model(torch.tensor(X, dtype=torch.float32)).double().numpy()
    exact = np.array([[float(v) for v in row] for row in forward_exact(sn, X)])
    _, bnd = forward_float_bounded(sn, X, np.float32)
    assert np.all(np.abs(got - exact) <= bnd)  # torch's own summation order is covered by the bound
    dense_model = sn.to_torch(torch.float32, sparse=False)
    assert not any(type(m).__name__ == "SparseLinear" for m in dense_model)
    with pytest.raises(OptionError, match="dense torch copy"):
        sn.to_torch(torch.float32, sparse=False, max_dense_bytes=1000)


def test_onnx_writes_dense_and_refuses_beyond_its_limit() -> None:
    pytest.importorskip("onnxruntime")
    from memcap.io.onnx import check_onnx, to_onnx

    _, sn = _pair(13, 0.2)
    X = np.random.default_rng(3).standard_normal((8, 5))
    assert check_onnx(to_onnx(sn, "float32", batch=None), sn, X, "float32").ok
    with pytest.raises(OptionError, match="ONNX"):
        to_onnx(sn, "float32", max_bytes=100)
