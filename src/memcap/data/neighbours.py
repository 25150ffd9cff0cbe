"""Closest pairs for the dataset statistics: the closest pair overall and the closest pair of points
whose keys differ (λ_D: keys are class labels, or target vectors for regression).

Cost. One KD-tree per *large* key group (more than ``B = ⌈√N⌉`` points; at most ``N / B`` of them)
is queried by the points outside it, and one KD-tree over the points of the small groups answers
"nearest neighbour with a different key" by k-nearest queries with k doubling up to ``B + 1``
(a small group has at most ``B`` points, so ``B + 1`` neighbours always include another key).
Every query is bounded by the best distance found so far, so in practice the cost is a few
``O(N log N)`` tree passes; the worst case is ``O(N^{3/2} log N)`` instead of the ``O(N^2 log N)``
of one tree per distinct key (which regression data, where nearly every target differs, hit).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["closest_pair", "closest_pair_differing"]


def closest_pair(X: np.ndarray, p: float = 2) -> tuple[float, tuple[int, int] | None]:
    """Smallest Lp distance between two rows of ``X`` and the pair of row indices (inf, None if N < 2)."""
    if len(X) < 2:
        return math.inf, None
    d, j = cKDTree(X).query(X, k=2, p=p)
    k = int(np.argmin(d[:, 1]))
    return float(d[k, 1]), (k, int(j[k, 1]))


def closest_pair_differing(X: np.ndarray, key: np.ndarray, p: float = 2
                           ) -> tuple[float, tuple[int, int] | None]:
    """Smallest Lp distance between rows of ``X`` whose ``key`` entries differ, and the pair attaining
    it (inf, None when all keys are equal). ``key`` is (N,) of integers (e.g. a group index)."""
    N = len(X)
    if N < 2:
        return math.inf, None
    _, key = np.unique(np.asarray(key), return_inverse=True)
    key = key.ravel()
    sizes = np.bincount(key)
    if len(sizes) < 2:
        return math.inf, None
    B = max(8, math.isqrt(N - 1) + 1)
    best, pair = math.inf, None

    def offer(d: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        nonlocal best, pair
        if len(d) == 0:
            return
        k = int(np.argmin(d))
        if d[k] < best:
            best, pair = float(d[k]), (int(a[k]), int(b[k]))

    small = sizes[key] <= B
    S = np.flatnonzero(small)
    # small groups among themselves: k nearest in the tree of small-group points, k doubling
    if len(S) >= 2 and len(np.unique(key[S])) >= 2:
        tree = cKDTree(X[S])
        active = np.arange(len(S))
        k = min(len(S), 4)
        while len(active):
            d, j = tree.query(X[S[active]], k=k, p=p, distance_upper_bound=best)
            valid = j < len(S)
            jj = np.where(valid, j, 0)
            other = valid & (key[S[jj]] != key[S[active]][:, None])
            has = other.any(axis=1)
            first = np.argmax(other, axis=1)
            rows = np.flatnonzero(has)
            offer(d[rows, first[rows]], S[active[rows]], S[jj[rows, first[rows]]])
            # a point is settled when a differing neighbour was found, when fewer than k neighbours lie
            # within the bound (the rest are farther than the best pair), or when all points were seen
            settled = has | ~valid[:, -1] | (k >= len(S))
            active = active[~settled]
            k = min(len(S), 2 * k)
    # large groups: each group's tree against every point outside it
    for g in np.flatnonzero(sizes > B):
        inside = np.flatnonzero(key == g)
        outside = np.flatnonzero(key != g)
        d, j = cKDTree(X[inside]).query(X[outside], k=1, p=p, distance_upper_bound=best)
        ok = np.isfinite(d)
        offer(d[ok], inside[j[ok]], outside[ok])
    return best, pair
