"""Training narrow 1-hidden-layer networks: the Zhang et al. (2021) regime and the regular baseline.

``train(ds, width, regime="zhang21"|"regular", ...)`` runs (projected) gradient descent in PyTorch on
the CPU and returns a :class:`TrainResult`: a memcap :class:`~memcap.network.Network` (so ``verify``,
``save`` and ``export`` work on it), the loss history and a summary. Several learning-rate pairs can be
trained at once as one batched tensor (leading grid axis); the best by final *training* loss is
returned (the paper reports "the best" without naming the split; erratum ZZHSL-14).

Regimes (see :mod:`memcap.train.zhang21` and :mod:`memcap.train.regular`):

- ``zhang21``: pairwise output weights (6), mirrored LeCun init (Algorithm 1), problem (7) solved by
  projected gradient descent (Algorithm 2): after every step ``w`` is projected onto ``B_eps(w^0)`` and
  (``v_projection="exact"``, the default, what Theorem 2 is about) ``v`` onto ``B_{zeta,kappa}``.
  Algorithm 2 prints one step size and plain GD; the experiments (App. H.2) use two step sizes
  (hidden / output) and momentum 0.9 — both are exposed, the experimental setting is the default.
- ``regular``: full output layer, regular LeCun init, no constraint unless ``eps`` is given (the
  "constraint-only" ablation of Fig. 4(b)).

The default loss is the paper code's ``nn.MSELoss`` (mean over points and outputs), which is
``2/(n d_y)`` times eq. (2); learning rates refer to it. Classification uses cross-entropy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap._util import require_extra
from memcap.data.dataset import Dataset
from memcap.network import IDENTITY, Activation, Dense, Network, as_activation
from memcap.train import zhang21 as Z
from memcap.train.checkpoint import load_checkpoint, save_checkpoint
from memcap.train.regular import lecun_init

__all__ = ["train", "TrainResult", "REGIMES", "jacobian_smin", "network_from_weights"]

REGIMES = ("zhang21", "regular")
ACTIVATIONS = ("tanh", "softplus", "relu")


@dataclass
class TrainResult:
    """A trained network, its loss history and a summary.

    ``history``: ``step``, ``loss`` (training loss of the returned run at that step, before the update)
    and ``seconds`` (wall time since the start). ``info``: regime, hyper-parameters, final loss,
    relative error (MSE / mean(y^2), regression), training accuracy (classification),
    ``w_move`` = ||W - W0||_F, ``s_min_J`` (scalar output), feasibility, steps per second.
    ``runs``: the same final numbers for every learning-rate pair of the grid.
    """

    network: Network
    history: dict[str, list[float]]
    info: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)


def network_from_weights(W: np.ndarray, V: np.ndarray, activation: Activation,
                         meta: dict[str, Any] | None = None) -> Network:
    """The 1-hidden-layer network ``x -> V^T act(W x)`` (no biases, as in eq. (1)); ``V`` is (m, C)."""
    m, d = W.shape
    return Network([Dense(np.array(W, dtype=np.float64), np.zeros(m), activation),
                    Dense(np.array(V, dtype=np.float64).T, np.zeros(V.shape[1]), IDENTITY)],
                   dict(meta or {}))


def jacobian_smin(X: np.ndarray, W: np.ndarray, c: np.ndarray, activation: str) -> float:
    """Smallest singular value of the Jacobian (3) of the outputs w.r.t. the hidden weights, scalar
    output: ``s_min(J) = sqrt(lambda_min(J J^T))`` with ``J J^T = (X X^T) o (S diag(c^2) S^T)``,
    ``S_ij = sigma'(w_j^T x_i)`` and ``c`` the effective output weight of each hidden unit (``(v, -v)``
    for the pairwise net). An n x n eigenproblem; J itself (n x md) is never formed. Zero when n > md."""
    Zm = X @ W.T
    if activation == "tanh":
        S = 1 - np.tanh(Zm) ** 2
    elif activation == "softplus":
        S = 1 / (1 + np.exp(-Zm))
    else:
        S = (Zm > 0).astype(np.float64)
    K = (X @ X.T) * ((S * c**2) @ S.T)
    lam = float(np.linalg.eigvalsh(K)[0])
    return math.sqrt(max(lam, 0.0))


def _act_fn(torch: Any, name: str) -> Callable[[Any], Any]:
    if name == "tanh":
        return torch.tanh
    if name == "softplus":
        return torch.nn.functional.softplus
    if name == "relu":
        return torch.relu
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}")


def _config_hash(cfg: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train(ds: Dataset, width: int, regime: str = "zhang21", *, activation: str = "tanh",
          steps: int = 3000, eps: float | None | str = "default", lr_w: float = Z.LR_W, lr_v: float = Z.LR_V,
          lrs: Sequence[tuple[float, float]] | None = None, momentum: float = Z.MOMENTUM,
          optimizer: str = "sgd", loss: str | None = None, zeta: float = Z.ZETA, kappa: float = Z.KAPPA,
          v_projection: str = "exact", init: str = "lecun_normal", batch_size: int | None = None,
          seed: int = 0, target_loss: float | None = None, log_every: int | None = None,
          checkpoint: str | os.PathLike[str] | None = None, checkpoint_every: int = 1000,
          progress: Callable[[int, int, float], None] | None = None, threads: int | None = None,
          lr_milestones: Sequence[int] = (),
          ) -> TrainResult:
    """Train a 1-hidden-layer net of width ``width`` on ``ds`` under ``regime``.

    - ``eps``: radius of ``B_eps(w^0)``; ``"default"`` is 10 for zhang21 (the paper's random-label
      value, App. H.6) and unconstrained (``None``) for regular; ``None``/``inf`` = unconstrained.
    - ``lr_w``, ``lr_v``: step sizes of the hidden / output layer (the paper's lr_1, lr_2), or ``lrs``
      a list of pairs trained together (batched), the best by final training loss is returned.
    - ``optimizer``: ``"sgd"`` (heavy ball, ``momentum``; 0 gives Algorithm 2's plain projected GD) or
      ``"adam"``. The momentum buffer is neither projected nor reset (as in the paper's code).
    - ``loss``: ``"mse"`` (default for regression; nn.MSELoss), ``"half_sum"`` (eq. (2)) or
      ``"cross_entropy"`` (default for classification, on ``d_y`` logits).
    - ``v_projection``: ``"exact"`` (projection onto B_{zeta,kappa}; v^0 is projected before step 1,
      erratum ZZHSL-2) or ``"off"`` (as the experiments were evidently run, ZZHSL-1). zhang21 only.
    - ``batch_size``: ``None`` = full batch (the synthetic experiment); otherwise without-replacement
      mini-batches reshuffled every epoch; a *step* is one update.
    - ``lr_milestones``: steps at which both step sizes are multiplied by 0.1 (the stage-wise schedule
      of the random-label experiment, App. H.6).
    - ``target_loss``: stop early once every run's loss is below it.
    - ``log_every``: history resolution; default every step up to 10,000 steps, then 10,000 entries.
    - ``checkpoint``: a ``.npz`` path; training resumes from it when it exists and matches the
      configuration, and it is rewritten every ``checkpoint_every`` steps and at the end.
    - ``threads``: torch threads for this call; default 1 for small problems (per-step work below 5·10^7
      multiply-adds, where thread synchronisation costs more than it saves: 20x slower on a busy 2-core
      machine) and torch's default otherwise. The previous setting is restored afterwards.
    """
    torch = require_extra("torch", "torch")
    G = len(lrs) if lrs is not None else 1
    if threads is None:
        rows = ds.N if batch_size is None else min(int(batch_size), ds.N)
        threads = 1 if G * rows * int(width) * max(ds.d_x, ds.d_y) < 5 * 10**7 else torch.get_num_threads()
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        return _train(ds, width, regime, activation=activation, steps=steps, eps=eps, lr_w=lr_w, lr_v=lr_v,
                      lrs=lrs, momentum=momentum, optimizer=optimizer, loss=loss, zeta=zeta, kappa=kappa,
                      v_projection=v_projection, init=init, batch_size=batch_size, seed=seed,
                      target_loss=target_loss, log_every=log_every, checkpoint=checkpoint,
                      checkpoint_every=checkpoint_every, progress=progress,
                      lr_milestones=tuple(int(s) for s in lr_milestones))
    finally:
        torch.set_num_threads(before)


def _train(ds: Dataset, width: int, regime: str, *, activation: str, steps: int, eps: float | None | str,
           lr_w: float, lr_v: float, lrs: Sequence[tuple[float, float]] | None, momentum: float,
           optimizer: str, loss: str | None, zeta: float, kappa: float, v_projection: str, init: str,
           batch_size: int | None, seed: int, target_loss: float | None, log_every: int | None,
           checkpoint: str | os.PathLike[str] | None, checkpoint_every: int,
           progress: Callable[[int, int, float], None] | None, lr_milestones: tuple[int, ...] = ()
           ) -> TrainResult:
    """The training loop of :func:`train` (arguments documented there)."""
    torch = require_extra("torch", "torch")
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {', '.join(REGIMES)}, got {regime!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    pair = regime == "zhang21"
    m = int(width)
    if m < 1 or (pair and m % 2):
        raise ValueError(f"--width must be a positive{' even' if pair else ''} integer for the {regime} "
                         f"regime (pairwise output weights need m/2 pairs), got {width}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if eps == "default":
        eps = Z.EPS if pair else None
    if eps is not None:
        eps = float(eps)
        if math.isinf(eps):
            eps = None
        elif not eps > 0:
            raise ValueError(f"eps must be > 0 (or None for unconstrained), got {eps}")
    if v_projection not in ("exact", "off"):
        raise ValueError(f"v_projection must be exact or off, got {v_projection!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be sgd or adam, got {optimizer!r}")
    classification = ds.task == "classification"
    loss = loss or ("cross_entropy" if classification else "mse")
    if loss not in ("mse", "half_sum", "cross_entropy"):
        raise ValueError(f"loss must be mse, half_sum or cross_entropy, got {loss!r}")
    if loss == "cross_entropy" and not classification:
        raise ValueError("cross_entropy needs a classification dataset (use --task classification)")
    pairs = [(float(a), float(b)) for a, b in (lrs if lrs is not None else [(lr_w, lr_v)])]
    if not pairs or any(not (a >= 0 and b >= 0) for a, b in pairs):
        raise ValueError(f"learning rates must be >= 0, got {pairs}")
    if batch_size is not None and not 1 <= batch_size:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    project_v = pair and v_projection == "exact"

    dt = torch.float64
    n, d = ds.N, ds.d_x
    C = ds.d_y
    X = torch.tensor(np.asarray(ds.X, dtype=np.float64), dtype=dt)
    Y = torch.tensor(np.asarray(ds.targets, dtype=np.float64), dtype=dt)
    labels = torch.tensor(np.asarray(ds.labels), dtype=torch.long) if classification else None
    G = len(pairs)
    gen = torch.Generator().manual_seed(int(seed))
    if pair:
        W0, v0 = Z.mirrored_lecun_init(torch, 1, m, d, C, gen, init, dt)
    else:
        W0, v0 = lecun_init(torch, 1, m, d, C, gen, init, dt)
    # every lr pair starts from the same initialization (so the grid compares step sizes only)
    W0, v0 = W0.expand(G, -1, -1).clone(), v0.expand(G, -1, -1).clone()
    if project_v:
        v0 = Z.project_v(v0, zeta, kappa)
    lr_w_t = torch.tensor([p[0] for p in pairs], dtype=dt)
    lr_v_t = torch.tensor([p[1] for p in pairs], dtype=dt)
    act = _act_fn(torch, activation)
    h = m // 2

    def outputs(W: Any, v: Any, Xb: Any) -> Any:
        H = act(torch.einsum("nd,gmd->gnm", Xb, W))
        if pair:  # eq. (6) as (H1 - H2) v: exactly 0 at the mirrored init
            return (H[:, :, :h] - H[:, :, h:]) @ v
        return H @ v

    def losses(F: Any, idx: Any) -> Any:
        if loss == "cross_entropy":
            lab = labels[idx] if idx is not None else labels
            logp = torch.log_softmax(F, dim=2)
            return -logp.gather(2, lab.view(1, -1, 1).expand(F.shape[0], -1, 1)).mean(dim=(1, 2))
        Yb = Y[idx] if idx is not None else Y
        r = (F - Yb.unsqueeze(0)) ** 2
        return r.mean(dim=(1, 2)) if loss == "mse" else 0.5 * r.sum(dim=(1, 2))

    cfg = {"regime": regime, "width": m, "activation": activation, "eps": eps, "pairs": pairs,
           "momentum": momentum, "optimizer": optimizer, "loss": loss, "zeta": zeta, "kappa": kappa,
           "v_projection": v_projection, "init": init, "batch_size": batch_size, "seed": seed,
           "lr_milestones": list(lr_milestones),
           "data": [n, d, C, hashlib.sha256(np.ascontiguousarray(ds.X, dtype=np.float64).tobytes()
                                            + np.ascontiguousarray(ds.targets, dtype=np.float64).tobytes()
                                            ).hexdigest()[:16]]}
    key = _config_hash(cfg)
    W, v = W0.clone(), v0.clone()
    bufs = {"mW": torch.zeros_like(W), "mv": torch.zeros_like(v), "sW": torch.zeros_like(W),
            "sv": torch.zeros_like(v)}
    alive = torch.ones(G, dtype=torch.bool)
    hist: dict[str, list[Any]] = {"step": [], "loss": [], "seconds": []}
    start, elapsed0 = 0, 0.0
    order = torch.arange(n)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        arrs, head = load_checkpoint(ckpt)
        if head.get("config_hash") != key:
            raise ValueError(f"checkpoint {ckpt} belongs to another configuration (its settings: "
                             f"{head.get('config')}); delete it or choose another --checkpoint path")
        W, v = torch.tensor(arrs["W"]), torch.tensor(arrs["v"])
        for k in bufs:
            bufs[k] = torch.tensor(arrs[k])
        alive = torch.tensor(arrs["alive"])
        order = torch.tensor(arrs["order"])
        gen.set_state(torch.tensor(arrs["gen_state"]))
        start, elapsed0, hist = int(head["step"]), float(head["seconds"]), head["history"]

    def save(step: int, seconds: float) -> None:
        if ckpt is None:
            return
        arrays = {"W": W.numpy(), "v": v.numpy(), "alive": alive.numpy(), "order": order.numpy(),
                  "gen_state": gen.get_state().numpy(), **{k: b.numpy() for k, b in bufs.items()}}
        save_checkpoint(ckpt, arrays, {"config": cfg, "config_hash": key, "step": step,
                                       "seconds": seconds, "history": hist})

    bs = n if batch_size is None else min(int(batch_size), n)
    per_epoch = math.ceil(n / bs)
    log_every = log_every or max(1, steps // 10_000)  # every step for runs up to 10,000 steps
    t0 = time.perf_counter() - elapsed0
    step = start
    beta2, adam_eps = 0.999, 1e-8
    for step in range(start, steps):
        k = step % per_epoch
        if bs < n and k == 0:
            order = torch.randperm(n, generator=gen)
        idx = None if bs == n else order[k * bs:(k + 1) * bs]
        Wr, vr = W.clone().requires_grad_(True), v.clone().requires_grad_(True)
        Lg = losses(outputs(Wr, vr, X if idx is None else X[idx]), idx)
        gW, gv = torch.autograd.grad(Lg.sum(), [Wr, vr])
        with torch.no_grad():
            alive &= torch.isfinite(Lg) & torch.isfinite(gW).flatten(1).all(1) \
                & torch.isfinite(gv).flatten(1).all(1)
            if step % log_every == 0 or step == steps - 1:
                hist["step"].append(step)
                hist["loss"].append([float(x) if math.isfinite(float(x)) else None for x in Lg])
                hist["seconds"].append(time.perf_counter() - t0)
            if progress is not None:
                good = Lg[alive]
                progress(step, steps, float(good.min()) if len(good) else float("nan"))
            if target_loss is not None and bool(((Lg < target_loss) | ~alive).all()):
                break
            a3 = alive.view(-1, 1, 1)
            gW = torch.where(a3, gW, 0.0)
            gv = torch.where(a3, gv, 0.0)
            if optimizer == "sgd":
                bufs["mW"] = momentum * bufs["mW"] + gW
                bufs["mv"] = momentum * bufs["mv"] + gv
                dW, dv = bufs["mW"], bufs["mv"]
            else:
                b1 = momentum
                bufs["mW"] = b1 * bufs["mW"] + (1 - b1) * gW
                bufs["mv"] = b1 * bufs["mv"] + (1 - b1) * gv
                bufs["sW"] = beta2 * bufs["sW"] + (1 - beta2) * gW**2
                bufs["sv"] = beta2 * bufs["sv"] + (1 - beta2) * gv**2
                c1, c2 = 1 - b1 ** (step + 1), 1 - beta2 ** (step + 1)
                dW = (bufs["mW"] / c1) / ((bufs["sW"] / c2).sqrt() + adam_eps)
                dv = (bufs["mv"] / c1) / ((bufs["sv"] / c2).sqrt() + adam_eps)
            decay = 0.1 ** sum(step >= s for s in lr_milestones)
            Wn = Z.project_ball(W - decay * lr_w_t.view(-1, 1, 1) * dW, W0, eps)
            vn = v - decay * lr_v_t.view(-1, 1, 1) * dv
            if project_v:
                vn = Z.project_v(vn, zeta, kappa)
            W = torch.where(a3, Wn, W)
            v = torch.where(a3, vn, v)
        if ckpt is not None and (step + 1) % checkpoint_every == 0:
            save(step + 1, time.perf_counter() - t0)
    else:
        step = steps
    seconds = time.perf_counter() - t0
    done_steps = step if step >= start else start
    save(done_steps, seconds)

    with torch.no_grad():
        F = outputs(W, v, X)
        Lfinal = losses(F, None)
    Vout = Z.pairwise_output(v) if pair else v
    W_np, V_np, W0_np = W.numpy(), Vout.numpy(), W0.numpy()
    Xn = np.asarray(ds.X, dtype=np.float64)
    Yn = np.asarray(ds.targets, dtype=np.float64)
    runs = []
    for g, (lw, lv) in enumerate(pairs):
        lf = float(Lfinal[g])
        r: dict[str, Any] = {"lr_w": lw, "lr_v": lv, "final_loss": lf if math.isfinite(lf) else None,
                             "diverged": not bool(alive[g]) or not math.isfinite(lf),
                             "w_move": float(np.linalg.norm(W_np[g] - W0_np[g]))}
        Fg = F[g].numpy()
        if classification:
            r["train_accuracy"] = float(np.mean(Fg.argmax(1) == np.asarray(ds.labels)))
        else:
            mse = float(np.mean((Fg - Yn) ** 2))
            r["mse"] = mse if math.isfinite(mse) else None
            r["rel_error"] = mse / float(np.mean(Yn**2)) if math.isfinite(mse) and np.any(Yn) else None
        runs.append(r)

    def score(g: int) -> float:
        lf = runs[g]["final_loss"]
        return math.inf if runs[g]["diverged"] or lf is None else lf

    best = min(range(G), key=score)
    c = V_np[best][:, 0] if C == 1 else None
    s_min = jacobian_smin(Xn, W_np[best], c, activation) if c is not None and n <= 4000 else None
    feasible = Z.in_constraint_set(W[best:best + 1], W0[best:best + 1],
                                   v[best:best + 1] if project_v else None, eps, zeta, kappa)
    info: dict[str, Any] = {
        **{k: cfg[k] for k in ("regime", "width", "activation", "eps", "momentum", "optimizer", "loss",
                               "init", "batch_size", "seed")},
        "zeta": zeta if pair else None, "kappa": kappa if pair else None,
        "v_projection": v_projection if pair else None,
        "n": n, "d": d, "outputs": C, "steps": done_steps, "seconds": seconds,
        "steps_per_second": (done_steps - start) / max(seconds - elapsed0, 1e-9) if done_steps > start
        else None, "resumed_from": start or None,
        **runs[best], "s_min_J": s_min, "feasible": feasible,
        "width_condition": {"2n/d": 2 * n / d, "min_even_width": Z.min_width(n, d),
                            "holds": m >= 2 * n / d, "narrow": m < n},
    }
    best_hist = {"step": hist["step"], "seconds": hist["seconds"],
                 "loss": [row[best] for row in hist["loss"]]}
    meta = {mk.TRAINED: True, mk.SOURCE: "memcap.train", **{k: info[k] for k in mk.TRAIN_KEYS},
            mk.DATA: ds.name}
    net = network_from_weights(W_np[best], V_np[best], as_activation(activation), meta)
    return TrainResult(net, best_hist, info, runs)
