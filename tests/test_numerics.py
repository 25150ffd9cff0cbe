from fractions import Fraction

import flint
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network, Residual
from memcap.numerics import (
    forward_balls,
    forward_exact,
    forward_float,
    forward_float_bounded,
    to_exact_array,
    to_float_array,
)

ACTS = [RELU, HARDTANH, Activation.parse("leaky:0.1"), Activation.parse("relu_like:3/2,1/3")]


def _random_net(rng, dims, act, scale, residual=False):
    layers = []
    for i in range(len(dims) - 1):
        W = rng.standard_normal((dims[i + 1], dims[i])) * scale
        b = rng.standard_normal(dims[i + 1]) * scale
        layers.append(Dense(W, b, act if i < len(dims) - 2 else IDENTITY))
    if residual:
        d = dims[-1]
        layers.append(Residual(rng.standard_normal((3, d)), rng.standard_normal(3),
                               rng.standard_normal((d, 3)), rng.standard_normal(d), act))
    return Network(layers)


def _exact_outputs(net, X):
    return np.array([[Fraction(int(v.p), int(v.q)) for v in row] for row in forward_exact(net, X)],
                    dtype=object)


@settings(max_examples=30)
@given(st.integers(0, 10**6), st.sampled_from(ACTS), st.sampled_from([1e-3, 1.0, 1e3]), st.booleans())
def test_float_bound_is_sound(seed, act, scale, residual):
    rng = np.random.default_rng(seed)
    net = _random_net(rng, [3, 7, 5, 2], act, scale, residual)
    X = rng.standard_normal((6, 3)) * 10
    exact = _exact_outputs(net, X)
    for dtype in (np.float64, np.float32):
        out, bound = forward_float_bounded(net, X, dtype)
        err = np.abs(np.array([[float(Fraction(o) - e) for o, e in zip(orow, erow, strict=True)]
                               for orow, erow in zip(out.tolist(), exact, strict=True)]))
        assert np.all(err <= bound), (dtype, err.max(), bound.max())
        # and the plain evaluation is the same computation
        assert np.array_equal(out, forward_float(net, X, dtype).astype(np.float64))


def test_float32_bound_is_not_vacuous():
    rng = np.random.default_rng(0)
    net = _random_net(rng, [4, 16, 16, 1], RELU, 0.5)
    X = rng.standard_normal((50, 4))
    _, b32 = forward_float_bounded(net, X, np.float32)
    _, b64 = forward_float_bounded(net, X, np.float64)
    assert b32.max() < 1e-4 and b64.max() < 1e-13


def test_balls_contain_exact_values():
    rng = np.random.default_rng(1)
    net = _random_net(rng, [2, 6, 3], HARDTANH, 3.0, residual=True)
    X = rng.standard_normal((4, 2))
    exact = forward_exact(net, X)
    balls = forward_balls(net, X, 80)
    old = flint.ctx.prec
    flint.ctx.prec = 400  # the exact value as a ball far tighter than the 80-bit results
    try:
        for brow, erow in zip(balls, exact, strict=True):
            for b, e in zip(brow, erow, strict=True):
                assert b.contains(flint.arb(e)) and b.rad() < 1e-15
    finally:
        flint.ctx.prec = old


def test_exact_weights_round_trip():
    a = np.array([0.1, -3.5, 1e-300])
    q = to_exact_array(a)
    assert q.dtype == object
    assert np.array_equal(to_float_array(q), a)
