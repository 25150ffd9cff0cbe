"""Theorem 3.3 made concrete: exact piece counts on the hard dataset, sufficient vs necessary sizes.

    python benchmarks/thm33_pieces.py --quick     # N = 10, 20, 40, 80
    python benchmarks/thm33_pieces.py             # N up to 320

For each N, on gen:hard (x_i = i, y_i = (-1)^i):
* yun-3layer at Theorem 3.1's smallest widths (d1, d2): certified, its exact number of affine pieces on
  [1, N] (must be ≥ N - 1), and the N_max Theorem 3.3 allows for those widths;
* the largest equal widths w that Theorem 3.3 rules out (p(p-1)w² + (p-1)w + 2 < N): the best of a few
  Adam-trained ReLU nets of that shape, its exact pieces (≤ the bound < N - 1) and how many points it
  gets right — never all of them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def trained_net(N: int, w: int, seed: int, steps: int = 400):  # noqa: ANN201
    import torch

    from memcap.network import IDENTITY, RELU, Dense, Network

    torch.manual_seed(seed)
    nn = torch.nn
    m = nn.Sequential(nn.Linear(1, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 1)).double()
    X = torch.arange(1, N + 1, dtype=torch.float64)[:, None]
    Y = (-1.0) ** X
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((m((X - N / 2) / N * 4) - Y) ** 2).mean()
        loss.backward()
        opt.step()
    lin = [layer for layer in m if isinstance(layer, nn.Linear)]
    # fold the input normalisation (x - N/2)·4/N into the first layer
    W1 = lin[0].weight.detach().numpy() * 4 / N
    b1 = lin[0].bias.detach().numpy() - lin[0].weight.detach().numpy()[:, 0] * 2
    return Network([Dense(W1, b1, RELU),
                    Dense(lin[1].weight.detach().numpy(), lin[1].bias.detach().numpy(), RELU),
                    Dense(lin[2].weight.detach().numpy(), lin[2].bias.detach().numpy(), IDENTITY)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    import memcap
    from memcap.bounds.yun2019 import thm33_max_n
    from memcap.certify.pieces import count_pieces, direction_changes

    Ns = [10, 20, 40, 80] if args.quick else [10, 20, 40, 80, 160, 320]
    print("| N | yun-3layer widths | certified | pieces on [1,N] | N_max (Thm 3.3) | ruled-out widths | "
          "best trained: pieces | bound | points right | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for N in Ns:
        t0 = time.perf_counter()
        ds = memcap.load_dataset(f"gen:hard?n={N}")
        c = memcap.construct(ds, "yun-3layer")
        d1, d2 = c.network.widths
        pc = count_pieces(c.network, [0.0], [1.0], 1, N).pieces
        w = 1
        while thm33_max_n((w + 1, w + 1), 2) < N:
            w += 1
        ruled = thm33_max_n((w, w), 2) < N
        best = None
        if ruled:
            for seed in range(args.seeds):
                net = trained_net(N, w, seed)
                right = int(np.sum(np.sign(net(ds.X)[:, 0]) == ds.targets[:, 0]))
                pcs = count_pieces(net, [0.0], [1.0], 1, N).pieces
                assert direction_changes(net(ds.X)[:, 0]) <= pcs - 1
                if best is None or right > best[0]:
                    best = (right, pcs)
        ok = c.verification.memorized and c.verification.certified
        print(f"| {N} | {d1}-{d2} | {ok} | {pc} | {thm33_max_n((d1, d2), 2)} | "
              + (f"{w}-{w} | {best[1]} | {thm33_max_n((w, w), 2) - 1} | {best[0]}/{N} |" if best else
                 "— | — | — | — |")
              + f" {time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
