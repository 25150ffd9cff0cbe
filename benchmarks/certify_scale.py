"""Certification at scale: the structure-aware tiers against the generic ball pass.

    python benchmarks/certify_scale.py --quick            # yun N = 2000, park N = 500 (a few minutes)
    python benchmarks/certify_scale.py                    # yun N = 10^4, 10^5; park N = 10^3, 10^4
    python benchmarks/certify_scale.py --yun 20000 --park 0 --workers 2 --max-seconds 900

Data: Gaussian points in d_x = 32 (seed 0); yun-3layer regression with targets U[-1, 1], built in
exact arithmetic (``memcap.construct(ds, "yun-3layer", arithmetic="exact")``, the paper's weights);
park-sublinear / park-width3 classification with 10 uniform labels (construct = build + certify).
Each row gives the build and certification seconds, the tiers that decided the points, and the
generic ball pass's cost extrapolated from 256 points at the start precision (what certification
cost before the structure-aware tiers). The machine's load average is printed beside: on a shared
machine the seconds are only comparable within one run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _load() -> str:
    try:
        return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        return "load ?"


def _generic_estimate(net, X: np.ndarray, n: int) -> float:
    from memcap.certify.memorization import _start_precision
    from memcap.numerics import forward_balls

    k = min(256, len(X))  # half a ball batch: the per-call weight conversion is amortized as in verify
    t = time.perf_counter()
    forward_balls(net, X[:k], _start_precision(net))
    return (time.perf_counter() - t) / k * n


def row(method: str, N: int, workers: int | None, max_seconds: float | None) -> dict:
    import memcap
    from memcap.data.dataset import Dataset

    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 32))
    if method == "yun-3layer":
        ds = Dataset(X, rng.uniform(-1, 1, (N, 1)))
        kw = {"arithmetic": "exact"}
    else:
        ds = Dataset(X, rng.integers(0, 10, N), task="classification")
        kw = {}
    t = time.perf_counter()
    try:
        c = memcap.construct(ds, method, workers=workers, max_seconds=max_seconds, **kw)
    except memcap.errors.ConstructionError as exc:
        return {"method": method, "N": N, "total": time.perf_counter() - t, "error": str(exc)[:160]}
    total = time.perf_counter() - t
    rep = c.verification
    net = c.network
    return {
        "method": method, "N": N, "total": total, "build": c.info.get("build_seconds", float("nan")),
        "certify": rep.seconds, "depth": net.depth, "widths": net.widths[:2],
        "tiers": ", ".join(f"{k} {v}" for k, v in rep.tiers.items() if v),
        "generic_est": _generic_estimate(net, ds.X, ds.N),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--yun", type=int, nargs="*", help="N values for yun-3layer (0: none)")
    ap.add_argument("--park", type=int, nargs="*", help="N values for park-sublinear and park-width3")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--max-seconds", type=float, default=None)
    a = ap.parse_args()
    yun = a.yun if a.yun is not None else ([2000] if a.quick else [10_000, 100_000])
    park = a.park if a.park is not None else ([500] if a.quick else [1000, 10_000])
    jobs = [("yun-3layer", n) for n in yun if n] + [(m, n) for n in park if n
                                                    for m in ("park-sublinear", "park-width3")]
    print(f"certify_scale on {os.cpu_count()} cores; {_load()} at start")
    head = (f"{'method':<15} {'N':>7} {'widths/depth':>14} {'build s':>8} {'certify s':>9} {'total s':>8} "
            f"{'generic est. s':>14}  tiers")
    print(head)
    print("-" * len(head))
    for method, n in jobs:
        r = row(method, n, a.workers, a.max_seconds)
        if "error" in r:
            print(f"{method:<15} {n:>7} refused after {r['total']:.0f} s: {r['error']}  [{_load()}]")
            continue
        shape = f"{r['widths']}" if method == "yun-3layer" else f"depth {r['depth']}"
        print(f"{method:<15} {n:>7} {shape:>14} {r['build']:>8.1f} {r['certify']:>9.1f} {r['total']:>8.1f} "
              f"{r['generic_est']:>14.0f}  {r['tiers']}  [{_load()}]", flush=True)


if __name__ == "__main__":
    main()
