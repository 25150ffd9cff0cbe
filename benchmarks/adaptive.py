"""adaptive vs the baselines (issue 13): the smallest network certified to memorize *this* data in float32.

For each dataset prints: adaptive's parameters, widths, repaired points, time and whether it is
certified in float32 (any summation order; memcap.verify + certify_precision); scikit-learn's
MLPClassifier width search (smallest hidden width reaching 100 % training accuracy, default adam
solver, ``max_iter`` below) with its parameters, time and whether memcap certifies *that* network in
float32; and memcap's smallest worst-case method certified in float32 (``choose_method`` over every
registered method but adaptive). memo (Dirksen, Finke & Genzel, JMLR 25(347), 2024) is a two-class,
uncertified construction; its per-dataset sizes are not reproduced here (see docs/adaptive.md).

    python benchmarks/adaptive.py            # every dataset (several minutes)
    python benchmarks/adaptive.py --quick    # digits (true / random labels), iris, breast cancer
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

import numpy as np

import memcap
from memcap.certify.precision import certify_precision, precision_tolerance
from memcap.constructions.registry import all_methods
from memcap.data import Dataset, load_dataset
from memcap.network import IDENTITY, RELU, Dense, Network
from memcap.select import choose_method


def datasets(quick: bool) -> list[tuple[str, Dataset]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        digits = load_dataset("builtin:digits")
        rand = Dataset(digits.X, np.random.default_rng(0).integers(0, 10, digits.N),
                       task="classification", name="digits random labels")
        out = [("digits", digits), ("digits (random labels)", rand),
               ("iris", load_dataset("builtin:iris")),
               ("breast cancer", load_dataset("builtin:breast_cancer"))]
        if not quick:
            out += [("mnist1d", load_dataset("builtin:mnist1d")),
                    ("gaussian N=1000 (regr.)", load_dataset("gen:gaussian?n=1000&d=8&seed=0")),
                    ("gaussian N=10000 (regr.)", load_dataset("gen:gaussian?n=10000&d=8&seed=0"))]
    return out


def run_adaptive(ds: Dataset, max_seconds: float) -> dict[str, Any]:
    tol = precision_tolerance(ds, "float32")
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        c = memcap.construct(ds, "adaptive", tol=tol, max_seconds=max_seconds)
    except memcap.errors.ConstructionError as exc:
        return {"params": None, "why": str(exc)[:120], "seconds": time.perf_counter() - t0,
                "cpu": time.process_time() - c0}
    cert = certify_precision(c.network, ds, "float32", tol=tol, report=c.verification)
    return {"params": c.network.parameters, "widths": c.network.widths, "gates": c.info["gates"],
            "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "f32": cert.certified, "budget_hit": c.info["budget_hit"]}


def _mlp_net(clf: Any) -> Network:
    layers = [Dense(clf.coefs_[0].T, clf.intercepts_[0], RELU),
              Dense(clf.coefs_[1].T, clf.intercepts_[1], IDENTITY)]
    if clf.coefs_[1].shape[1] == 1:  # binary: one logit z; logits (0, z) rank the classes alike
        W, b = clf.coefs_[1].T, clf.intercepts_[1]
        layers[1] = Dense(np.vstack([np.zeros_like(W), W]), np.concatenate([[0.0], b]), IDENTITY)
    return Network(layers)


def sklearn_search(ds: Dataset, budget: float, max_iter: int) -> dict[str, Any]:
    """Smallest hidden width with 100 % training accuracy: doubling, then bisection."""
    if ds.task != "classification":
        return {"params": None, "why": "classifier only"}
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    t0 = time.perf_counter()
    fits: dict[int, Any] = {}

    def fit(w: int) -> bool:
        clf = MLPClassifier(hidden_layer_sizes=(w,), max_iter=max_iter, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(ds.X, ds.labels)
        ok = bool(np.all(clf.predict(ds.X) == ds.labels))
        if ok:
            fits[w] = clf
        return ok

    w, lo = 1, 0
    while not fit(w):
        lo = w
        if time.perf_counter() - t0 > budget or w >= 4096:
            why = (f"no width ≤ {w} fit (budget {budget:g} s)" if w < 4096 else
                   "no width ≤ 4096 reaches 100 %")
            return {"params": None, "why": why, "seconds": time.perf_counter() - t0}
        w *= 2
    hi = w
    while hi - lo > 1 and time.perf_counter() - t0 < budget:
        mid = (lo + hi) // 2
        if fit(mid):
            hi = mid
        else:
            lo = mid
    net = _mlp_net(fits[hi])
    rep = memcap.verify(net, ds)
    out = 1 if ds.d_y == 2 else ds.d_y
    return {"params": hi * (ds.d_x + 1) + out * (hi + 1), "width": hi,
            "seconds": time.perf_counter() - t0, "f32": bool(rep.memorized and rep.float32_memorizes)}


def worst_case(ds: Dataset) -> dict[str, Any]:
    names = [m.name for m in all_methods() if m.name != "adaptive"]
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c, cert, _ = choose_method(ds, "float32", methods=names)
    except memcap.errors.ConstructionError:
        return {"params": None, "why": "none certified in float32", "seconds": time.perf_counter() - t0}
    return {"params": c.network.parameters, "method": c.certificate.method,
            "seconds": time.perf_counter() - t0}


def _p(v: Any) -> str:
    return "—" if v is None else f"{v:,}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits, iris and breast cancer only")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="adaptive's budget (CPU s)")
    ap.add_argument("--sklearn-budget", type=float, default=300.0, help="sklearn search budget (s)")
    ap.add_argument("--sklearn-max-iter", type=int, default=2000)
    ap.add_argument("--no-worst-case", action="store_true", help="skip memcap's worst-case methods")
    args = ap.parse_args(argv)
    rows = []
    for name, ds in datasets(args.quick):
        print(f"== {name} (N={ds.N}, d_x={ds.d_x}, d_y={ds.d_y})", file=sys.stderr, flush=True)
        a = run_adaptive(ds, args.max_seconds)
        print(f"   adaptive {a}", file=sys.stderr, flush=True)
        s = sklearn_search(ds, args.sklearn_budget, args.sklearn_max_iter)
        print(f"   sklearn {s}", file=sys.stderr, flush=True)
        w = {"params": None, "why": "skipped"} if args.no_worst_case else worst_case(ds)
        print(f"   worst-case {w}", file=sys.stderr, flush=True)
        rows.append((name, ds, a, s, w))
    print("| data | N | adaptive params (widths, gates) | adaptive s (CPU s) | float32 cert. | "
          "sklearn MLP params (width) | sklearn s | sklearn float32 cert. | memcap worst-case "
          "float32 (method) | worst-case s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, ds, a, s, w in rows:
        ad = (f"{_p(a['params'])} ({a['widths']}, {a['gates']})" if a["params"] is not None
              else f"refused: {a['why']}")
        sk = f"{_p(s['params'])} ({s['width']})" if s.get("params") is not None else s.get("why", "—")
        sk_cert = ("yes" if s.get("f32") else "no") if s.get("params") is not None else "—"
        wc = f"{_p(w['params'])} ({w['method']})" if w.get("params") is not None else w.get("why", "—")
        print(f"| {name} | {ds.N} | {ad} | {a['seconds']:.1f} ({a['cpu']:.1f}) | "
              f"{'yes' if a.get('f32') else '—'} | {sk} | {_s(s)} | {sk_cert} | {wc} | {_s(w)} |")


def _s(d: dict[str, Any]) -> str:
    return f"{d['seconds']:.1f}" if "seconds" in d else "—"

if __name__ == "__main__":
    main()
