"""How yun-3layer (Theorem 3.1, ReLU, float64 weights) scales with N.

For Gaussian data (d_x = 32, targets U[-1, 1]) and N = 10^3 ... 10^6 it prints: widths, construction
time, the floor (projecting + sorting the data once), their ratio, certified verification time and
verdict (float64 bound, then the 80-bit bound; ball arithmetic is skipped above --arb-max-n points),
max |weight|, measured float64 / float32 worst error; then (N <= --exact-max-n) the same network built
with exact rational weights, certified by ball arithmetic, and the mantissa bits a float evaluation
needs.

    python benchmarks/construct_scaling.py            # N = 1e3, 1e4, 1e5, 1e6
    python benchmarks/construct_scaling.py --quick    # N = 1e3, 3e3 (seconds)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from memcap import Dataset, verify
from memcap.constructions.yun2019 import three_layer


def _verify(net, ds, arb: bool) -> tuple[float, object]:
    t = time.perf_counter()
    rep = verify(net, ds, exact_tiers=arb)  # without arb: undecided points are reported as such
    return time.perf_counter() - t, rep


def _verdict(rep) -> str:
    if not rep.certified:
        return f"{len(rep.undecided)} undecided"
    return "certified" if rep.memorized else f"fails at {len(rep.failing)}"


def _row(N: int, d: int, seed: int, arb_max_n: int, verify_max_n: int, exact_max_n: int
         ) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    ds = Dataset(rng.standard_normal((N, d)), rng.uniform(-1, 1, N), name=f"gauss{N}")
    t = time.perf_counter()
    u = rng.standard_normal(d)
    np.argsort(ds.X @ u)
    floor = time.perf_counter() - t
    t = time.perf_counter()
    c = three_layer(ds, candidates=1)
    build = time.perf_counter() - t
    row: dict[str, object] = {
        "N": N, "widths": "x".join(map(str, c.network.widths)), "build s": build, "floor s": floor,
        "build/floor": build / floor, "max|w|": c.network.max_abs_weight,
    }
    if N > verify_max_n:
        return row | {"verify s": "not run", "float64 weights": "-", "f64 err": "-", "f32 err": "-",
                      "exact build s": "-", "exact verify s": "-", "exact weights": "-", "bits": "-"}
    vt, rep = _verify(c.network, ds, arb=N <= arb_max_n)
    row |= {"verify s": vt, "float64 weights": _verdict(rep), "f64 err": rep.float64_error,
            "f32 err": rep.float32_error}
    if N <= exact_max_n:
        t = time.perf_counter()
        ce = three_layer(ds, candidates=1, arithmetic="exact")
        eb = time.perf_counter() - t
        evt, erep = _verify(ce.network, ds, arb=True)
        row |= {"exact build s": eb, "exact verify s": evt, "exact weights": _verdict(erep),
                "bits": erep.bits_needed or "-"}
    else:
        row |= {"exact build s": "-", "exact verify s": "-", "exact weights": "not run",
                "bits": rep.bits_needed or "-"}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arb-max-n", type=int, default=20_000,
                    help="above this N, skip ball arithmetic (report undecided points)")
    ap.add_argument("--verify-max-n", type=int, default=100_000,
                    help="above this N, report the build only (the float passes cost N·d1·d2)")
    ap.add_argument("--exact-max-n", type=int, default=10_000,
                    help="up to this N also build in exact arithmetic and certify with ball arithmetic")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    Ns = [1000, 3000] if a.quick else [n for n in (1000, 10_000, 100_000, 1_000_000) if n <= a.max_n]
    rows = [_row(n, a.d, a.seed, a.arb_max_n, a.verify_max_n, a.exact_max_n) for n in Ns]
    cols = list(rows[0])
    fmt = {float: lambda v: f"{v:.3g}"}
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(fmt.get(type(r[c]), str)(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
