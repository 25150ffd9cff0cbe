"""Precision frontier (issue 8): which constructions stay faithful in float32 / float64 as N grows.

For Gaussian data (d_x = 32, x and y ~ U[-1, 1] rounded to float32 so they are exact in every
format; docs/precision.md) at N = 10³ … 10⁶, and for digits / mnist1d with random labels, prints per
method: widths, dense and non-zero parameters, build time, the certified float32 / float64 error
bounds (any summation order) and the measured errors, and how many points the float bounds decide.

Certified error of point i at precision P: |f64(x_i) - y_i| + b64_i (an upper bound on the exact
network's error) + b_P,i (forward_float_bounded: |f_P - f| for every summation order). Faithful
means ≤ 1e-3 (docs/precision.md). A point is decided faithful when its certified error is ≤ 1e-3, decided
unfaithful when the measured numpy error already exceeds 1e-3, else undecided (reported as such;
the full verifier's arb tiers are too slow at this scale). Classification: certified margin
m64 - 2·b64 - 2·b_P > 0. Above --full-eval points, the aid's protocol evaluates a subset: the 4000
points with the smallest neighbouring gap along the method's projection u plus 6000 random points
(marked "subset": NOT a certificate for the whole dataset).

    python benchmarks/precision_frontier.py --quick
    python benchmarks/precision_frontier.py             # N up to 10⁶ (long)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np

from memcap.constructions.registry import all_methods, get_method
from memcap.data import Dataset, load_dataset
from memcap.numerics import forward_float_bounded

FAITHFUL = 1e-3
BASE = ["yun-3layer", "decoupled-3layer", "zigzag-3layer", "twoproj-5layer"]
#: largest N each method is run at (dense size / time); the N-neuron baseline is N·(d+2) parameters
LIMIT = {"yun-3layer": 262144, "decoupled-3layer": 262144, "zigzag-3layer": 262144,
         "twoproj-5layer": 10**6, "twoproj-5layer q=24": 30000, "zhang17-wide": 30000}


def gaussian(N: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, 32)).astype(np.float32).astype(np.float64)
    y = rng.uniform(-1, 1, N).astype(np.float32).astype(np.float64)
    return Dataset(X, y, name=f"gaussian d=32 N={N}")


def random_labels(src: str, seed: int = 0) -> Dataset:
    ds = load_dataset(src)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, ds.n_classes, size=ds.N)
    return Dataset(ds.X, y, task="classification", name=f"{src.split(':')[-1]} random labels")


def eval_rows(ds: Dataset, net: Any, u: Any, full_eval: int, seed: int = 0) -> tuple[np.ndarray, str]:
    if ds.N <= full_eval:
        return np.arange(ds.N), "all"
    rng = np.random.default_rng(seed)
    if u is not None:
        c = ds.X @ np.asarray(u, dtype=np.float64)
        order = np.argsort(c)
        g = np.diff(c[order])
        near = np.minimum(np.r_[np.inf, g], np.r_[g, np.inf])
        worst = order[np.argsort(near)[:4000]]
    else:
        worst = np.arange(0)
    rest = np.setdiff1d(np.arange(ds.N), worst)
    pick = np.union1d(worst, rng.choice(rest, size=min(6000, len(rest)), replace=False))
    return pick, f"subset {len(pick)}"


def certify(ds: Dataset, net: Any, rows: np.ndarray) -> dict[str, Any]:
    X = ds.X[rows]
    o64, b64 = forward_float_bounded(net, X, np.float64)
    o32, b32 = forward_float_bounded(net, X, np.float32)
    res: dict[str, Any] = {}
    if ds.task == "regression":
        Y = ds.targets[rows]
        ex_hi = (np.abs(o64 - Y) + b64).max(axis=1)
        for name, o, b in (("f32", o32, b32), ("f64", o64, b64)):
            cert = ex_hi + b.max(axis=1)
            meas = np.abs(o - Y).max(axis=1)
            res[name] = (float(np.max(cert)), float(np.max(meas)), int(np.sum(cert <= FAITHFUL)),
                         int(np.sum(meas > FAITHFUL)))
    else:
        lab = ds.labels[rows]
        r = np.arange(len(rows))

        def margin(o: np.ndarray) -> np.ndarray:
            other = o.copy()
            other[r, lab] = -np.inf
            return o[r, lab] - other.max(axis=1)

        m64 = margin(o64) - 2 * b64.max(axis=1)
        for name, o, b in (("f32", o32, b32), ("f64", o64, b64)):
            cert = m64 - 2 * b.max(axis=1)
            meas = margin(o)
            res[name] = (float(np.min(cert)), float(np.min(meas)), int(np.sum(cert > 0)),
                         int(np.sum(meas <= 0)))
    return res


def run(ds: Dataset, method: str, opts: dict[str, Any], full_eval: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    c = get_method(method).build(ds, arithmetic="float64", **opts)
    build = time.perf_counter() - t0
    net = c.network
    rows, how = eval_rows(ds, net, c.info.get("u"), full_eval)
    t1 = time.perf_counter()
    res = certify(ds, net, rows)
    return {"widths": net.widths, "params": net.parameters, "nnz": net.nonzeros, "build": build,
            "eval": time.perf_counter() - t1, "how": how, "n": len(rows), **res}


def fmt_row(data: str, N: int, label: str, r: dict[str, Any], task: str) -> str:
    def dec(t: tuple[float, float, int, int]) -> str:
        ok, bad = t[2], t[3]
        return f"{ok}/{bad}/{r['n'] - ok - bad}"

    w = ",".join(str(x) for x in r["widths"])
    w = w if len(w) <= 24 else w[:21] + "..."
    unit = "margin" if task == "classification" else "err"
    return (f"| {data} | {N} | {label} | {w} | {r['params']:.3g} | {r['nnz']:.3g} | {r['build']:.3g} | "
            f"{r['f32'][0]:.2e} | {r['f32'][1]:.2e} | {dec(r['f32'])} | {r['f64'][0]:.2e} | "
            f"{r['f64'][1]:.2e} | {dec(r['f64'])} | {r['how']} ({unit}) |")


HEADER = ("| data | N | method | widths | dense P | non-zeros | build s | f32 certified | f32 measured | "
          "f32 ok/bad/undec | f64 certified | f64 measured | f64 ok/bad/undec | evaluated |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 1000, 4096 and digits only (minutes)")
    ap.add_argument("--sizes", type=str, default=None,
                    help="comma-separated N for the Gaussian rows ('none': real data only)")
    ap.add_argument("--methods", type=str, default=None, help="comma-separated method labels")
    ap.add_argument("--full-eval", type=int, default=30000,
                    help="evaluate every point up to this N, the aid's 10⁴-point subset above")
    ap.add_argument("--no-real", action="store_true", help="skip digits / mnist1d")
    a = ap.parse_args(argv)
    names = {m.name for m in all_methods()}
    labels = BASE + ["twoproj-5layer q=24"] + (["zhang17-wide"] if "zhang17-wide" in names else [])
    if a.methods:
        labels = [x.strip() for x in a.methods.split(",")]
    sizes = [1000, 4096] if a.quick else [1000, 4096, 10000, 30000, 65536, 100000, 262144, 1000000]
    if a.sizes:
        sizes = [] if a.sizes == "none" else [int(float(s)) for s in a.sizes.split(",")]
    real = [] if a.no_real else (["builtin:digits"] if a.quick else ["builtin:digits", "builtin:mnist1d"])
    print(HEADER)
    sys.stdout.flush()
    jobs = [("gaussian", lambda N=N: gaussian(N)) for N in sizes]
    jobs += [(src.split(":")[-1] + " (rand. labels)", lambda s=src: random_labels(s)) for src in real]
    for data, make in jobs:
        ds = make()
        for label in labels:
            method, _, opt = label.partition(" ")
            opts = {k: int(v) for k, v in (o.split("=") for o in opt.split())} if opt else {}
            if ds.N > LIMIT.get(label, math.inf):
                continue
            if method == "twoproj-5layer" and opts.get("q") == 24 and ds.N < 2000:
                continue
            try:
                r = run(ds, method, opts, a.full_eval)
            except Exception as exc:  # noqa: BLE001 - a benchmark row reports the failure
                print(f"| {data} | {ds.N} | {label} | failed: {type(exc).__name__}: {exc} |")
                continue
            print(fmt_row(data, ds.N, label, r, ds.task))
            sys.stdout.flush()
    print(f"\nfaithful: certified error ≤ {FAITHFUL:g} (classification: certified margin > 0); "
          "ok/bad/undec = points decided faithful / decided not faithful (measured) / undecided")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
