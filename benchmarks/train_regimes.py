"""Training speed and final training error of the two regimes of Zhang et al. (2021) vs width.

Synthetic data of the paper (x ~ N(0, I_d), ||x|| = 1, y = (1^T x)^2), tanh, full-batch momentum GD,
the same budget for both regimes: ``ours`` (mirrored init, pairwise v, PGD onto B_eps(w^0) with eps = 10,
exact B_(zeta,kappa) projection of v) and ``regular`` (LeCun init, full output layer, unconstrained).
The learning-rate pairs {0.1, 0.5}^2 are trained together as one batched tensor; the table gives the
best pair's relative error MSE/mean(y^2), wall time, and steps per wall second and per CPU second of
the batched run (one torch thread; on a shared machine the CPU-second rate is the stable number).

    python benchmarks/train_regimes.py            # n=1000, d=200, m = 20 ... 1200, 3000 steps
    python benchmarks/train_regimes.py --quick    # n=200, d=40, m = 10 ... 80, 1000 steps
"""

from __future__ import annotations

import argparse
import time

from memcap.experiments.zhang2021 import synthetic_data
from memcap.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small problem, runs in about a minute")
    ap.add_argument("--steps", type=int, default=None)
    args = ap.parse_args()
    if args.quick:
        n, d, widths, steps = 200, 40, (10, 20, 40, 80), 1000
    else:
        n, d, widths, steps = 1000, 200, (20, 40, 80, 200, 400, 1200), 3000
    steps = args.steps or steps
    ds = synthetic_data(n, d)
    lrs = [(a, b) for a in (0.1, 0.5) for b in (0.1, 0.5)]
    train(ds, widths[0], steps=2, threads=1)  # warm-up: torch import and first-call costs not timed
    print(f"n={n}, d={d}, 2n/d={2 * n / d:g}, {steps} full-batch steps, {len(lrs)} lr pairs batched, "
          "1 torch thread")
    print(f"{'width':>6} {'regime':>8} {'steps/s':>9} {'steps/cpu-s':>11} {'seconds':>8} {'rel. error':>11} "
          f"{'lr_w/lr_v':>10} {'||W-W0||':>9} {'s_min(J)':>9}")
    for m in widths:
        for regime in ("zhang21", "regular"):
            c0 = time.process_time()
            r = train(ds, m, regime, steps=steps, lrs=lrs, threads=1)
            cpu = time.process_time() - c0
            i = r.info
            smin = f"{i['s_min_J']:.2e}" if i["s_min_J"] is not None else "—"
            print(f"{m:>6} {'ours' if regime == 'zhang21' else 'regular':>8} {i['steps_per_second']:>9.0f} "
                  f"{i['steps'] / cpu:>11.0f} "
                  f"{i['seconds']:>8.1f} {i['rel_error']:>11.2e} {i['lr_w']:>4g}/{i['lr_v']:<5g} "
                  f"{i['w_move']:>9.3f} {smin:>9}")


if __name__ == "__main__":
    main()
