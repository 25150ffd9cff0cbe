"""Gadgets: hard-tanh -> ReLU-like conversion (Gadget H, carriers, 3-unit gates) and Gadget G."""

from fractions import Fraction

import flint
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memcap.constructions.base import Field
from memcap.constructions.gadgets import HT, carrier, gate_layer, gate_pair, hardtanh_to_relu_like
from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network
from memcap.numerics import forward_exact
from memcap.theory.yun2019 import relu_units_per_gate

EX = Field("exact")
ACTS = [RELU, Activation.parse("leaky:0.1"), Activation.parse("relu_like:2,1/3")]


def _q(v):
    return flint.fmpq(Fraction(v).numerator, Fraction(v).denominator)


def _exact(a):
    return EX.array(np.asarray(a, dtype=float))


def _out(net, X):
    return np.array(forward_exact(net, X), dtype=object)


def _mixed_network(rng):
    """A hard-tanh net whose unit 0 of layer 0 is a carrier of x_0 / 8 (in [-1/2, 1/2] for |x| <= 4)
    and unit 0 of layer 1 a carrier too; the other units are arbitrary hard-tanh units."""
    W1 = _exact(rng.integers(-3, 4, size=(4, 2)))
    W1[0] = _exact([1 / 8, 0])
    b1 = _exact(rng.integers(-2, 3, size=4) / 2)
    b1[0] = _q(0)
    W2 = _exact(rng.integers(-3, 4, size=(3, 4)))
    W2[0] = _exact([1, 0, 0, 0])  # carries the carrier (values in [-1/2, 1/2])
    b2 = _exact(rng.integers(-2, 3, size=3) / 2)
    b2[0] = _q(0)
    W3 = _exact(rng.integers(-3, 4, size=(2, 3)))
    b3 = _exact(rng.integers(-2, 3, size=2))
    layers = [Dense(W1, b1, HARDTANH), Dense(W2, b2, HARDTANH), Dense(W3, b3, IDENTITY)]
    tags = {0: [carrier(Fraction(-1, 2))] + [HT] * 3, 1: [carrier(-1)] + [HT] * 2}
    return layers, tags


@pytest.mark.parametrize("act", ACTS)
def test_carriers_convert_to_one_unit_and_keep_the_function(act):
    rng = np.random.default_rng(3)
    X = rng.uniform(-4, 4, size=(40, 2))
    for _ in range(5):
        layers, tags = _mixed_network(rng)
        ht = Network(layers)
        relu = Network(hardtanh_to_relu_like(layers, act, EX, tags=tags))
        assert relu.widths == [1 + 2 * 3, 1 + 2 * 2]
        assert np.array_equal(_out(ht, X), _out(relu, X))


def test_a_carrier_outside_its_range_is_not_the_identity():
    # the carrier contract is a precondition: below lb the ReLU unit clips (the test can fail)
    layers = [Dense(_exact([[1]]), _exact([0]), HARDTANH), Dense(_exact([[1]]), _exact([0]), IDENTITY)]
    relu = Network(hardtanh_to_relu_like(layers, RELU, EX, tags={0: [carrier(Fraction(-1, 2))]}))
    ok, bad = _out(relu, np.array([[-0.5]]))[0, 0], _out(relu, np.array([[-0.75]]))[0, 0]
    assert ok == _q(-0.5) and bad != _q(-0.75)


@pytest.mark.parametrize("act", ACTS)
def test_all_ht_tags_equal_the_untagged_conversion(act):
    rng = np.random.default_rng(0)
    layers, _ = _mixed_network(rng)
    a = hardtanh_to_relu_like(layers, act, EX)
    b = hardtanh_to_relu_like(layers, act, EX, tags={0: [HT] * 4})
    X = rng.uniform(-4, 4, size=(30, 2))
    assert [L.out_dim for L in a] == [L.out_dim for L in b]
    assert np.array_equal(_out(Network(a), X), _out(Network(b), X))


def _gate_net(act, three_unit, centers, halfwidth):
    F = EX
    W, b, tags, R = gate_layer(F.array(np.array([1.0])), F.const(0), centers, halfwidth, F, three_unit)
    layers = [Dense(W, b, HARDTANH), Dense(R, F.zeros(len(centers)), IDENTITY)]
    return Network(hardtanh_to_relu_like(layers, act, F, tags={0: tags}))


@pytest.mark.parametrize("act", [HARDTANH, *ACTS])
@pytest.mark.parametrize("three_unit", [False, True])
def test_gate_is_one_minus_abs_t_inside_and_zero_outside(act, three_unit):
    if act == HARDTANH and three_unit:
        return
    centers = EX.array(np.array([-1.0, 0.0, 1.0]))
    h = _q(1)
    net = _gate_net(act, three_unit, centers, h)
    per_gate = 2 if act == HARDTANH else (3 if three_unit else 4)
    assert net.widths == [per_gate * 3]
    S = np.linspace(-2.5, 2.5, 41)
    got = _out(net, S[:, None])
    for i, s in enumerate(S):
        for j, c in enumerate([-1, 0, 1]):
            t = Fraction(s) - c
            want = max(Fraction(0), 1 - abs(t))
            assert got[i, j] == _q(want), (s, c)


@settings(max_examples=30)
@given(st.fractions(-3, 3, max_denominator=64), st.sampled_from(ACTS))
def test_three_unit_gate_identity(t, act):
    # σ_G(t) = (sR(t+1) - 2 sR(t) + sR(t-1)) / (s+ - s-)  (erratum YSJ-9)
    def sr(v):
        return act.s_plus * v if v >= 0 else act.s_minus * v

    lhs = (sr(t + 1) - 2 * sr(t) + sr(t - 1)) / (act.s_plus - act.s_minus)
    assert lhs == max(Fraction(0), 1 - abs(t))


def test_gate_partner_must_have_equal_outgoing_weights():
    centers = EX.array(np.array([0.0]))
    W, b, tags, R = gate_layer(EX.array(np.array([1.0])), EX.const(0), centers, 1, EX, True)
    R[0, 1] = _q(1)
    layers = [Dense(W, b, HARDTANH), Dense(R, EX.zeros(1), IDENTITY)]
    with pytest.raises(ValueError, match="partner"):
        hardtanh_to_relu_like(layers, RELU, EX, tags={0: tags})
    assert gate_pair(1) == (("gate3", 1), ("gate3_partner",))


def test_units_per_gate():
    assert relu_units_per_gate(HARDTANH, "paper") == 2
    assert relu_units_per_gate(RELU, "paper") == 4
    assert relu_units_per_gate(RELU, "3unit") == 3
    with pytest.raises(ValueError):
        relu_units_per_gate(HARDTANH, "3unit")
    with pytest.raises(ValueError):
        relu_units_per_gate(RELU, "five")


def test_float_field_gate_matches_exact():
    F = Field("float64")
    W, b, tags, R = gate_layer(np.array([2.0]), 0.5, np.array([0.0, 1.0]), 0.5, F, True)
    layers = [Dense(W, b, HARDTANH), Dense(R, np.zeros(2), IDENTITY)]
    net = Network(hardtanh_to_relu_like(layers, RELU, F, tags={0: tags}))
    out = net(np.array([[-0.25], [0.25], [0.0]]))  # S = 2x + 1/2 -> 0, 1, 1/2
    assert np.allclose(out, [[1, 0], [0, 1], [0, 0]])
