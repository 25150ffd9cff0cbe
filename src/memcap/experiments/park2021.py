"""Park, Lee, Yun & Shin (2021), Sec. 6 / App. A–B: depth versus width of ResNets in memorization.

``park21-depth-width``: ResNets "with the same number of channels c in every layer" — conv(in → c) +
ReLU, b residual blocks x ↦ ReLU(conv(ReLU(conv(x))) + x), global average pooling, FC(c → classes)
— trained by SGD (lr 0.1, weight decay 1e-4, batch 64, lr × 0.1 at 30% and 70% of the iterations:
the paper's 1.5e5 and 3.5e5 of 5e5), for a grid of (c, b) plus an iso-parameter line. Measured: final
training accuracy on the whole training subset (the memorization measure) and test accuracy.

The paper's claim (Fig. 1–3): at a similar parameter count, deeper and narrower nets reach higher
training accuracy; once memorized, width helps test accuracy more than depth. Unspecified in the
paper and fixed here (recorded in the result): 3×3 kernels (3 for 1-D signals), stride 1, padding 1,
biases, no batch norm, no augmentation, inputs standardized by the training subset's mean and
standard deviation, blocks initialized as the identity (second conv zero; PyTorch's default init
otherwise). Optimizer: the paper's SGD (lr 0.1, momentum 0.9) in the ``full`` profile; the
``quick``/``test`` profiles use Adam (lr 3e-3) because 500 SGD steps leave the BN-free nets on their
initial plateau at chance level (measured; ``-O optimizer=sgd -O lr=0.1`` runs the paper's).

Data (``-O data=...``, comma-separated for several): ``digits`` (8×8, default) and ``mnist1d``
(1-D signals of length 40; needs the ``mnist1d`` package) offline; ``cifar10:DIR`` (binary batches)
and ``svhn:DIR`` (.mat) from local files (:mod:`memcap.data.cifar`). Profiles: ``test`` (seconds),
``quick`` (minutes on a CPU: c ∈ {4, 8, 16}, b ∈ {1, 2, 4, 8}), ``full`` (the paper's grid c ∈
{5..30}, b ∈ {5..50}, 5e5 iterations, 3 seeds — days of CPU; use --ray).
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np

from memcap._util import atomic_write_bytes, require_extra
from memcap.data.dataset import DataError
from memcap.experiments import ExperimentContext, ExperimentResult, Table, register_experiment
from memcap.experiments.executor import ResultStore, run_grid

PAPER = "Park et al. 2021, Sec. 6, Fig. 1-3"

PROFILE_CFG: dict[str, dict[str, Any]] = {
    "test": {"n_train": 120, "n_test": 60, "channels": (2, 4), "blocks": (1, 2), "iters": 30,
             "seeds": (0,), "iso": None, "data": "digits", "optimizer": "adam", "lr": 0.003},
    "quick": {"n_train": 500, "n_test": 500, "channels": (4, 8, 16), "blocks": (1, 2, 4, 8),
              "iters": 500, "seeds": (0,), "iso": (8, 4), "data": "digits", "optimizer": "adam",
              "lr": 0.003},
    "full": {"n_train": 50_000, "n_test": 10_000, "channels": (5, 10, 15, 20, 25, 30),
             "blocks": tuple(range(5, 55, 5)), "iters": 500_000, "seeds": (0, 1, 2), "iso": None,
             "data": "digits,mnist1d", "optimizer": "sgd", "lr": 0.1},
}

#: the paper's Fig. 2 CIFAR-10 training accuracy (%), best OCR reading; rows b = 5..50, columns c
PAPER_CIFAR10_TRAIN: dict[int, list[float]] = {
    5: [67.5, 71.8, 74.1, 75.7, 77.0, 78.6, 78.3, 80.5, 78.8, 80.7],
    10: [80.9, 86.0, 88.9, 92.2, 93.3, 95.3, 95.5, 96.6, 96.9, 96.3],
    15: [89.3, 95.8, 98.5, 99.2, 99.6, 99.5, 99.7, 99.4, 99.8, 99.6],
    20: [95.7, 99.4, 99.8, 100.0, 99.9, 100.0, 99.9, 99.9, 99.9, 100.0],
    25: [98.7, 99.9, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0],
    30: [99.8, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0],
}
PAPER_TREND = ("paper: training accuracy rises with depth at fixed width and, at ~50k parameters, as the "
               "net gets deeper and narrower (CIFAR-10, SVHN); c = 15 already memorizes CIFAR-10 "
               "(> 99%), c = 5 does not; test accuracy falls with depth on CIFAR-10, rises on SVHN")


def param_count(c: int, b: int, in_ch: int, k: int, classes: int) -> int:
    """P(c, b) = (in·k + 1)c + b·2(k c² + c) + (c + 1)·classes (k = kernel elements;
    gives 28c + b(18c² + 2c) + 10c + 10 for CIFAR: in = 3, k = 9)."""
    return (in_ch * k + 1) * c + b * 2 * (k * c * c + c) + (c + 1) * classes


# ---- data ----------------------------------------------------------------------------------------
def load_arrays(spec: str, n_train: int, n_test: int, seed: int = 0) -> dict[str, Any]:
    """Images (n, channels, *spatial) as float32 in [0, 1] (standardized for mnist1d) and labels."""
    rng = np.random.default_rng(seed)
    if spec == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        X, y = d.images[:, None, :, :] / 16.0, d.target
        perm = rng.permutation(len(y))
        tr, te = perm[:n_train], perm[n_train:n_train + n_test]
        return {"name": "digits", "Xtr": X[tr], "ytr": y[tr], "Xte": X[te], "yte": y[te],
                "standin_for": "CIFAR-10/SVHN (offline stand-in, 8x8 gray)"}
    if spec == "mnist1d":
        from memcap.data import load_dataset

        ds = load_dataset("builtin:mnist1d")
        X, y = ds.X[:, None, :], ds.labels
        X = (X - X.mean()) / X.std()
        perm = rng.permutation(len(y))
        tr, te = perm[:n_train], perm[n_train:n_train + n_test]
        return {"name": "mnist1d", "Xtr": X[tr], "ytr": y[tr], "Xte": X[te], "yte": y[te],
                "standin_for": "CIFAR-10/SVHN (offline stand-in, 1-D signals)"}
    name, sep, path = spec.partition(":")
    if sep and name in ("cifar10", "svhn"):
        from memcap.data.cifar import load_images

        Xtr, ytr = load_images(name, path, "train")
        Xte, yte = load_images(name, path, "test")
        tr = rng.permutation(len(ytr))[:n_train]  # fixed random subset, as the reduced-scale protocol
        te = rng.permutation(len(yte))[:n_test]
        return {"name": name, "Xtr": Xtr[tr] / 255.0, "ytr": ytr[tr], "Xte": Xte[te] / 255.0,
                "yte": yte[te], "standin_for": ""}
    raise DataError(f"unknown data {spec!r} for park21-depth-width: use digits, mnist1d, cifar10:DIR "
                    "(binary batches) or svhn:DIR (train_32x32.mat, test_32x32.mat)")


# ---- one training run (top level: picklable for process pools and Ray) ------------------------------
def run_cell(task: dict[str, Any]) -> dict[str, Any]:
    torch = require_extra("torch", "torch")
    nn = torch.nn
    torch.set_num_threads(1)
    torch.manual_seed(task["seed"])
    Xtr = torch.as_tensor(np.asarray(task["Xtr"]), dtype=torch.float32)
    ytr = torch.as_tensor(np.asarray(task["ytr"]), dtype=torch.long)
    Xte = torch.as_tensor(np.asarray(task["Xte"]), dtype=torch.float32)
    yte = torch.as_tensor(np.asarray(task["yte"]), dtype=torch.long)
    dims = Xtr.dim() - 2
    Conv = nn.Conv1d if dims == 1 else nn.Conv2d
    c, b, classes = task["c"], task["b"], task["classes"]

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = Conv(c, c, 3, padding=1)
            self.c2 = Conv(c, c, 3, padding=1)

        def forward(self, x: Any) -> Any:
            return torch.relu(self.c2(torch.relu(self.c1(x))) + x)

    model = nn.Sequential(Conv(Xtr.shape[1], c, 3, padding=1), nn.ReLU(), *[Block() for _ in range(b)],
                          nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(c, classes))
    if task.get("init", "zero-last") == "zero-last":
        # each block starts as the identity (second conv zero, as in Fixup-style BN-free ResNets);
        # the paper does not state its initialization, and with PyTorch's default the deep BN-free
        # nets stay at chance level for thousands of iterations
        for m in model:
            if isinstance(m, Block):
                nn.init.zeros_(m.c2.weight)
                nn.init.zeros_(m.c2.bias)
    params = sum(p.numel() for p in model.parameters())
    if task.get("optimizer", "sgd") == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=task["lr"], weight_decay=1e-4)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=task["lr"], weight_decay=1e-4,
                              momentum=task.get("momentum", 0.9))
    iters = task["iters"]
    warm = max(1, int(task.get("warmup", 0.0) * iters))  # optional linear warm-up (-O warmup=0.05)

    def factor(i: int) -> float:
        return min(1.0, (i + 1) / warm) * (0.1 ** ((i >= 0.3 * iters) + (i >= 0.7 * iters)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    g = torch.Generator().manual_seed(task["seed"])
    n = len(ytr)
    t0 = time.perf_counter()
    loss_v = float("nan")
    diverged = False
    model.train()
    for _ in range(iters):
        idx = torch.randint(0, n, (min(64, n),), generator=g)
        loss = nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_v = loss.item()
        if not np.isfinite(loss_v):
            diverged = True
            break
    model.eval()
    with torch.no_grad():
        tr_acc = float((model(Xtr).argmax(1) == ytr).float().mean())
        te_acc = float((model(Xte).argmax(1) == yte).float().mean()) if len(yte) else float("nan")
    return {"c": c, "b": b, "seed": task["seed"], "params": params, "train_acc": 100 * tr_acc,
            "test_acc": 100 * te_acc, "final_loss": loss_v, "diverged": diverged,
            "seconds": time.perf_counter() - t0}


# ---- the experiment -----------------------------------------------------------------------------------
def _iso_pairs(channels: tuple[int, ...], ref: tuple[int, int], in_ch: int, k: int, classes: int,
               ) -> list[tuple[int, int]]:
    """(c, b) with about the parameter count of ``ref`` for every c (b >= 1)."""
    budget = param_count(*ref, in_ch, k, classes)
    out = []
    for c in sorted({*channels, *(c // 2 for c in channels if c >= 8), *(c * 2 for c in channels)}):
        base = param_count(c, 0, in_ch, k, classes)
        per = 2 * (k * c * c + c)
        b = round((budget - base) / per)
        if 1 <= b <= 16 and abs(param_count(c, b, in_ch, k, classes) - budget) <= 0.25 * budget:
            out.append((c, b))
    return out


def _spearman(x: list[float], y: list[float]) -> float:
    if len(x) < 2:
        return float("nan")
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@register_experiment("park21-depth-width", paper=PAPER,
                     options=("iters", "n_train", "n_test", "lr", "momentum", "optimizer", "warmup", "data"),
                     description="ResNets of c channels and b blocks: train/test accuracy as depth and "
                                 "width vary; deeper-narrower at equal parameters memorizes better?")
def depth_width(ctx: ExperimentContext) -> ExperimentResult:
    """ResNets of c channels and b blocks as depth and width vary (the registered description).

    Long: an experiment: its grid, tables and notes read top to bottom as the paper's figure.
    """
    cfg = dict(PROFILE_CFG[ctx.profile])
    for key in ("iters", "n_train", "n_test"):
        if key in ctx.options:
            cfg[key] = int(ctx.options[key])
    lr = float(ctx.options.get("lr", cfg["lr"]))
    momentum = float(ctx.options.get("momentum", 0.9))
    optimizer = ctx.options.get("optimizer", cfg["optimizer"])
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be sgd or adam, got {optimizer!r}")
    warmup = float(ctx.options.get("warmup", 0.0))
    datas = [s.strip() for s in ctx.options.get("data", cfg["data"]).split(",") if s.strip()]
    store = ResultStore(ctx.out_dir / "runs")
    res = ExperimentResult("park21-depth-width", ctx.profile)
    rows: list[list[Any]] = []
    trend_rows: list[list[Any]] = []
    per_data: dict[str, list[dict[str, Any]]] = {}
    for spec in datas:
        if spec == "mnist1d":
            try:
                require_extra("mnist1d", "data")
            except ImportError as exc:
                res.notes.append(f"skipped mnist1d: {exc}")
                continue
        ctx.progress(f"loading {spec}")
        arr = load_arrays(spec, cfg["n_train"], cfg["n_test"])
        mu, sd = float(arr["Xtr"].mean()), float(arr["Xtr"].std()) or 1.0
        arr["Xtr"], arr["Xte"] = (arr["Xtr"] - mu) / sd, (arr["Xte"] - mu) / sd
        classes = int(max(arr["ytr"].max(), arr["yte"].max() if len(arr["yte"]) else 0)) + 1
        in_ch = arr["Xtr"].shape[1]
        k = 3 if arr["Xtr"].ndim == 3 else 9
        pairs = [(c, b) for c in cfg["channels"] for b in cfg["blocks"]]
        iso = _iso_pairs(cfg["channels"], cfg["iso"], in_ch, k, classes) if cfg["iso"] else []
        pairs += [p for p in iso if p not in pairs]
        tasks = {f"{arr['name']}-c{c}-b{b}-s{s}-i{cfg['iters']}-{optimizer}{lr}-m{momentum}-w{warmup}"
                 f"-n{cfg['n_train']}": {
            "Xtr": arr["Xtr"], "ytr": arr["ytr"], "Xte": arr["Xte"], "yte": arr["yte"], "c": c, "b": b,
            "seed": s, "classes": classes, "iters": cfg["iters"], "lr": lr, "momentum": momentum,
            "optimizer": optimizer, "warmup": warmup}
            for c, b in pairs for s in cfg["seeds"]}
        out = run_grid(ctx.executor, run_cell, tasks, store,
                       lambda d, t, key: ctx.progress(f"{d}/{t} {key}"))
        cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for r in out.values():
            cells.setdefault((r["c"], r["b"]), []).append(r)
        agg = []
        for (c, b), rs in sorted(cells.items()):
            a = {"data": arr["name"], "c": c, "b": b, "params": rs[0]["params"],
                 "train_acc": float(np.mean([r["train_acc"] for r in rs])),
                 "test_acc": float(np.mean([r["test_acc"] for r in rs])),
                 "seconds": float(np.sum([r["seconds"] for r in rs])),
                 "diverged": sum(r["diverged"] for r in rs), "seeds": len(rs), "iso": (c, b) in iso}
            agg.append(a)
            rows.append([a["data"], c, b, a["params"], round(a["train_acc"], 2), round(a["test_acc"], 2),
                         a["seeds"], a["diverged"], "yes" if a["iso"] else "", round(a["seconds"], 1)])
        per_data[arr["name"]] = agg
        # trends: depth at fixed width, and deeper-narrower on the iso-parameter line
        for c in cfg["channels"]:
            line = [a for a in agg if a["c"] == c and not (a["iso"] and a["b"] not in cfg["blocks"])]
            rho = _spearman([a["b"] for a in line], [a["train_acc"] for a in line])
            vals = " → ".join(f"{a['train_acc']:.1f}" for a in sorted(line, key=lambda a: a["b"]))
            trend_rows.append([arr["name"], f"fixed c = {c}: train acc vs b", round(rho, 2), vals])
        if iso:
            line = sorted([a for a in agg if a["iso"]], key=lambda a: a["b"])
            rho = _spearman([a["b"] for a in line], [a["train_acc"] for a in line])
            trend_rows.append([arr["name"], f"iso-parameter (≈{line[0]['params'] if line else 0}): "
                               "train acc vs depth (narrower as deeper)", round(rho, 2),
                               " → ".join(f"c{a['c']}b{a['b']}:{a['train_acc']:.1f}" for a in line)])
        if arr["standin_for"]:
            res.notes.append(f"{arr['name']} is a stand-in: {arr['standin_for']}")
    res.tables.append(Table("depth-width grid", ["data", "c", "b", "params", "train acc %",
                                                 "test acc %", "seeds", "diverged", "iso-param",
                                                 "seconds"], rows))
    res.tables.append(Table("trends (Spearman rank correlation; > 0 means accuracy rises)",
                            ["data", "comparison", "rho", "values"], trend_rows))
    res.tables.append(Table("paper Fig. 2: CIFAR-10 training accuracy % (OCR reading)",
                            ["c"] + [f"b={b}" for b in range(5, 55, 5)],
                            [[c, *v] for c, v in PAPER_CIFAR10_TRAIN.items()]))
    res.notes += [PAPER_TREND,
                  f"setup: iters {cfg['iters']}, batch 64, {optimizer} lr {lr} (x0.1 at 30%/70%), wd 1e-4"
                  + (f", momentum {momentum}" if optimizer == "sgd" else "")
                  + ", blocks initialized as identity (second conv zero), standardized inputs, "
                  f"3-tap kernels, no batch norm, train subset {cfg['n_train']}, seeds {list(cfg['seeds'])}"]
    res.summary = {"profile": ctx.profile, "data": list(per_data), "cells": len(rows)}
    if per_data:
        res.files.append(_figure(ctx, per_data, cfg))
    return res


def _figure(ctx: ExperimentContext, per_data: dict[str, list[dict[str, Any]]], cfg: dict[str, Any]) -> Any:
    from memcap._plot import subplots

    n = len(per_data)
    fig, axes = subplots(n + 1, 2, figsize=(9, 3.2 * (n + 1)), squeeze=False)
    for row, (name, agg) in enumerate(per_data.items()):
        grid = [a for a in agg if a["c"] in cfg["channels"] and a["b"] in cfg["blocks"]]
        cs, bs = list(cfg["channels"]), list(cfg["blocks"])
        for col, key in enumerate(("train_acc", "test_acc")):
            M = np.full((len(bs), len(cs)), np.nan)
            for a in grid:
                M[bs.index(a["b"]), cs.index(a["c"])] = a[key]
            ax = axes[row][col]
            im = ax.imshow(M, origin="lower", cmap="viridis", aspect="auto")
            ax.set_xticks(range(len(cs)), cs)
            ax.set_yticks(range(len(bs)), bs)
            ax.set_xlabel("channels c")
            ax.set_ylabel("residual blocks b")
            ax.set_title(f"{name}: {'training' if col == 0 else 'test'} accuracy %")
            for i in range(len(bs)):
                for j in range(len(cs)):
                    if np.isfinite(M[i, j]):
                        ax.text(j, i, f"{M[i, j]:.0f}", ha="center", va="center", color="w", fontsize=7)
            fig.colorbar(im, ax=ax)
    ax = axes[n][0]
    P = np.array([PAPER_CIFAR10_TRAIN[c] for c in PAPER_CIFAR10_TRAIN]).T
    im = ax.imshow(P, origin="lower", cmap="viridis", aspect="auto")
    ax.set_xticks(range(6), list(PAPER_CIFAR10_TRAIN))
    ax.set_yticks(range(10), list(range(5, 55, 5)))
    ax.set_title("paper Fig. 2: CIFAR-10 training accuracy %")
    ax.set_xlabel("channels c")
    ax.set_ylabel("residual blocks b")
    fig.colorbar(im, ax=ax)
    ax = axes[n][1]
    for name, agg in per_data.items():
        iso = sorted([a for a in agg if a["iso"]], key=lambda a: a["b"])
        if iso:
            ax.plot([a["b"] for a in iso], [a["train_acc"] for a in iso], "o-", label=f"{name} train")
            ax.plot([a["b"] for a in iso], [a["test_acc"] for a in iso], "s--", label=f"{name} test")
    ax.set_xscale("log")
    ax.set_xlabel("blocks b (c shrinks so parameters stay ≈ equal)")
    ax.set_ylabel("accuracy %")
    ax.set_title("iso-parameter line (paper Fig. 1: train acc rises)")
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    path = ctx.out_dir / "park21-depth-width.png"
    atomic_write_bytes(path, buf.getvalue())
    return path
