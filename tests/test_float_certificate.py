"""The float certificate (forward_float_bounded + memcap.certify.precision) is sound for ANY summation order
and not vacuous.

Sound: on random and adversarial networks, float32/float64 evaluations in several explicit
summation orders (forward, reverse, largest-first, random), numpy's and torch's all lie within the
bound of the exact rational output; a tolerance just below what float32 actually does is never
certified. Not vacuous: the aid's float32 case (twoproj-5layer, N = 4096, d_x = 32) is certified
faithful (≤ 1e-3) and an independent torch float32 evaluation agrees with the bound.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.certify.precision import certify_precision
from memcap.data import Dataset
from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network
from memcap.numerics import forward_exact, forward_float_bounded

ORDERS = ("forward", "reverse", "largest_first", "random")


def _act(z: np.ndarray, act: Activation) -> np.ndarray:
    if act.kind == "identity":
        return z
    if act.kind == "hardtanh":
        return np.clip(z, -1, 1)
    sp, sm = z.dtype.type(float(act.s_plus)), z.dtype.type(float(act.s_minus))
    return np.where(z >= 0, sp * z, sm * z).astype(z.dtype)


def eval_in_order(net: Network, X: np.ndarray, dtype: type, order: str, seed: int = 0) -> np.ndarray:
    """Evaluate with every dot product summed term by term in ``dtype`` in the given order."""
    rng = np.random.default_rng(seed)
    a = np.asarray(X, dtype=np.float64).astype(dtype)
    for layer in net.layers:
        W = np.asarray(layer.weight, dtype=np.float64).astype(dtype)
        b = np.asarray(layer.bias, dtype=np.float64).astype(dtype)
        terms = np.concatenate([a[:, None, :] * W[None, :, :],
                                np.broadcast_to(b[None, :, None], (a.shape[0], W.shape[0], 1))], axis=2)
        k = terms.shape[2]
        if order == "forward":
            idx = np.broadcast_to(np.arange(k), terms.shape)
        elif order == "reverse":
            idx = np.broadcast_to(np.arange(k)[::-1], terms.shape)
        elif order == "largest_first":
            idx = np.argsort(-np.abs(terms), axis=2, kind="stable")
        else:
            idx = np.argsort(rng.random(terms.shape), axis=2)
        t = np.take_along_axis(terms, idx, axis=2)
        s = t[:, :, 0].copy()
        for i in range(1, k):
            s = (s + t[:, :, i]).astype(dtype)
        a = _act(s, layer.activation)
    return a.astype(np.float64)


def _exact(net: Network, X: np.ndarray) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in forward_exact(net, X)])


def _torch_eval(net: Network, X: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    model = net.to_torch(dtype)
    with torch.no_grad():
        return model(torch.as_tensor(X, dtype=dtype)).double().numpy()


def _check_all_orders(net: Network, X: np.ndarray) -> None:
    ex = _exact(net, X)
    for dtype, tdt in ((np.float32, torch.float32), (np.float64, torch.float64)):
        _, bound = forward_float_bounded(net, X, dtype)
        evals = [eval_in_order(net, X, dtype, o) for o in ORDERS] + [_torch_eval(net, X, tdt)]
        for o, ev in zip([*ORDERS, "torch"], evals, strict=True):
            err = np.abs(ev - ex)
            assert np.all(err <= bound), (dtype.__name__, o, float(np.max(err - bound)))


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 3))
    dims = [draw(st.integers(1, 5)) for _ in range(depth + 1)]
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(depth):
        scale = 10.0 ** rng.integers(-3, 8)
        W = rng.standard_normal((dims[i + 1], dims[i])) * scale
        W[rng.random(W.shape) < 0.3] = 0.0  # exact zeros
        b = rng.standard_normal(dims[i + 1]) * scale * rng.choice([0.0, 1.0, 1e3])
        act = IDENTITY if i == depth - 1 else draw(st.sampled_from(
            [RELU, HARDTANH, Activation.parse("leaky:0.1"), Activation.parse("relu_like:1.5,0.25")]))
        layers.append(Dense(W, b, act))
    X = rng.standard_normal((6, dims[0])) * 10.0 ** rng.integers(-2, 4)
    return Network(layers), X


@settings(max_examples=40, deadline=None)
@given(networks())
def test_bound_covers_every_summation_order_on_random_networks(net_x) -> None:
    net, X = net_x
    _check_all_orders(net, X)


def _cancellation_net(big: float) -> Network:
    """relu(x + big) - big, then ×2^20: float32 loses the fraction of x; exact keeps it. The second
    hidden unit is ≈ 0 with a cancelling sum, so a flat piece is decided by the order."""
    W1 = np.array([[1.0, 1.0, -1.0], [1.0, 0.0, 0.0]])
    b1 = np.array([0.0, big])
    W2 = np.array([[2.0**20, 2.0**20]])
    b2 = np.array([-big * 2.0**20])
    return Network([Dense(W1, b1, RELU), Dense(W2, b2, IDENTITY)])


@pytest.mark.parametrize("big", [2.0**24, 2.0**20, 3.0 * 2**22])
def test_bound_covers_adversarial_cancellation(big: float) -> None:
    net = _cancellation_net(big)
    rng = np.random.default_rng(1)
    X = np.column_stack([np.full(5, 1.0), rng.uniform(-1, 1, 5) * 2.0**-24, np.full(5, 1.0)])
    X = np.vstack([X, rng.standard_normal((5, 3))])
    _check_all_orders(net, X)


def test_tolerance_just_past_the_float_error_is_never_certified() -> None:
    """Targets are the exact outputs; float32 misses them by the rounding it actually does. A
    tolerance just below that miss must not be certified; a tolerance above the bound must be."""
    net = _cancellation_net(2.0**22)
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(0.5, 1.5, 30), rng.uniform(-1, 1, 30), rng.uniform(0, 1, 30)])
    ds = Dataset(X, _exact(net, X)[:, 0])
    worst32 = max(float(np.max(np.abs(eval_in_order(net, X, np.float32, o) - ds.targets)))
                  for o in ORDERS)
    assert worst32 > 0
    cert = certify_precision(net, ds, "float32", tol=worst32 * 0.999)
    assert not cert.certified
    _, b = forward_float_bounded(net, X, np.float32)
    assert float(np.max(b)) >= worst32
    cert = certify_precision(net, ds, "float32", tol=float(np.max(b)) * 1.01 + 1e-9)
    assert cert.certified and cert.worst_bound >= worst32


def test_twoproj_float32_certificate_never_exceeds_what_it_states() -> None:
    """Small margin m: rounding may leak through saturated units. Whatever the certificate says
    must hold for numpy and torch float32 evaluation, at tolerances around the measured error."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 16)).astype(np.float32).astype(np.float64)
    ds = Dataset(X, rng.uniform(-1, 1, 400).astype(np.float32).astype(np.float64))
    for margin in (0.25, 1e-6):
        c = memcap.construct(ds, "twoproj-5layer", margin=margin, q=16)
        y32 = _torch_eval(c.network, X, torch.float32)[:, 0]
        e_torch = float(np.max(np.abs(y32 - ds.targets[:, 0])))
        for tol in (e_torch * 0.999, e_torch * 1.001, 1e-3):
            cert = certify_precision(c.network, ds, "float32", tol=tol)
            if cert.certified:
                assert e_torch <= tol and cert.worst_bound <= tol


def test_not_vacuous_twoproj_float32_at_4096_agrees_with_torch() -> None:
    """The aid's float32 setting (numerics.md §0): x ~ N(0, I_32), y ~ U[-1, 1], both float32."""
    N = 4096
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 32)).astype(np.float32).astype(np.float64)
    ds = Dataset(X, rng.uniform(-1, 1, N).astype(np.float32).astype(np.float64))
    c = memcap.construct(ds, "twoproj-5layer", tol=1e-3)
    cert = certify_precision(c.network, ds, "float32", tol=1e-3, report=c.verification)
    assert cert.certified, cert.reason
    assert cert.worst_bound <= 1e-3
    y32 = _torch_eval(c.network, X, torch.float32)[:, 0]
    out, b32 = forward_float_bounded(c.network, X, np.float32)
    assert np.all(np.abs(y32 - ds.targets[:, 0]) <= cert.worst_bound)
    # the torch evaluation is within the rounding bound of the exact network (float64 bound ≪ b32)
    out64, b64 = forward_float_bounded(c.network, X, np.float64)
    assert np.all(np.abs(y32 - out64[:, 0]) <= b32[:, 0] + b64[:, 0])


def test_not_vacuous_decoupled_float64() -> None:
    rng = np.random.default_rng(1)
    N = 2048
    X = rng.standard_normal((N, 32)).astype(np.float32).astype(np.float64)
    ds = Dataset(X, rng.uniform(-1, 1, N).astype(np.float32).astype(np.float64))
    c = memcap.construct(ds, "decoupled-3layer", tol=1e-3)
    cert = certify_precision(c.network, ds, "float64", tol=1e-3, report=c.verification)
    assert cert.certified and cert.rounding_bound < 1e-3
    assert not certify_precision(c.network, ds, "float32", tol=1e-3, report=c.verification).certified
