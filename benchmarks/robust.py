"""Robustness verification as N grows: size, build time, seconds per point of each tier, fraction
proven, for yu-robust (Thm 4.8), yun-3layer (Thm 3.1) and a plainly trained PyTorch MLP with the
yun-3layer widths, all at the same L∞ radius r = frac·λ_D/2.

    .venv/bin/python benchmarks/robust.py --quick
    .venv/bin/python benchmarks/robust.py --Ns 10,30,100,300,1000

Every tier runs on every point except the MILP, which runs on at most --milp-points points per
network (those the earlier tiers left open first, then any others, with --time-limit seconds each).
"RA proven" is the certified robust accuracy (fraction proven by tier 2 or 3); "RA upper" is
1 - fraction with a confirmed counterexample.
"""

from __future__ import annotations

import argparse
import time
import warnings

import memcap
from memcap.certify.robust import verify_robust
from memcap.network import IDENTITY, RELU, Dense, Network


def train_mlp(ds: memcap.Dataset, widths: list[int], seed: int = 0, epochs: int = 3000) -> Network:
    """Plain full-batch Adam on cross-entropy (float32), returned as a float64 memcap Network."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    dims = [ds.d_x, *widths, ds.d_y]
    mods: list = []
    for i in range(len(dims) - 1):
        mods.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    X = torch.as_tensor((ds.X - ds.X.mean(0)) / ds.X.std(0).clip(1e-12), dtype=torch.float32)
    y = torch.as_tensor(ds.labels, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        opt.zero_grad()
        out = model(X)
        loss = torch.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        if (out.argmax(1) == y).all() and loss.item() < 1e-3:
            break
    # fold the input standardization into the first layer (exactly representable in float64)
    mu, sd = ds.X.mean(0), ds.X.std(0).clip(1e-12)
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    layers = []
    for k, lin in enumerate(lins):
        W = lin.weight.detach().double().numpy()
        b = lin.bias.detach().double().numpy()
        if k == 0:
            W, b = W / sd, b - (W / sd) @ mu
        layers.append(Dense(W, b, RELU if k < len(lins) - 1 else IDENTITY))
    return Network(layers, {"method": "trained-mlp"})


def run(N: int, args: argparse.Namespace) -> list[dict]:
    src = f"gen:gaussian?n={N}&d={args.d}&seed={args.seed}&task=classification&classes={args.classes}"
    ds = memcap.load_dataset(src)
    lam = ds.separation_linf
    r = args.frac * lam / 2
    nets: list[tuple[str, Network, float]] = []
    t = time.perf_counter()
    yu = memcap.construct(ds, "yu-robust", budget=args.frac)
    nets.append(("yu-robust", yu.network, time.perf_counter() - t))
    t = time.perf_counter()
    yun = memcap.construct(ds, "yun-3layer")
    nets.append(("yun-3layer", yun.network, time.perf_counter() - t))
    t = time.perf_counter()
    mlp = train_mlp(ds, yun.network.widths, seed=args.seed)
    nets.append(("trained MLP", mlp, time.perf_counter() - t))
    rows = []
    for name, net, build in nets:
        mem = memcap.verify(net, ds)
        full = verify_robust(net, ds, r, "inf", tiers=("attack", "bounds"), cascade=False, seed=args.seed)
        cas = verify_robust(net, ds, r, "inf", time_limit=args.time_limit, milp_max_points=args.milp_points,
                            seed=args.seed)
        milp = cas.tiers["milp"]
        if milp.examined == 0:   # nothing left open: time the MILP on a few points anyway
            sample = verify_robust(net, ds, r, "inf", tiers=("milp",), time_limit=args.time_limit,
                                   milp_max_points=min(args.milp_points, 5), cascade=False)
            milp = sample.tiers["milp"]
        rows.append({
            "N": N, "net": name, "depth": net.depth, "width": max(net.widths), "params": net.parameters,
            "build_s": build, "memorizes": mem.memorized and mem.certified,
            "attack_s": full.tiers["attack"].seconds_per_point, "refuted": full.tiers["attack"].refuted,
            "bounds_s": full.tiers["bounds"].seconds_per_point,
            "ibp": full.tiers["bounds"].by_method["ibp"], "crown": full.tiers["bounds"].by_method["crown"],
            "milp_s": milp.seconds_per_point, "milp_n": milp.examined,
            "milp_res": f"{milp.proven}/{milp.refuted}/{milp.undecided}",
            "ra_proven": cas.robust_accuracy, "ra_upper": cas.robust_accuracy_upper, "unknown": cas.unknown,
            "lam": lam, "r": r,
        })
    return rows


def _f(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return "—" if v is None else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 10, 30, 100 only")
    ap.add_argument("--Ns", default="10,30,100,300,1000")
    ap.add_argument("--d", type=int, default=4)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--frac", type=float, default=0.9, help="radius as a fraction of λ_D/2")
    ap.add_argument("--milp-points", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=10.0, help="MILP seconds per point")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    Ns = [10, 30, 100] if args.quick else [int(n) for n in args.Ns.split(",")]
    warnings.simplefilter("ignore")
    cols = ["N", "net", "depth", "width", "params", "build_s", "memorizes", "attack_s", "refuted", "bounds_s",
            "ibp", "crown", "milp_s", "milp_n", "milp_res", "ra_proven", "ra_upper", "unknown"]
    print(f"# gaussian data, d={args.d}, {args.classes} classes, L∞ radius = {args.frac}·λ_D/2; "
          "milp_res = proven/refuted/unknown on the milp_n points it examined; *_s = seconds per point")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for N in Ns:
        for row in run(N, args):
            print("| " + " | ".join(_f(row[c]) for c in cols) + " |", flush=True)


if __name__ == "__main__":
    main()
