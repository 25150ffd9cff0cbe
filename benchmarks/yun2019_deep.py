"""Sizes, build/verify time and precision of yun-classifier (Prop. 3.2) and yun-deep (Prop. 3.4,
Cor. A.1-A.3) against yun-3layer (Theorem 3.1) on real and synthetic data.

Every row is built and certified through ``memcap.construct`` (float64, escalating to exact
rationals when float64 cannot be certified): widths, hidden neurons, parameters, build and verify
seconds, the certified margin (classification) or worst error (regression), the arithmetic used and
the mantissa bits a float evaluation needs.

    python benchmarks/yun2019_deep.py            # iris, digits, Gaussian N = 1000, deep sweeps
    python benchmarks/yun2019_deep.py --quick    # iris and a small Gaussian set (seconds)
    python benchmarks/yun2019_deep.py --big      # + Gaussian N = 5000 (escalates to exact weights)
"""

from __future__ import annotations

import argparse
import time
import warnings

import memcap

CASES_QUICK = [
    ("builtin:iris", "yun-3layer", {}),
    ("builtin:iris", "yun-classifier", {}),
    ("builtin:iris", "yun-classifier", {"gate": "3unit"}),
    ("builtin:iris", "yun-deep", {}),
    ("builtin:iris", "yun-deep", {"widths": (17,) * 6 + (12,)}),
    ("builtin:iris", "yun-deep", {"widths": (12,) * 20 + (12,)}),
    ("gen:gaussian?n=300&d=8&seed=0", "yun-deep", {"widths": (8,) * 40, "activation": "hardtanh"}),
]
CASES_FULL = CASES_QUICK + [
    ("builtin:digits", "yun-3layer", {}),
    ("builtin:digits", "yun-classifier", {}),
    ("builtin:digits", "yun-classifier", {"gate": "3unit"}),
    ("builtin:digits", "yun-classifier", {"activation": "hardtanh"}),
    ("builtin:digits", "yun-deep", {}),
    ("builtin:digits", "yun-deep", {"widths": (26,) * 30 + (40,)}),
    ("gen:gaussian?n=1000&d=16&seed=0", "yun-3layer", {}),
    ("gen:gaussian?n=1000&d=16&seed=0", "yun-deep", {}),
    ("gen:gaussian?n=1000&d=16&seed=0", "yun-deep", {"widths": (16,) * 60}),
]
CASES_BIG = CASES_FULL + [  # float64 cannot be certified here: exact rationals, minutes of verification
    ("gen:gaussian?n=5000&d=16&seed=0", "yun-3layer", {}),
    ("gen:gaussian?n=5000&d=16&seed=0", "yun-deep", {}),
]


def _row(src: str, method: str, opts: dict) -> dict[str, object]:
    ds = memcap.load_dataset(src)
    t = time.perf_counter()
    c = memcap.construct(ds, method, **opts)
    total = time.perf_counter() - t
    rep = c.verification
    net = c.network
    ws = net.widths
    shown = (f"{ws[0]}×{len(ws)}" if len(set(ws)) == 1 else
             ",".join(map(str, ws)) if len(ws) <= 4 else f"{ws[0]}×{len(ws) - 1},{ws[-1]}"
             if len(set(ws[:-1])) == 1 else ",".join(map(str, ws)))
    opt = ", ".join(f"{k}={v}" for k, v in opts.items() if k != "widths")
    return {
        "data": f"{ds.name} (N={ds.N})", "method": method + (f" [{opt}]" if opt else ""),
        "widths": shown, "neurons": net.hidden_neurons, "params": net.parameters,
        "build s": c.info.get("build_seconds", float("nan")),
        "verify s": rep.seconds, "total s": total,
        "certified": "yes" if (rep.memorized and rep.certified) else "NO",
        "margin / error": f"{rep.min_margin:.3g}" if rep.min_margin is not None else f"{rep.worst_error:.2g}",
        "weights": c.certificate.arithmetic, "bits": rep.bits_needed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small cases only")
    ap.add_argument("--big", action="store_true", help="add N = 5000 (exact weights; ~10 minutes)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    cases = CASES_QUICK if args.quick else CASES_BIG if args.big else CASES_FULL
    rows = [_row(*case) for case in cases]
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        print("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r.values()) + " |")


if __name__ == "__main__":
    main()
