"""The datasets behind the necessary conditions of Sec. 4.2 and 5.2, Prop. 5.5(1)'s explicit
depth-2 network, and the n = 2 counterexample to Prop. 5.4's proof (erratum YGZ-6)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import ConditionError
from memcap.constructions.yu2024.common import _frac
from memcap.data.dataset import Dataset
from memcap.network import IDENTITY, RELU, Dense, Network

__all__ = ["thm43_dataset", "prop46_dataset", "prop54_dataset", "prop55_dataset", "prop55_network",
           "prop54_n2_network"]

# ---- the datasets behind the necessary conditions (Sec. 4.2, 5.2), and Prop. 5.5(1)'s network ----
def thm43_dataset(n: int, N: int) -> Dataset:
    """App. B.2 (Thm 4.3): blocks {0 (label 1), e_1..e_n (label 2)} shifted by k·(1,..,1), k < N/(n+1).
    λ_D = 1. The paper labels 0/1; memcap class indices 0/1 are its labels 1/2 (erratum YGZ-11)."""
    if N % (n + 1) or N < n + 1:
        raise ConditionError(f"Theorem 4.3's dataset needs N a positive multiple of n+1 = {n + 1}, got {N}")
    block = np.vstack([np.zeros(n), np.eye(n)])
    X = np.vstack([block + k for k in range(N // (n + 1))])
    y = np.tile(np.r_[0, np.ones(n, dtype=int)], N // (n + 1))
    return Dataset(X, y, task="classification", name=f"yu2024-thm4.3(n={n},N={N})")


def prop46_dataset(N: int, n: int = 1) -> Dataset:
    """App. B.4 (Prop. 4.6(2)): x_i = i·e_1, i = 1..N; labels 1, 3, 5 for i = 1..3, then 2 (i even)
    and 4 (i odd) (the paper's list clashes at i = 2, erratum YGZ-12). Class index = label - 1."""
    if N < 5:
        raise ConditionError(f"Proposition 4.6(2)'s dataset needs N >= 5, got {N}")
    X = np.zeros((N, n))
    X[:, 0] = np.arange(1, N + 1)
    lab = [1, 3, 5] + [2 if i % 2 == 0 else 4 for i in range(4, N + 1)]
    return Dataset(X, np.array(lab) - 1, task="classification", name=f"yu2024-prop4.6(N={N})")


def prop54_dataset(n: int) -> Dataset:
    """App. C.3 (Prop. 5.4): T = {(0, +1)} ∪ {(e_i, -1)}; class 1 is y = +1. λ_T = 1."""
    X = np.vstack([np.zeros(n), np.eye(n)])
    return Dataset(X, np.r_[1, np.zeros(n, dtype=int)], task="classification", name=f"yu2024-T(n={n})")


def prop55_dataset(n: int, N: int) -> Dataset:
    """App. C.4.1 (Prop. 5.5): T_k = T + 16knV (k = 1..M, V = (1..n), M = ⌊N/(n+1)⌋) and
    T_0 = {(-jV, +1) : j = 1..N-(n+1)M}. λ_D = 1."""
    M = N // (n + 1)
    if M < 1:
        raise ConditionError(f"Proposition 5.5's dataset needs N >= n+1 = {n + 1}, got {N}")
    V = np.arange(1, n + 1, dtype=float)
    T = prop54_dataset(n)
    rest = N - (n + 1) * M
    X = [T.X + 16 * k * n * V for k in range(1, M + 1)] + [-(j * V)[None, :] for j in range(1, rest + 1)]
    y = [T.labels] * M + [np.ones(1, dtype=int)] * rest
    return Dataset(np.vstack(X), np.concatenate(y), task="classification",
                   name=f"yu2024-prop5.5(n={n},N={N})")


def prop55_network(n: int, N: int, mu: float) -> Network:
    """Prop. 5.5(1) (App. C.4.1): the depth-2, width-4nM network
    F(x) = 1 - (2/(1-2μ)) Σ_i Σ_j G_ε((x - 16njV)^(i)), ε = 1/2 - μ,
    G_ε(t) = r(t - 1/2 + ε) - r(t - 1/2 - ε) - r(t - 3/2 + ε) + r(t - 3/2 - ε),
    which is ±1 exactly on every ball B∞(x, μ) of :func:`prop55_dataset` (any μ < 1/2), although no
    depth-2 network that narrow is Lipschitz-robust there (Prop. 5.5(2)). Scores s_± = ±F/2."""
    if not 0 < mu < 0.5:
        raise ConditionError(f"Proposition 5.5(1) needs 0 < μ < λ_D/2 = 1/2, got {mu}")
    M = N // (n + 1)
    eps = Fraction(1, 2) - _frac(mu)
    V = np.arange(1, n + 1)
    W1, b1, w2 = [], [], []
    for j in range(1, M + 1):
        for i in range(n):
            shift = Fraction(16 * n * j * int(V[i]))
            for off, sgn in ((Fraction(1, 2) - eps, 1), (Fraction(1, 2) + eps, -1),
                             (Fraction(3, 2) - eps, -1), (Fraction(3, 2) + eps, 1)):
                row = np.zeros(n)
                row[i] = 1.0
                W1.append(row)
                b1.append(float(-(shift + off)))
                w2.append(sgn)
    c = float(2 / (1 - 2 * _frac(mu)))
    w = -c * np.array(w2, dtype=float)
    out = Dense(np.vstack([-w / 2, w / 2]), np.array([-0.5, 0.5]), IDENTITY)
    return Network([Dense(np.array(W1), np.array(b1), RELU), out],
                   meta={mk.METHOD: "yu2024-prop5.5(1)", mk.ROBUST: {"radius": float(mu), "norm": "inf"}})


def prop54_n2_network() -> Network:
    """Erratum YGZ-6: for n = 2 the depth-2 net F = 1 - 2r(x1) + 2r(-x1) - 2r(x2 - x1) = 1 - 2max(x1, x2)
    memorizes T (Prop. 5.4's dataset) with Lip∞ = 2 = 2/λ_T, so Prop. 5.4 needs n >= 3. Scores ±F/2."""
    W1 = np.array([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0]])
    f = np.array([-2.0, 2.0, -2.0])  # F = 1 + f·h
    return Network([Dense(W1, np.zeros(3), RELU),
                    Dense(np.vstack([-f / 2, f / 2]), np.array([-0.5, 0.5]), IDENTITY)],
                   meta={mk.METHOD: "yu2024-E6", mk.LIPSCHITZ: {"norm": "inf", "value": 2.0}})
