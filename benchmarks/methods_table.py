"""Every registered construction on digits-like data: size, build time, certified verify time, bits.

    python benchmarks/methods_table.py --quick            # N = 100, 1000; 60 s cap per build
    python benchmarks/methods_table.py                    # N = 100, 1000, 10000; 600 s cap
    python benchmarks/methods_table.py --n 300 --methods yun-3layer,zhang17-wide --timeout 30

Digits-like data: the real sklearn digits images (8x8, d_x = 64, 10 classes), resampled to N points
with independent Gaussian pixel noise (σ = 0.25) so that every N is available and the inputs are
distinct and in general position with probability 1 (the raw digits are not: every image has
pixel 0 = 0, so Theorem 4.1 / Corollary 4.2 refuse them). The same data serve classification
methods and, through one-hot targets, regression ones. Each build runs in its own process with a
time cap (a build over the cap is reported as "timeout" with the sizes from the method's formula).

Columns: hidden neurons, parameters, depth, build seconds, certified-verification seconds, the
mantissa bits a float evaluation needs (from the certified rounding bound), and the outcome.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

import numpy as np

from memcap.errors import MemcapError


def digits_like(N: int, seed: int = 0, noise: float = 0.25) -> Any:
    from sklearn.datasets import load_digits

    import memcap

    d = load_digits()
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(d.data), size=N, replace=N > len(d.data))
    X = d.data[idx] + noise * rng.standard_normal((N, d.data.shape[1]))
    return memcap.Dataset(X, d.target[idx], task="classification", name=f"digits-like(N={N})")


def _run(name: str, N: int, q: Any) -> None:
    import memcap

    ds = digits_like(N)
    t0 = time.perf_counter()
    try:
        c = memcap.construct(ds, name)
    except Exception as exc:  # noqa: BLE001 - the child process reports any failure, bugs included, as a row
        q.put({"status": f"{type(exc).__name__}: {str(exc)[:80]}", "build": time.perf_counter() - t0})
        return
    rep = c.verification
    q.put({"status": "certified" if rep.memorized and rep.certified else "NOT certified",
           "build": time.perf_counter() - t0 - rep.seconds, "verify": rep.seconds, "bits": rep.bits_needed,
           "neurons": c.network.hidden_neurons, "params": c.network.parameters, "depth": c.network.depth,
           "arith": c.certificate.arithmetic})


def measure(name: str, N: int, timeout: float) -> dict[str, Any]:
    q: Any = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_run, args=(name, N, q))
    p.start()
    import queue

    try:
        res = q.get(timeout=timeout)  # read before join: a full pipe would block the child's exit
    except queue.Empty:
        res = {"status": f"timeout (> {timeout:.0f} s)" if p.is_alive() else f"crashed (exit {p.exitcode})"}
    if p.is_alive():
        p.terminate()  # our own child, by its handle
    p.join()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 100, 1000 and a 60 s cap per build")
    ap.add_argument("--n", default=None, help="comma-separated N values")
    ap.add_argument("--methods", default=None, help="comma-separated registry names (default: all)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per build + verify")
    args = ap.parse_args()
    import memcap

    default_ns = [100, 1000] if args.quick else [100, 1000, 10000]
    Ns = [int(v) for v in args.n.split(",")] if args.n else default_ns
    timeout = args.timeout or (60.0 if args.quick else 600.0)
    names = args.methods.split(",") if args.methods else [m.name for m in memcap.methods()]
    head = (f"| {'N':>6} | {'method':<17} | {'neurons':>8} | {'params':>10} | {'depth':>5} | "
            f"{'build s':>8} | {'verify s':>8} | {'bits':>4} | outcome")
    print(head)
    print("|" + "|".join("-" * (len(c) + 2) for c in head[2:].split(" | ")) + "|")
    for N in Ns:
        ds = digits_like(N)
        for name in names:
            m = memcap.constructions.registry.get_method(name)
            if ds.task not in m.tasks:
                continue
            try:
                s = m.size_formula(ds) if m.size_formula else {}
            except MemcapError as exc:  # a formula refusing this data: a row saying why
                s = {}
                print(f"| {N:>6} | {name:<17} | {'':>8} | {'':>10} | {'':>5} | {'':>8} | {'':>8} | {'':>4} | "
                      f"{type(exc).__name__}: {str(exc)[:70]}")
                continue
            r = measure(name, N, timeout)
            neurons = r.get("neurons", sum(s.get("widths", [])) if s else "")
            params = r.get("params", s.get("parameters", ""))
            depth = r.get("depth", s.get("depth", len(s.get("widths", [])) + 1 if s else ""))

            def f(v: Any, fmt: str = ".2f") -> str:
                return "" if v is None or v == "" else format(v, fmt)

            print(f"| {N:>6} | {name:<17} | {neurons:>8} | {params:>10} | {depth:>5} | "
                  f"{f(r.get('build')):>8} | {f(r.get('verify')):>8} | {r.get('bits') or '':>4} | "
                  f"{r['status']}" + (f" ({r['arith']})" if r.get("arith") == "exact" else ""), flush=True)


if __name__ == "__main__":
    main()
