"""The exact integer path (memcap.certify.integer) against exact rational evaluation."""

from __future__ import annotations

from fractions import Fraction

import flint
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.certify.integer import forward, prepare, qualifies
from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network, Residual
from memcap.numerics import forward_exact

LEAKY = Activation("relu_like", Fraction(1), Fraction(1, 4))


def _obj(vals: np.ndarray) -> np.ndarray:
    out = np.empty(vals.shape, dtype=object)
    out.ravel()[:] = list(vals.ravel())
    return out


def _random_net(rng: np.random.Generator, d: int, widths: list[int], dyadic_after_first: bool = True
                ) -> Network:
    layers = []
    dims = [d, *widths, 2]
    acts = [RELU, LEAKY, HARDTANH, RELU]
    for i in range(len(dims) - 1):
        shape = (dims[i + 1], dims[i])
        if i == 0 or not dyadic_after_first:  # rational, non-dyadic denominators
            W = _obj(np.array([flint.fmpq(int(a), int(b)) for a, b in zip(
                rng.integers(-50, 50, np.prod(shape)), rng.integers(1, 40, np.prod(shape)), strict=True)]
            ).reshape(shape))
            b = _obj(np.array([flint.fmpq(int(a), 3) for a in rng.integers(-9, 9, dims[i + 1])]))
        else:
            W = _obj(np.array([flint.fmpq(int(a), 2 ** int(e)) for a, e in zip(
                rng.integers(-2**40, 2**40, np.prod(shape)), rng.integers(0, 30, np.prod(shape)),
                strict=True)]).reshape(shape))
            W[rng.random(shape) < 0.3] = flint.fmpq(0)
            b = _obj(np.array([flint.fmpq(int(a), 2 ** int(e)) for a, e in zip(
                rng.integers(-99, 99, dims[i + 1]), rng.integers(0, 9, dims[i + 1]), strict=True)]))
        act = IDENTITY if i == len(dims) - 2 else acts[i % len(acts)]
        layers.append(Dense(W, b, act))
    return Network(layers)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), d=st.integers(1, 4),
       widths=st.lists(st.integers(1, 5), min_size=1, max_size=25))
def test_integer_path_equals_exact_rationals(seed, d, widths):
    rng = np.random.default_rng(seed)
    net = _random_net(rng, d, widths)
    X = rng.standard_normal((7, d)) * 10.0 ** rng.integers(-3, 4)
    prog = prepare(net)
    assert prog is not None and qualifies(net)
    assert forward(prog, X) == forward_exact(net, X)


def test_non_qualifying_networks():
    rng = np.random.default_rng(0)
    assert prepare(_random_net(rng, 2, [3, 3], dyadic_after_first=False)) is None
    res = Network([Residual(np.eye(2), np.zeros(2), np.eye(2), np.zeros(2)), Dense(np.ones((1, 2)),
                                                                                   np.zeros(1))])
    assert prepare(res) is None
    tanh = Network([Dense(np.ones((2, 2)), np.zeros(2), RELU), Dense(np.ones((1, 2)), np.zeros(1),
                                                                     Activation("tanh"))])
    assert prepare(tanh) is None
    assert not qualifies(Network([Dense(np.ones((1, 2)), np.zeros(1))]))  # float weights: not exact


def test_verify_uses_the_integer_tier_for_park():
    ds = memcap.load_dataset("builtin:iris")
    c = memcap.construct(ds, "park-sublinear")
    rep = c.verification
    assert rep.memorized and rep.certified
    # exact integer evaluation decides what the float bound leaves (the exact-int engine)
    assert sum(rep.tiers.values()) == ds.N and "exact-int" in rep.tiers and rep.tiers["exact-int"] > 0
