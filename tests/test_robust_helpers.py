"""Small hand-built networks for the robustness tests (shared by tests/test_robust*.py)."""

from __future__ import annotations

import numpy as np

from memcap import Dataset
from memcap.network import HARDTANH, IDENTITY, RELU, Activation, Dense, Network, Residual


def nearest_prototype_linf(P: np.ndarray, classes: np.ndarray | None = None) -> Network:
    """f_k(x) = -max(|x_0 - p_k0|, |x_1 - p_k1|) (d = 2): the L∞ nearest-prototype classifier,
    robust on every ball of radius < λ_D/2 around its prototypes (margin >= λ_D - 2r).
    ``classes`` maps prototypes to outputs (several prototypes per class use the max of their
    scores... not needed here: one prototype per output)."""
    P = np.asarray(P, np.float64)
    K = len(P)
    W1 = np.zeros((4 * K, 2))
    b1 = np.zeros(4 * K)
    for k in range(K):
        for j in range(2):
            W1[4 * k + 2 * j, j], b1[4 * k + 2 * j] = 1.0, -P[k, j]        # relu(x_j - p_kj)
            W1[4 * k + 2 * j + 1, j], b1[4 * k + 2 * j + 1] = -1.0, P[k, j]  # relu(p_kj - x_j)
    W2 = np.zeros((2 * K, 4 * K))
    for k in range(K):
        W2[2 * k, 4 * k:4 * k + 2] = 1.0                 # a_k = |x_0 - p_k0|
        W2[2 * k + 1, 4 * k + 2:4 * k + 4] = 1.0         # b_k - a_k
        W2[2 * k + 1, 4 * k:4 * k + 2] = -1.0
    W3 = np.zeros((K, 2 * K))
    for k in range(K):
        W3[k, 2 * k:2 * k + 2] = -1.0                    # -(a_k + relu(b_k - a_k)) = -max(a_k, b_k)
    return Network([Dense(W1, b1, RELU), Dense(W2, np.zeros(2 * K), RELU), Dense(W3, np.zeros(K), IDENTITY)],
                   {"method": "test-nearest-prototype"})


def three_points() -> Dataset:
    """Three points in the plane, three classes, λ_D = 1 (L∞)."""
    X = np.array([[0.0, 0.0], [1.0, 0.25], [0.5, 1.5]])
    return Dataset(X, np.array([0, 1, 2]), task="classification", name="three-points")


def random_net(rng: np.random.Generator, d: int, widths: list[int], k: int, act: Activation,
               residual: bool = False) -> Network:
    layers: list = []
    dims = [d, *widths]
    for i in range(len(widths)):
        layers.append(Dense(rng.standard_normal((dims[i + 1], dims[i])) / np.sqrt(dims[i]),
                            rng.standard_normal(dims[i + 1]) * 0.3, act))
    if residual:
        w = dims[-1]
        layers.append(Residual(rng.standard_normal((3, w)) / np.sqrt(w), rng.standard_normal(3) * 0.3,
                               rng.standard_normal((w, 3)) * 0.5, rng.standard_normal(w) * 0.1, act))
    layers.append(Dense(rng.standard_normal((k, dims[-1])), rng.standard_normal(k) * 0.3, IDENTITY))
    return Network(layers)


ACTS = [RELU, HARDTANH, Activation.parse("leaky:0.1"), Activation.parse("relu_like:2,0.5")]
