"""Where the optimal memorizer (Vardi, Yehudai & Shamir 2022) wins: sizes, bits and certification cost.

    python benchmarks/vardi_scaling.py --quick          # formulas to 10^8, builds at N = 10^3 (≈ 1 min)
    python benchmarks/vardi_scaling.py                  # + builds at N = 10^4, digits, mnist1d (≈ 10 min)
    python benchmarks/vardi_scaling.py --plot out.png   # also draw parameters vs N (log axes)

Tables:
1. by exact formula (no build), N = 10^3 … 10^8: vardi-optimal (depth-optimal and parameter-optimal
   grouping), vardi-depth at its best depth, park-sublinear (improved), yun-3layer — parameters
   (dense and generic nonzero), depth, bits per weight — beside the floors (VC any depth, VC at the
   network's depth, bit counting at its bits and at 64);
2. the crossover: smallest N from which each method has fewer parameters than N;
3. built and certified (exact, memcap.verify's integer tier) on random labels and on digits /
   mnist1d: parameters, depth, max and total weight bits, build and certify seconds.
Formulas: d = 10, C = 10, r/δ = 50 (so Park's Δ = diam/min distance ≤ 2r/δ = 100).
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import numpy as np

from memcap.errors import MemcapError
from memcap.theory import vardi2022 as th
from memcap.theory.lower_bounds import bit_floor, vc_floor
from memcap.theory.park2021 import count, plan_sublinear

DX, C, R_OVER_DELTA = 10, 10, 50.0
DELTA_PARK = Fraction(100)


def vardi(N: int, grouping: str = "depth") -> dict:
    p = th.plan(N, DX, C, C - 1, R_OVER_DELTA, 1.0, grouping=grouping)
    s = th.sizes(p, out_bias=C - 1, out_rows=C - 1)
    s.pop("widths", None)
    return s


def vardi_depth_best(N: int) -> tuple[int, dict]:
    """vardi-depth at the depth L (a multiple of the slot size) with the fewest dense parameters."""
    ell = th.plan(N, DX, C, C - 1, R_OVER_DELTA, 1.0).ell
    best = None
    n = 1
    while n <= N:
        L = 5 + n * (3 * ell + 2)
        p = th.plan(N, DX, C, C - 1, R_OVER_DELTA, 1.0, depth=L)
        s = th.sizes(p, out_bias=C - 1, out_rows=C - 1)
        s.pop("widths", None)
        if best is None or s["parameters"] < best[1]["parameters"]:
            best = (L, s)
        elif s["parameters"] > 2 * best[1]["parameters"]:
            break
        n = n + 1 if n < 8 else int(n * 1.15) + 1
    assert best is not None
    return best


def park(N: int) -> dict:
    return count(plan_sublinear(N, DX, C, DELTA_PARK))


def yun(N: int) -> int:
    from memcap.network import RELU
    from memcap.theory.yun2019 import three_layer_minimal_widths

    d1, d2 = three_layer_minimal_widths(N, C, RELU, DX)
    return d1 * (DX + 1) + d2 * (d1 + 1) + C * (d2 + 1)


def crossover(f, lo: int = 10, hi: int = 10**11) -> int | None:
    """Smallest N (1.25× grid, then bisection) with f(N) < N, provided it holds at ``hi``."""
    if f(hi) >= hi:
        return None
    prev, n = None, lo
    while n < hi:
        if f(n) < n:
            if prev is None:
                return n
            a, b = prev, n
            while a + 1 < b:
                m = (a + b) // 2
                a, b = (a, m) if f(m) < m else (m, b)
            return b
        prev, n = n, int(n * 1.25) + 1
    return hi


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def table(title: str, cols: list[str], rows: list[list]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        print("| " + " | ".join(fmt(v) for v in r) + " |")


def best_at(N: int, s: dict) -> int:
    """The best floor for a network of this depth and bits per weight."""
    return max(vc_floor(N, s["depth"]), bit_floor(N, C, s["weight_bits"]))


def formulas(Ns: list[int]) -> dict[str, list]:
    rows, series = [], {"vardi-optimal": [], "vardi-optimal nonzero": [], "vardi-depth (best L)": [],
                        "park-sublinear": [], "yun-3layer": [], "VC floor (any depth)": [], "N": []}
    for N in Ns:
        v, vp = vardi(N), vardi(N, "params")
        L, vd = vardi_depth_best(N)
        pk = park(N)
        y = yun(N)
        vc_any = vc_floor(N)
        for name, s in (("vardi-optimal (depth n)", v), ("vardi-optimal (params n)", vp),
                        (f"vardi-depth L={L}", vd)):
            rows.append([N, name, s["parameters"], s["nonzeros_generic"], s["depth"], s["max_width"],
                         s["weight_bits"], vc_any, vc_floor(N, s["depth"]),
                         bit_floor(N, C, s["weight_bits"]), bit_floor(N, C, 64),
                         f"{s['parameters'] / best_at(N, s):.0f}×",
                         f"{s['parameters'] / vc_any:.0f}×"])
        rows.append([N, "park-sublinear (improved)", pk["parameters"], None, pk["depth"], pk["width"],
                     None, vc_any, vc_floor(N, pk["depth"]), None, bit_floor(N, C, 64),
                     f"{pk['parameters'] / vc_floor(N, pk['depth']):.0f}×",
                     f"{pk['parameters'] / vc_any:.0f}×"])
        rows.append([N, "yun-3layer", y, None, 3, None, 53, vc_any, vc_floor(N, 3), None,
                     bit_floor(N, C, 64), f"{y / max(vc_floor(N, 3), bit_floor(N, C, 64)):.0f}×",
                     f"{y / vc_any:.0f}×"])
        series["N"].append(N)
        series["vardi-optimal"].append(v["parameters"])
        series["vardi-optimal nonzero"].append(v["nonzeros_generic"])
        series["park-sublinear"].append(pk["parameters"])
        series["yun-3layer"].append(y)
        series["vardi-depth (best L)"].append(vd["parameters"])
        series["VC floor (any depth)"].append(vc_any)
    table(f"by formula (d = {DX}, C = {C}, r/δ = {R_OVER_DELTA:g}, Park Δ = {DELTA_PARK}); floors in "
          "parameters", ["N", "method", "dense params", "nonzero params", "depth", "width", "bits/weight",
                         "VC floor (any depth)", "VC floor (its depth)", "bit floor (its bits)",
                         "bit floor (64 bits)", "dense / best floor at its depth & bits",
                         "dense / VC floor any depth"], rows)
    return series


def crossovers() -> None:
    rows = [
        ["vardi-optimal, dense", crossover(lambda n: vardi(n)["parameters"])],
        ["vardi-optimal, nonzero", crossover(lambda n: vardi(n)["nonzeros_generic"])],
        ["vardi-optimal (params n), dense", crossover(lambda n: vardi(n, "params")["parameters"])],
        ["vardi-depth at its best L, dense", crossover(lambda n: vardi_depth_best(n)[1]["parameters"],
                                                       hi=10**9)],
        ["park-sublinear (improved), dense", crossover(lambda n: park(n)["parameters"])],
        ["yun-3layer, dense", crossover(yun)],
    ]
    rows += [
        ["vardi-optimal dense < park-sublinear dense",
         first_below(lambda n: vardi(n)["parameters"], lambda n: park(n)["parameters"])],
        ["vardi-optimal (params n) dense < park-sublinear dense",
         first_below(lambda n: vardi(n, "params")["parameters"], lambda n: park(n)["parameters"])],
        ["vardi-depth (best L) dense < park-sublinear dense",
         first_below(lambda n: vardi_depth_best(n)[1]["parameters"], lambda n: park(n)["parameters"],
                     hi=10**9)],
    ]
    table("crossover: smallest N from which the method has fewer parameters than N (or than Park)",
          ["method", "N"], rows)


def first_below(f, g, lo: int = 10, hi: int = 10**11) -> int | None:
    """Smallest N on a 1.25× grid (then bisection) with f(N) < g(N), provided it holds at ``hi``."""
    return crossover(lambda n: f(n) * n / max(1, g(n)), lo, hi)


def _bits(v) -> int:
    q = int(v.q)
    return int(abs(int(v.p))).bit_length() + (q.bit_length() - 1 if q & (q - 1) == 0 else q.bit_length())


def builds(cases: list[tuple[str, object]], methods: list[str]) -> None:
    import memcap

    rows = []
    for name, ds in cases:
        for method in methods:
            m = memcap.constructions.base.get_method(method)
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                c = m.build(ds, arithmetic="exact")
            except MemcapError as exc:
                rows.append([name, ds.N, method, "refused: " + str(exc)[:60]] + [None] * 8)
                continue
            tb, cb = time.perf_counter() - t0, time.process_time() - c0
            c1 = time.process_time()
            rep = memcap.verify(c.network, ds)
            cv = time.process_time() - c1
            net = c.network
            vals = [v for L in net.layers for a in L.arrays() for v in a.ravel() if v != 0]
            bits = [_bits(v) for v in vals] if net.exact else [53] * len(vals)
            tiers = ", ".join(f"{k}:{v}" for k, v in rep.tiers.items() if v)
            rows.append([name, ds.N, method, net.parameters, net.nonzeros, net.depth, max(net.widths),
                         max(bits), sum(bits), f"{tb:.1f} ({cb:.1f})", f"{rep.seconds:.1f} ({cv:.1f})",
                         ("yes" if rep.memorized and rep.certified else "NO") + f" ({tiers})"])
            print(f"  built {method} on {name} (N={ds.N}): {tb:.1f} s + certify {rep.seconds:.1f} s",
                  flush=True)
    table("built and certified (exact weights; memcap.verify)",
          ["data", "N", "method", "dense params", "nonzero", "depth", "width", "max bits/weight",
           "total weight bits", "build s (cpu)", "certify s (cpu)", "memorized (tiers)"], rows)


def random_labels(N: int, seed: int = 0):
    import memcap

    rng = np.random.default_rng(seed)
    return memcap.Dataset(rng.standard_normal((N, DX)), rng.integers(0, C, N), task="classification",
                          name=f"gauss N={N}")


def plot(path: str, series: dict[str, list]) -> None:
    import matplotlib.figure

    fig = matplotlib.figure.Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    Ns = series["N"]
    for k, v in series.items():
        if k != "N":
            ax.loglog(Ns, v, marker="o", label=k)
    ax.loglog(Ns, Ns, "k--", label="N")
    ax.set_xlabel("N points")
    ax.set_ylabel("parameters")
    ax.set_title(f"memorizers of N points (d={DX}, C={C})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nplot written to {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="builds at N = 10^3 only")
    ap.add_argument("--plot", help="write a log-log plot of parameters vs N here")
    ap.add_argument("--no-build", action="store_true", help="formulas and crossovers only")
    a = ap.parse_args()
    Ns = [10**k for k in range(3, 9)]
    series = formulas(Ns)
    crossovers()
    if not a.no_build:
        import memcap

        cases = [("random labels", random_labels(1000))]
        if not a.quick:
            cases += [("random labels", random_labels(10_000)),
                      ("builtin:digits", memcap.load_dataset("builtin:digits"))]
            try:
                cases.append(("builtin:mnist1d", memcap.load_dataset("builtin:mnist1d")))
            except MemcapError as exc:
                print(f"  (mnist1d skipped: {exc})")
        builds([c for c in cases if c[1].N <= 1000], ["vardi-optimal", "park-sublinear"])
        builds([c for c in cases if c[1].N > 1000], ["vardi-optimal"])
    if a.plot:
        plot(a.plot, series)


if __name__ == "__main__":
    main()
