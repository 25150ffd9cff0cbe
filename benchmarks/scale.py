"""Scale benchmark: the default `memcap construct` (smallest network certified in float32) on large
data, each case in its own process (wall time, peak memory), with an independent torch float32 check
of every point.

    python benchmarks/scale.py                      # the issue's targets (long: N up to 10^6)
    python benchmarks/scale.py --quick              # digits + N = 10^4 (minutes)
    python benchmarks/scale.py --cases g-reg-1e5 --max-seconds 600

Prints a markdown table: data, N, method, widths, stored / dense parameters, stored per N·d_y,
construct+certify wall seconds (and the process's CPU seconds, which do not depend on the machine's
load), peak RSS, certified float32 bound (regression: worst |f - y|;
classification: smallest margin), torch float32 max error / accuracy on all points, and the
machine load (`uptime`) at the start of each case. A case that exceeds --max-seconds is reported
as such (the measured frontier).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CASES = {
    # name: (source, kind, target seconds)
    "digits": ("builtin:digits", "classification", None),
    "digits-random": ("digits-random", "classification", None),
    "g-reg-1e4": ("gen:gaussian?n=10000&d=32&seed=0", "regression", None),
    "g-cls-1e4": ("gen:gaussian?n=10000&d=32&seed=0&task=classification&classes=10", "classification", None),
    "g-reg-3e4": ("gen:gaussian?n=30000&d=32&seed=0", "regression", None),
    "g-reg-1e5": ("gen:gaussian?n=100000&d=32&seed=0", "regression", 60),
    "g-cls-1e5": ("gen:gaussian?n=100000&d=32&seed=0&task=classification&classes=10", "classification", 60),
    "mnist-shape": ("gen:gaussian?n=60000&d=784&seed=0&task=classification&classes=10", "classification",
                    300),
    "g-reg-1e6": ("gen:gaussian?n=1000000&d=32&seed=0", "regression", 900),
}
QUICK = ["digits", "digits-random", "g-reg-1e4", "g-cls-1e4"]


def _load(source: str):  # noqa: ANN202 - benchmark helper
    import numpy as np

    import memcap

    if source == "digits-random":
        ds = memcap.load_dataset("builtin:digits")
        labels = np.random.default_rng(0).integers(0, 10, ds.N)
        return memcap.Dataset(ds.X, labels, task="classification", name="digits (random labels)")
    return memcap.load_dataset(source)


def run_case(name: str, method: str | None) -> dict:
    """Construct + certify one case in this process; returns the row as a dict."""
    import numpy as np
    import torch

    import memcap

    source, _, _ = CASES[name]
    ds = _load(source)
    t0 = time.perf_counter()
    c = memcap.construct(ds, method, precision="float32")
    seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime  # load-independent: this process's CPU seconds (both cores count)
    peak_mb = ru.ru_maxrss / 1024  # construct + certify only (before the torch check)
    net = c.network
    pc = net.meta["precision_certificate"]
    torch.set_num_threads(2)
    model = net.to_torch(torch.float32)
    # every point up to 2·10^5 (a dense-per-point evaluation costs N × stored parameters); beyond, a
    # seeded random subset of 50000 (the certificate covers every point)
    rows = np.arange(ds.N) if ds.N <= 200_000 else np.sort(
        np.random.default_rng(1).choice(ds.N, 50_000, replace=False))
    outs = []
    t1 = time.perf_counter()
    with torch.no_grad():
        step = max(256, 40_000_000 // max(net.widths))  # ≤ 160 MB of float32 activations per layer
        for s in range(0, len(rows), step):
            xb = torch.tensor(ds.X[rows[s:s + step]], dtype=torch.float32)
            outs.append(model(xb).double().numpy())
    out = np.concatenate(outs)
    where = "all" if len(rows) == ds.N else f"{len(rows)} random"
    if ds.task == "classification":
        check = f"acc {float(np.mean(out.argmax(axis=1) == ds.labels[rows])):.4f} ({where})"
    else:
        check = f"max err {float(np.max(np.abs(out - ds.targets[rows]))):.2e} ({where})"
    check += f", {time.perf_counter() - t1:.0f} s"
    return {"case": name, "data": ds.name, "N": ds.N, "d_x": ds.d_x, "d_y": ds.d_y,
            "method": c.certificate.method, "widths": net.widths,
            "stored": net.stored_parameters, "dense": net.parameters,
            "per": net.stored_parameters / (ds.N * (1 if ds.task == "classification" else ds.d_y)),
            "seconds": seconds, "cpu": cpu, "certified": pc["certified"], "worst": pc["worst_bound"],
            "torch": check, "passed_over": [a["method"] for a in c.info.get("attempts", [])[:-1]],
            "peak_mb": peak_mb}


def _row(r: dict, load: str) -> str:
    if "error" in r:
        return f"| {r['case']} | — | — | — | — | — | — | {r['error']} | — | — | — | {load} |"
    return (f"| {r['data']} | {r['N']} | {r['method']} | {','.join(map(str, r['widths']))} | "
            f"{r['stored']:.3g} / {r['dense']:.3g} | {r['per']:.2f} | "
            f"{r['seconds']:.1f} ({r['cpu']:.1f} CPU) | "
            f"{r['peak_mb']:.0f} MB | {'yes' if r['certified'] else 'no'} {r['worst']:.3g} | "
            f"{r['torch']} | {len(r['passed_over'])} | {load} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=None, help=f"comma-separated, from {', '.join(CASES)}")
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--method", default=None, help="force one method (default: the default choice)")
    ap.add_argument("--max-seconds", type=float, default=1800, help="per case")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one case, print JSON
    a = ap.parse_args()
    if a.one:
        print(json.dumps(run_case(a.one, a.method)))
        return
    names = a.cases.split(",") if a.cases else (QUICK if a.quick else list(CASES))
    print("| data | N | method | widths | stored / dense params | stored per N·d_y | "
          "construct+certify s (CPU s) | peak RSS (construct) | float32 certified (worst |f-y| or margin) | "
          "torch float32 check |"
          "methods passed over | load (1/5/15 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        load = " ".join(f"{v:.1f}" for v in os.getloadavg())
        cmd = [sys.executable, __file__, "--one", name] + (["--method", a.method] if a.method else [])
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.max_seconds)
            last = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            r = json.loads(last[-1]) if last else {
                "case": name, "error": (p.stderr.strip().splitlines() or ["failed"])[-1][:120]}
        except subprocess.TimeoutExpired:
            r = {"case": name, "error": f"not done within {a.max_seconds:.0f} s"}
        print(_row(r, load), flush=True)


if __name__ == "__main__":
    main()
