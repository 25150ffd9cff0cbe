"""memcap.data.neighbours against brute force, on data with small and large key groups."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memcap import Dataset
from memcap.data.neighbours import closest_pair, closest_pair_differing


def _brute(X, key, p):
    best = math.inf
    for i in range(len(X)):
        for j in range(i + 1, len(X)):
            if key is None or key[i] != key[j]:
                best = min(best, float(np.linalg.norm(X[i] - X[j], ord=p)))
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 120), st.integers(1, 4), st.integers(1, 60),
       st.sampled_from([1, 2, np.inf]), st.booleans())
def test_differing_pair_matches_brute_force(seed, n, d, n_keys, p, clustered):
    rng = np.random.default_rng(seed)
    # skewed group sizes: one group may hold most points (a "large" group), the rest are small
    key = np.minimum(rng.geometric(0.3, size=n) - 1, n_keys - 1)
    X = rng.standard_normal((n, d))
    if clustered:  # groups as tight far-apart clusters: same-key neighbours crowd every query
        X = 0.01 * X + 10 * rng.standard_normal((n_keys, d))[key]
    dist, pair = closest_pair_differing(X, key, p)
    assert dist == pytest.approx(_brute(X, key, p), rel=1e-12)
    if pair is None:
        assert dist == math.inf and len(np.unique(key)) < 2
    else:
        a, b = pair
        assert key[a] != key[b]
        assert float(np.linalg.norm(X[a] - X[b], ord=p)) == pytest.approx(dist, rel=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 60))
def test_closest_pair_matches_brute_force(seed, n):
    X = np.random.default_rng(seed).standard_normal((n, 3))
    dist, pair = closest_pair(X)
    assert dist == pytest.approx(_brute(X, None, 2))
    if n >= 2:
        assert np.linalg.norm(X[pair[0]] - X[pair[1]]) == pytest.approx(dist)


def test_regression_separation_counts_every_different_target_vector():
    # d_y = 2: rows 0 and 1 share the target vector, rows 0 and 2 differ in the second coordinate only
    X = [[0.0], [0.1], [0.3], [5.0]]
    y = [[1.0, 2.0], [1.0, 2.0], [1.0, 3.0], [0.0, 0.0]]
    ds = Dataset(X, y)
    assert ds.separation_linf == pytest.approx(0.2)
    assert ds.min_distance == pytest.approx(0.1)


def test_regression_separation_brute_force_with_repeated_targets():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 3))
    y = rng.integers(0, 40, size=300).astype(float)  # many repeated targets, groups of ~8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Dataset(X, y)
    assert ds.separation_l2 == pytest.approx(_brute(ds.X, ds.y[:, 0], 2))
