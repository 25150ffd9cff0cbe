"""Build size and time of the Yu et al. 2024 constructions as N grows (N = 10 .. 1000).

For each method and N: depth, max width, dense parameters (what is stored), the paper's structural
count, max |weight|, build seconds, and seconds of memcap's certified memorization check
(``memcap.verify``: float64 with a rigorous rounding bound, escalating only if needed).
Robustness verification (attack / bounds / MILP per point) is part B's ``benchmarks/robust.py``.

    python benchmarks/robust_build.py            # N = 10, 30, 100, 300, 1000
    python benchmarks/robust_build.py --quick    # N = 10, 30, 100
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import numpy as np

import memcap


def digits(N: int) -> memcap.Dataset:
    d = memcap.load_dataset("builtin:digits")
    return memcap.Dataset(d.X[:N] / 16.0, d.y[:N], task="classification", name=f"digits/16[:{N}]")


def gauss4(N: int) -> memcap.Dataset:
    rng = np.random.default_rng(0)
    return memcap.Dataset(rng.standard_normal((N, 4)), rng.integers(0, 3, N), task="classification",
                          name=f"gauss n=4 [{N}]")


def row(method: str, ds: memcap.Dataset, **opts) -> dict:
    t0 = time.perf_counter()
    c = memcap.construct(ds, method, **opts)
    total = time.perf_counter() - t0
    net = c.network
    rob = c.info.get("robust", {})
    return {
        "method": method + (f" p={opts['norm']}" if "norm" in opts else ""), "data": ds.name,
        "N": ds.N, "n": ds.d_x, "depth": net.depth, "width": max(net.widths),
        "dense params": net.parameters, "paper params": c.info.get("paper_parameters", "-"),
        "max|w|": f"{net.max_abs_weight:.3g}",
        "radius/(λ/2)": f"{rob.get('radius', 0) * 2 / c.info['lambda_D']:.3g}",
        "arith": c.certificate.arithmetic,
        "build s": f"{c.info['build_seconds']:.2f}", "verify s": f"{c.verification.seconds:.2f}",
        "total s": f"{total:.2f}", "RSS MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 10, 30, 100 only")
    ap.add_argument("--max-n", type=int, default=1000)
    args = ap.parse_args()
    Ns = [10, 30, 100] if args.quick else [10, 30, 100, 300, 1000]
    Ns = [N for N in Ns if N <= args.max_n]
    rows = []
    for N in Ns:
        rows.append(row("yu-robust", digits(N), budget=0.9))
        rows.append(row("yu-robust", gauss4(N), budget=0.9))
        if N <= 100:  # 17 layers of width <= 203 per point: N = 300 digits is ~ 0.3 GB of weights
            rows.append(row("yu-lipschitz", digits(N)))
        rows.append(row("yu-lipschitz", gauss4(N)))
        if N <= 1000:  # Lp (Thms B.5/B.6), float64 weights with the rounding absorbed into τ, κ
            rows.append(row("yu-robust", gauss4(N), budget=0.9, norm=1))
            rows.append(row("yu-robust", gauss4(N), budget=0.9, norm=2))
        print(f"... N = {N} done", flush=True)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    print(f"\n(python benchmarks/robust_build.py{' --quick' if args.quick else ''}; "
          f"{math.ceil(time.process_time())} s CPU)")


if __name__ == "__main__":
    main()
