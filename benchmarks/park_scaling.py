"""Park et al. (2021) sizes and costs as N grows, beside the O(N)-parameter memorizers.

    python benchmarks/park_scaling.py --quick        # builds up to N = 300, formulas to 10^9
    python benchmarks/park_scaling.py                # builds up to N = 1000 (several minutes)
    python benchmarks/park_scaling.py --plot out.png # also draw parameters vs N (log axes)

Prints four tables:
1. parameters by exact formula (no build) for N = 10^2..10^5 (and 10^6..10^9): park-sublinear
   (improved and paper variants, ReLU and hard-tanh/Step+Id), park-width3, yun-3layer, zhang17-wide;
2. the crossover: smallest N from which each Park variant has fewer parameters than N;
3. each constant-factor improvement's effect (cumulative), at several N;
4. build and certified-verification time and bits per weight for networks actually built on
   Δ-separated data (digits subsets; their Δ ≈ 8.1).
Formulas use d_x = 10, C = 10, Δ = 100 (memcap's running example) unless stated.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

from memcap.theory.park2021 import count, plan_sublinear, plan_width3

DX, C, DELTA = 10, 10, Fraction(100)


def yun_params(N: int, d_x: int = DX, d_y: int = C) -> int | None:
    try:
        from memcap.network import RELU
        from memcap.theory.yun2019 import three_layer_minimal_widths
    except ImportError:
        return None
    d1, d2 = three_layer_minimal_widths(N, d_y, RELU, d_x)
    return d1 * (d_x + 1) + d2 * (d1 + 1) + d_y * (d2 + 1)


def thm3_params(N: int, width: int = 7) -> int | None:
    """Dense parameters of the uniform-width network Theorem 3 accepts with the fewest layers
    (hard-tanh, the widths park-thm3 builds); None beyond N = 10^6 (the depth search is O(L log L))."""
    if N > 10**6:
        return None
    from memcap.constructions.park2021.program import dense_parameters
    from memcap.theory.park2021 import min_depth_uniform

    L = min_depth_uniform(width, N, DX, C, DELTA)
    return None if L is None else dense_parameters(DX, [width] * L, C)


def zhang_params(N: int, d_x: int = DX, d_y: int = C) -> int | None:
    from memcap.constructions.registry import all_methods

    if "zhang17-wide" not in {m.name for m in all_methods()}:
        return None
    return N * (d_x + 1) + d_y * (N + 1)  # its documented size formula (one hidden layer of N)


VARIANTS = {
    "paper, folded (no pass-through)": dict(variant="paper", bottlenecks=False),
    "paper (Sec. 5 pass-through layers)": dict(variant="paper"),
    "+ R = fixed (erratum PLYS-5)": dict(variant="paper", R="fixed"),
    "+ best split A·B >= V": dict(variant="improved", w=Fraction(2, 3), R=1),
    "+ best R (multi-bit extraction)": dict(variant="improved", w=Fraction(2, 3)),
    "+ best w (choice of V)": dict(variant="improved"),
}


def sub(N: int, act: str = "relu", **kw) -> int:
    return count(plan_sublinear(N, DX, C, DELTA, activation=act, **kw))["parameters"]


def crossover(f, lo: int = 10, hi: int = 10**10) -> int | None:
    """Smallest N on a 1.1x grid (then bisection) with f(N) < N, provided it stays so at 10^10."""
    if f(hi) >= hi:
        return None
    grid = []
    n = lo
    while n < hi:
        grid.append(n)
        n = int(n * 1.25) + 1
    prev = None
    for n in grid:
        if f(n) < n:
            if prev is None:
                return n
            a, b = prev, n
            while a + 1 < b:
                m = (a + b) // 2
                a, b = (a, m) if f(m) < m else (m, b)
            return b
        prev = n
    return hi


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}"
    return f"{v:,}"


def table(title: str, cols: list[str], rows: list[list]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        print("| " + " | ".join(fmt(v) if not isinstance(v, str) else v for v in r) + " |")


def formulas(Ns: list[int]) -> dict[str, list]:
    series = {
        "park-sublinear (ReLU, improved)": [sub(N) for N in Ns],
        "park-sublinear (ReLU, paper)": [sub(N, variant="paper") for N in Ns],
        "park-sublinear (Step+Id / hard-tanh, improved)": [sub(N, "hardtanh") for N in Ns],
        "park-width3 (hard-tanh, width 3)": [count(plan_width3(N, DX, C, DELTA))["parameters"] for N in Ns],
        "park-thm3 (uniform width 7, fewest layers; hard-tanh)": [thm3_params(N) for N in Ns],
        "yun-3layer (ReLU)": [yun_params(N) for N in Ns],
        "zhang17-wide (ReLU)": [zhang_params(N) for N in Ns],
    }
    table(f"parameters by formula (d_x={DX}, C={C}, Δ={DELTA}; exact, no build)", ["method"] + [
        f"N={N:.0e}" for N in Ns], [[k, *v] for k, v in series.items()])
    return series


def crossovers() -> None:
    rows = []
    for act in ("relu", "hardtanh"):
        for name, kw in [("paper", dict(variant="paper")), ("improved", dict(variant="improved"))]:
            rows.append([f"park-sublinear {name} ({act})", crossover(lambda n, a=act, k=kw: sub(n, a, **k))])
    rows.append(["park-width3 (hard-tanh)",
                 crossover(lambda n: count(plan_width3(n, DX, C, DELTA))["parameters"])])
    table("crossover: parameters < N from", ["method", "N"], rows)


def improvements(Ns: list[int]) -> None:
    rows = []
    for name, kw in VARIANTS.items():
        rows.append([name, *[sub(N, **kw) for N in Ns],
                     crossover(lambda n, k=kw: sub(n, **k))])
    table("constant-factor improvements, cumulative (ReLU, AND = 1 ReLU)", ["variant"] + [
        f"N={N:.0e}" for N in Ns] + ["params < N from"], rows)


def builds(Ns: list[int]) -> None:
    import memcap

    digits = memcap.load_dataset("builtin:digits")
    rows = []
    for N in Ns:
        ds = memcap.Dataset(digits.X[:N], digits.labels[:N], task="classification", name=f"digits[:{N}]")
        for method, opts in [("park-sublinear", {}), ("park-sublinear", {"variant": "paper"}),
                             ("park-width3", {}), ("yun-3layer", {})]:
            try:
                m = memcap.constructions.registry.get_method(method)
            except KeyError:
                continue
            t0 = time.perf_counter()
            c = m.build(ds, arithmetic="exact", **opts)
            tb = time.perf_counter() - t0
            rep = memcap.verify(c.network, ds)
            bits = max((v.height_bits() for L in c.network.layers for a in L.arrays()
                        if a.dtype == object for v in a.ravel()), default=53)
            tiers = ", ".join(f"{k}:{v}" for k, v in rep.tiers.items() if v)
            rows.append([N, method + (" paper" if opts else ""), c.network.depth - 1,
                         max(c.network.widths), c.network.parameters, bits, f"{tb:.1f}",
                         f"{rep.seconds:.1f}", "yes" if rep.memorized and rep.certified else "NO",
                         tiers, "yes" if rep.float64_memorizes else "no"])
            print(f"  built {method} {opts} N={N}", flush=True)
    table("built on digits subsets (exact weights, certified by memcap.verify)",
          ["N", "method", "hidden layers", "width", "parameters", "max bits/weight", "build s",
           "verify s", "memorized", "verifier tiers", "float64 certified"], rows)


def plot(path: str, Ns: list[int], series: dict[str, list]) -> None:
    from memcap._plot import subplots
    from memcap._util import atomic_write_bytes

    fig, ax = subplots(figsize=(7, 4.5))
    for k, v in series.items():
        pts = [(n, p) for n, p in zip(Ns, v, strict=True) if p is not None]
        if pts:
            ax.loglog(*zip(*pts, strict=True), marker="o", ms=3, label=k)
    ax.loglog(Ns, Ns, "k--", lw=1, label="parameters = N")
    ax.set_xlabel("N (points)")
    ax.set_ylabel("parameters")
    ax.set_title(f"Park et al. 2021 vs O(N) memorizers (d_x={DX}, C={C}, Δ={DELTA})")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    print(f"\nwrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="builds up to N = 300 only")
    ap.add_argument("--plot", default=None, help="write parameters vs N to this PNG")
    ap.add_argument("--no-build", action="store_true", help="formulas only")
    a = ap.parse_args()
    big = [10**k for k in range(2, 10)]
    formulas(big)
    crossovers()
    improvements([10**3, 10**4, 10**6, 10**9])
    if not a.no_build:
        builds([100, 300] if a.quick else [100, 300, 1000])
    if a.plot:
        dense = sorted({int(round(10 ** (k / 4))) for k in range(8, 37)})
        plot(a.plot, dense, formulas_quiet(dense))


def formulas_quiet(Ns: list[int]) -> dict[str, list]:
    return {
        "park-sublinear ReLU improved": [sub(N) for N in Ns],
        "park-sublinear ReLU paper": [sub(N, variant="paper") for N in Ns],
        "park-sublinear Step+Id improved": [sub(N, "hardtanh") for N in Ns],
        "park-width3 (width 3)": [count(plan_width3(N, DX, C, DELTA))["parameters"] for N in Ns],
        "park-thm3 width 7": [thm3_params(N) for N in Ns],
        "yun-3layer": [yun_params(N) for N in Ns],
        "zhang17-wide": [zhang_params(N) for N in Ns],
    }


if __name__ == "__main__":
    main()
