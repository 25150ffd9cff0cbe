"""Dataset statistics (λ_D in L2 and L∞, closest pair) as N grows: memcap.data.neighbours against one
KD-tree per distinct key (the former method, quadratic for regression, where nearly every target
differs), on Gaussian data (d_x = 8): regression (all targets distinct), regression with 10 repeated
target values, classification with 10 classes, and 10 tight far-apart class clusters.

    python benchmarks/dataset_stats.py                 # N = 1e3, 1e4, 1e5 (old method to --old-max-n)
    python benchmarks/dataset_stats.py --quick         # N = 1e3, 3e3
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
from scipy.spatial import cKDTree

from memcap import Dataset


def per_key_trees(X: np.ndarray, key: np.ndarray, p: float) -> float:
    """The former method: for each distinct key, a tree of the points outside it."""
    best = math.inf
    for c in np.unique(key):
        inside, outside = np.flatnonzero(key == c), np.flatnonzero(key != c)
        if len(outside):
            best = min(best, float(np.min(cKDTree(X[outside]).query(X[inside], k=1, p=p)[0])))
    return best


def data(kind: str, N: int, rng: np.random.Generator) -> Dataset:
    X = rng.standard_normal((N, 8))
    if kind == "regression":
        return Dataset(X, rng.standard_normal(N))
    if kind == "regression-10-values":
        return Dataset(X, rng.integers(0, 10, N).astype(float))
    y = rng.integers(0, 10, N)
    if kind == "clusters":
        X = 1e-3 * X + 10 * rng.standard_normal((10, 8))[y]
    return Dataset(X, y, task="classification")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--Ns", default="1000,10000,100000")
    ap.add_argument("--old-max-n", type=int, default=10000, help="run the former method up to this N")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    Ns = [1000, 3000] if a.quick else [int(v) for v in a.Ns.split(",")]
    rng = np.random.default_rng(0)
    print("| data | N | stats() s (λ_D L2 + L∞, closest pair) | former λ_D L2 + L∞ s | λ_D L2 | agree |")
    print("|---|---|---|---|---|---|")
    for kind in ("regression", "regression-10-values", "classification", "clusters"):
        for N in Ns:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = data(kind, N, rng)
            t = time.perf_counter()
            s = ds.stats()
            new = time.perf_counter() - t
            old, agree = "", ""
            if N <= a.old_max_n:
                key = ds.y if ds.task == "classification" else np.unique(ds.y, axis=0, return_inverse=True)[1]
                t = time.perf_counter()
                l2 = per_key_trees(ds.X, np.ravel(key), 2)
                per_key_trees(ds.X, np.ravel(key), np.inf)
                old = f"{time.perf_counter() - t:.3g}"
                agree = "yes" if l2 == s["lambda_D_l2"] else f"NO ({l2})"
            print(f"| {kind} | {N} | {new:.3g} | {old} | {s['lambda_D_l2']:.4g} | {agree} |")


if __name__ == "__main__":
    main()
