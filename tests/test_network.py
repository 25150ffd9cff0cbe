from fractions import Fraction

import numpy as np
import pytest

from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network, Residual


def test_activation_parse_and_validation():
    assert Activation.parse("relu") == RELU
    assert Activation.parse("hard-tanh") == HARDTANH
    leaky = Activation.parse("leaky:0.25")
    assert (leaky.s_plus, leaky.s_minus) == (1, Fraction(1, 4))
    rl = Activation.parse("relu_like:2,1/2")
    assert rl.name == "relu_like(2,1/2)" and rl.lipschitz == 2 and rl.pieces == 2
    with pytest.raises(ValueError, match="s_plus > s_minus"):
        Activation("relu_like", 1, 1)
    with pytest.raises(ValueError, match="unknown activation"):
        Activation.parse("swish")
    assert Activation.from_json(rl.to_json()) == rl


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="weight"):
        Dense(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="expects input width"):
        Network([Dense(np.zeros((2, 3)), np.zeros(2)), Dense(np.zeros((1, 3)), np.zeros(1))])
    with pytest.raises(ValueError, match="Residual"):
        Residual(np.zeros((4, 3)), np.zeros(4), np.zeros((3, 3)), np.zeros(3))


def test_counts_and_evaluation():
    W1 = np.array([[1.0, -1.0], [0.0, 2.0], [0.0, 0.0]])
    net = Network([Dense(W1, np.array([0.0, -1.0, 0.5]), RELU),
                   Dense(np.array([[1.0, 1.0, 0.0]]), np.array([0.25]), IDENTITY)])
    assert net.depth == 2 and net.widths == [3] and net.hidden_neurons == 3
    assert net.parameters == 3 * 2 + 3 + 3 + 1
    assert net.nonzeros == 3 + 2 + 2 + 1
    assert net.max_abs_weight == 2.0
    X = np.array([[2.0, 1.0], [0.0, 0.0]])
    # unit1 = relu(x0 - x1), unit2 = relu(2 x1 - 1)
    assert net(X)[:, 0].tolist() == [0.25 + 1 + 1, 0.25]


def test_residual_block_evaluates():
    blk = Residual(np.eye(2), np.zeros(2), 2 * np.eye(2), np.ones(2), RELU)
    net = Network([blk])
    assert net.widths == [2]
    out = net(np.array([[1.0, -1.0]]))
    assert out.tolist() == [[1 + 2 + 1, -1 + 0 + 1]]
