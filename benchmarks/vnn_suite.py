"""The ready VNN-COMP suite with known answers, and memcap's own verifier scored on it.

    .venv/bin/python benchmarks/vnn_suite.py --out suites/memcap-vnn            # the full suite
    .venv/bin/python benchmarks/vnn_suite.py --out /tmp/vnn-quick --quick        # iris only, 1 minute

Builds one suite (``memcap benchmark``) from built-in data — iris, wine, a digits subset, mnist1d —
with yu-robust (Yu, Gao & Zhang 2024, Thm 4.8: robust on every L∞ ball of radius 0.9·λ_D/2),
yu-lipschitz (Thm 5.2) and memorizers without a robustness promise (zhang17-wide, decoupled-3layer,
twoproj-5layer, zigzag-3layer), radii 0.1, 0.5 and 1.3 of λ_D/2, 4 points per model and radius.
Then runs memcap's verifier on the instance files alone (``python -m memcap.certify.robust.vnn
--suite``: attack, float32-sound IBP/CROWN, exact tier), scores it (``memcap score``) and prints:

* per model: depth, parameters, instances (unsat / sat / omitted because undecided), build seconds,
  seconds to certify the known answers;
* per model: memcap's answers (correct / incorrect / no answer) and seconds per instance.

The suite folder is replaced only with --force.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from memcap.certify.robust.vnn import run_suite
from memcap.io.suite import read_answers, score_suite, write_tree
from memcap.vnnsuite import SuiteSpec, build_suite, merge_suites

FULL = [  # (data, N subset, methods)
    ("builtin:iris", 40, ["yu-robust", "yu-lipschitz", "zhang17-wide", "decoupled-3layer", "twoproj-5layer"]),
    ("builtin:wine", 40, ["yu-robust", "zhang17-wide", "decoupled-3layer"]),
    ("builtin:digits", 20, ["yu-robust", "zigzag-3layer"]),
    ("builtin:mnist1d", 40, ["yu-robust", "twoproj-5layer"]),
]
QUICK = [("builtin:iris", 20, ["yu-robust", "zhang17-wide"])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="suite folder to write")
    ap.add_argument("--quick", action="store_true", help="iris only")
    ap.add_argument("--points", type=int, default=4)
    ap.add_argument("--fractions", default="0.1,0.5,1.3")
    ap.add_argument("--vnnlib-version", type=int, default=1)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    fractions = [float(f) for f in args.fractions.split(",")]
    plan = QUICK if args.quick else FULL
    # one suite folder: build each dataset's part (its own N and methods), write all at once
    parts = []
    t0 = time.perf_counter()
    for data, n, methods in plan:
        spec = SuiteSpec(data=[data], methods=methods, n=n, points=args.points, fractions=fractions,
                         vnnlib_version=args.vnnlib_version, exact_time_limit=10.0)
        parts.append(build_suite(spec, progress=lambda m: print("  ", m, flush=True)))
    build_seconds = time.perf_counter() - t0
    write_tree(merge_suites(parts), args.out, force=args.force)
    summaries = [s for _, s in parts]

    answers = read_answers(args.out)
    print(f"suite {args.out}: {len(answers)} instances, built and certified in {build_seconds:.1f} s")
    print(f"{'model':34} {'depth':>5} {'params':>8} {'unsat':>5} {'sat':>4} {'omit':>4} {'build s':>8} "
          f"{'answers s':>9}")
    for s in summaries:
        for m in s["models"]:
            mine = [a for a in answers if a["model"] == m["model"]]
            om = [o for o in s["omitted_unknown"] if o["model"] == m["model"]]
            ans_s = m["answer_seconds"]
            n_unsat = sum(a["answer"] == "unsat" for a in mine)
            n_sat = sum(a["answer"] == "sat" for a in mine)
            print(f"{m['model']:34} {m['depth']:5d} {m['parameters']:8d} {n_unsat:5d} {n_sat:4d} "
                  f"{len(om):4d} {m['build_seconds']:8.2f} {ans_s:9.1f}")

    res_dir = args.out.parent / (args.out.name + "-memcap-results")
    t1 = time.perf_counter()
    rows = run_suite(args.out, res_dir)
    run_seconds = time.perf_counter() - t1
    rep = score_suite(args.out, res_dir)
    by_inst = {r["instance"]: r for r in rows}
    print(f"\nmemcap's verifier on the suite ({run_seconds:.1f} s; results in {res_dir})")
    print(f"{'model':34} {'inst':>4} {'correct':>7} {'incorrect':>9} {'no ans':>6} {'mean s':>7} "
          f"{'max s':>7} by")
    verdicts = {r["instance"]: r["verdict"] for r in rep.rows}
    for s in summaries:
        for m in s["models"]:
            mine = [a["instance"] for a in answers if a["model"] == m["model"]]
            secs = [by_inst[i]["seconds"] for i in mine]
            bys: dict[str, int] = {}
            for i in mine:
                b = by_inst[i]["by"] or by_inst[i]["answer"]
                bys[b] = bys.get(b, 0) + 1
            print(f"{m['model']:34} {len(mine):4d} {sum(verdicts[i] == 'correct' for i in mine):7d} "
                  f"{sum(verdicts[i] == 'incorrect' for i in mine):9d} "
                  f"{sum(verdicts[i] == 'no_answer' for i in mine):6d} "
                  f"{sum(secs) / max(len(secs), 1):7.2f} {max(secs, default=0):7.2f} "
                  + ", ".join(f"{k} {v}" for k, v in sorted(bys.items())))
    print(f"\nscore: {rep.counts()}, VNN-COMP points {rep.points}; confusion {rep.confusion}")


if __name__ == "__main__":
    main()
