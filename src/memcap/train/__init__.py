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


def _check_settings(ds: Dataset, width: int, regime: str, activation: str, steps: int,
                    eps: float | None | str, v_projection: str, optimizer: str, loss: str | None,
                    pairs: list[tuple[float, float]], batch_size: int | None
                    ) -> tuple[int, float | None, str]:
    """Validate :func:`train`'s arguments; returns the width m, eps (None: unconstrained) and the loss."""
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
    if not pairs or any(not (a >= 0 and b >= 0) for a, b in pairs):
        raise ValueError(f"learning rates must be >= 0, got {pairs}")
    if batch_size is not None and not 1 <= batch_size:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return m, eps, loss


class _Objective:
    """Eq. (6)'s outputs and the training loss, batched over the G learning-rate pairs (leading axis)."""

    def __init__(self, torch: Any, activation: str, pair: bool, m: int, loss: str, Y: Any,
                 labels: Any) -> None:
        self.torch, self.act, self.pair, self.h = torch, _act_fn(torch, activation), pair, m // 2
        self.loss, self.Y, self.labels = loss, Y, labels

    def outputs(self, W: Any, v: Any, Xb: Any) -> Any:
        H = self.act(self.torch.einsum("nd,gmd->gnm", Xb, W))
        if self.pair:  # eq. (6) as (H1 - H2) v: exactly 0 at the mirrored init
            return (H[:, :, :self.h] - H[:, :, self.h:]) @ v
        return H @ v

    def losses(self, F: Any, idx: Any) -> Any:
        if self.loss == "cross_entropy":
            lab = self.labels[idx] if idx is not None else self.labels
            logp = self.torch.log_softmax(F, dim=2)
            return -logp.gather(2, lab.view(1, -1, 1).expand(F.shape[0], -1, 1)).mean(dim=(1, 2))
        Yb = self.Y[idx] if idx is not None else self.Y
        r = (F - Yb.unsqueeze(0)) ** 2
        return r.mean(dim=(1, 2)) if self.loss == "mse" else 0.5 * r.sum(dim=(1, 2))


def _data_key(ds: Dataset) -> list[Any]:
    """(n, d, C, hash of the data): what a checkpoint's configuration records about the data."""
    digest = hashlib.sha256(np.ascontiguousarray(ds.X, dtype=np.float64).tobytes()
                            + np.ascontiguousarray(ds.targets, dtype=np.float64).tobytes()).hexdigest()
    return [ds.N, ds.d_x, ds.d_y, digest[:16]]


def _direction(optimizer: str, bufs: dict[str, Any], gW: Any, gv: Any, momentum: float, step: int
               ) -> tuple[Any, Any]:
    """The update direction (dW, dv) of SGD with momentum or Adam (updates the buffers in place)."""
    if optimizer == "sgd":
        bufs["mW"] = momentum * bufs["mW"] + gW
        bufs["mv"] = momentum * bufs["mv"] + gv
        return bufs["mW"], bufs["mv"]
    b1, beta2, adam_eps = momentum, 0.999, 1e-8
    bufs["mW"] = b1 * bufs["mW"] + (1 - b1) * gW
    bufs["mv"] = b1 * bufs["mv"] + (1 - b1) * gv
    bufs["sW"] = beta2 * bufs["sW"] + (1 - beta2) * gW**2
    bufs["sv"] = beta2 * bufs["sv"] + (1 - beta2) * gv**2
    c1, c2 = 1 - b1 ** (step + 1), 1 - beta2 ** (step + 1)
    dW = (bufs["mW"] / c1) / ((bufs["sW"] / c2).sqrt() + adam_eps)
    dv = (bufs["mv"] / c1) / ((bufs["sv"] / c2).sqrt() + adam_eps)
    return dW, dv


def _run_summaries(ds: Dataset, F: Any, Lfinal: Any, alive: Any, W_np: np.ndarray, W0_np: np.ndarray,
                   pairs: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """Final loss, divergence, ||W - W0||_F and accuracy / error of every learning-rate pair."""
    Yn = np.asarray(ds.targets, dtype=np.float64)
    runs = []
    for g, (lw, lv) in enumerate(pairs):
        lf = float(Lfinal[g])
        r: dict[str, Any] = {"lr_w": lw, "lr_v": lv, "final_loss": lf if math.isfinite(lf) else None,
                             "diverged": not bool(alive[g]) or not math.isfinite(lf),
                             "w_move": float(np.linalg.norm(W_np[g] - W0_np[g]))}
        Fg = F[g].numpy()
        if ds.task == "classification":
            r["train_accuracy"] = float(np.mean(Fg.argmax(1) == np.asarray(ds.labels)))
        else:
            mse = float(np.mean((Fg - Yn) ** 2))
            r["mse"] = mse if math.isfinite(mse) else None
            r["rel_error"] = mse / float(np.mean(Yn**2)) if math.isfinite(mse) and np.any(Yn) else None
        runs.append(r)
    return runs


@dataclass
class _State:
    """What the loop updates and a checkpoint stores: weights, optimizer buffers, the runs still
    alive, the epoch order, the history and where the run resumed."""

    W: Any
    v: Any
    bufs: dict[str, Any]
    alive: Any
    order: Any
    hist: dict[str, list[Any]]
    start: int = 0
    elapsed0: float = 0.0

    def load(self, ckpt: Path, key: str, gen: Any, torch: Any) -> None:
        """Resume from ``ckpt`` (refused when it belongs to another configuration)."""
        arrs, head = load_checkpoint(ckpt)
        if head.get("config_hash") != key:
            raise ValueError(f"checkpoint {ckpt} belongs to another configuration (its settings: "
                             f"{head.get('config')}); delete it or choose another --checkpoint path")
        self.W, self.v = torch.tensor(arrs["W"]), torch.tensor(arrs["v"])
        for k in self.bufs:
            self.bufs[k] = torch.tensor(arrs[k])
        self.alive = torch.tensor(arrs["alive"])
        self.order = torch.tensor(arrs["order"])
        gen.set_state(torch.tensor(arrs["gen_state"]))
        self.start, self.elapsed0, self.hist = int(head["step"]), float(head["seconds"]), head["history"]

    def save(self, ckpt: Path | None, cfg: dict[str, Any], key: str, gen: Any, step: int,
             seconds: float) -> None:
        if ckpt is None:
            return
        arrays = {"W": self.W.numpy(), "v": self.v.numpy(), "alive": self.alive.numpy(),
                  "order": self.order.numpy(), "gen_state": gen.get_state().numpy(),
                  **{k: b.numpy() for k, b in self.bufs.items()}}
        save_checkpoint(ckpt, arrays, {"config": cfg, "config_hash": key, "step": step,
                                       "seconds": seconds, "history": self.hist})


def _train(ds: Dataset, width: int, regime: str, *, activation: str, steps: int, eps: float | None | str,
           lr_w: float, lr_v: float, lrs: Sequence[tuple[float, float]] | None, momentum: float,
           optimizer: str, loss: str | None, zeta: float, kappa: float, v_projection: str, init: str,
           batch_size: int | None, seed: int, target_loss: float | None, log_every: int | None,
           checkpoint: str | os.PathLike[str] | None, checkpoint_every: int,
           progress: Callable[[int, int, float], None] | None, lr_milestones: tuple[int, ...] = ()
           ) -> TrainResult:
    """The training of :func:`train` (arguments documented there): Algorithm 1's initialization,
    resuming from the checkpoint, Algorithm 2's (projected) gradient steps, the best pair's summary."""
    torch = require_extra("torch", "torch")
    pairs = [(float(a), float(b)) for a, b in (lrs if lrs is not None else [(lr_w, lr_v)])]
    m, eps, loss = _check_settings(ds, width, regime, activation, steps, eps, v_projection, optimizer,
                                   loss, pairs, batch_size)
    pair = regime == "zhang21"
    project_v = pair and v_projection == "exact"
    dt = torch.float64
    X = torch.tensor(np.asarray(ds.X, dtype=np.float64), dtype=dt)
    Y = torch.tensor(np.asarray(ds.targets, dtype=np.float64), dtype=dt)
    labels = torch.tensor(np.asarray(ds.labels), dtype=torch.long) if ds.task == "classification" else None
    G = len(pairs)
    gen = torch.Generator().manual_seed(int(seed))
    init_fn = Z.mirrored_lecun_init if pair else lecun_init
    W0, v0 = init_fn(torch, 1, m, ds.d_x, ds.d_y, gen, init, dt)
    # every lr pair starts from the same initialization (so the grid compares step sizes only)
    W0, v0 = W0.expand(G, -1, -1).clone(), v0.expand(G, -1, -1).clone()
    if project_v:
        v0 = Z.project_v(v0, zeta, kappa)
    obj = _Objective(torch, activation, pair, m, loss, Y, labels)
    cfg = {"regime": regime, "width": m, "activation": activation, "eps": eps, "pairs": pairs,
           "momentum": momentum, "optimizer": optimizer, "loss": loss, "zeta": zeta, "kappa": kappa,
           "v_projection": v_projection, "init": init, "batch_size": batch_size, "seed": seed,
           "lr_milestones": list(lr_milestones), "data": _data_key(ds)}
    key = _config_hash(cfg)
    W, v = W0.clone(), v0.clone()
    st = _State(W, v, {"mW": torch.zeros_like(W), "mv": torch.zeros_like(v), "sW": torch.zeros_like(W),
                       "sv": torch.zeros_like(v)},
                torch.ones(G, dtype=torch.bool), torch.arange(ds.N), {"step": [], "loss": [], "seconds": []})
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        st.load(ckpt, key, gen, torch)

    def save(step: int, seconds: float) -> None:
        st.save(ckpt, cfg, key, gen, step, seconds)

    lr_t = (torch.tensor([p[0] for p in pairs], dtype=dt).view(-1, 1, 1),
            torch.tensor([p[1] for p in pairs], dtype=dt).view(-1, 1, 1))
    done_steps, seconds = _descend(torch, st, obj, X, W0, lr_t, eps, project_v, zeta, kappa, optimizer,
                                   momentum, lr_milestones, steps, batch_size, gen, log_every, progress,
                                   target_loss, save if ckpt is not None else None, checkpoint_every)
    save(done_steps, seconds)
    return _summarize(ds, st, obj, X, W0, cfg, pairs, pair, project_v, eps, zeta, kappa, v_projection, m,
                      done_steps, seconds, activation)


def _descend(torch: Any, st: _State, obj: _Objective, X: Any, W0: Any, lr_t: tuple[Any, Any],
             eps: float | None, project_v: bool, zeta: float, kappa: float, optimizer: str, momentum: float,
             lr_milestones: tuple[int, ...], steps: int, batch_size: int | None, gen: Any,
             log_every: int | None, progress: Callable[[int, int, float], None] | None,
             target_loss: float | None, save: Callable[[int, float], None] | None, checkpoint_every: int
             ) -> tuple[int, float]:
    """Algorithm 2's loop from ``st.start``: (mini-batch) gradients, the optimizer's direction, the
    step projected onto B_eps(W0) (and v onto B_(zeta,kappa)); a diverged pair stops moving.
    Returns (steps done, seconds)."""
    n = len(X)
    bs = n if batch_size is None else min(int(batch_size), n)
    per_epoch = math.ceil(n / bs)
    log_every = log_every or max(1, steps // 10_000)  # every step for runs up to 10,000 steps
    t0 = time.perf_counter() - st.elapsed0
    step = st.start
    for step in range(st.start, steps):
        k = step % per_epoch
        if bs < n and k == 0:
            st.order = torch.randperm(n, generator=gen)
        idx = None if bs == n else st.order[k * bs:(k + 1) * bs]
        Wr, vr = st.W.clone().requires_grad_(True), st.v.clone().requires_grad_(True)
        Lg = obj.losses(obj.outputs(Wr, vr, X if idx is None else X[idx]), idx)
        gW, gv = torch.autograd.grad(Lg.sum(), [Wr, vr])
        with torch.no_grad():
            st.alive &= torch.isfinite(Lg) & torch.isfinite(gW).flatten(1).all(1) \
                & torch.isfinite(gv).flatten(1).all(1)
            if step % log_every == 0 or step == steps - 1:
                st.hist["step"].append(step)
                st.hist["loss"].append([float(x) if math.isfinite(float(x)) else None for x in Lg])
                st.hist["seconds"].append(time.perf_counter() - t0)
            if progress is not None:
                good = Lg[st.alive]
                progress(step, steps, float(good.min()) if len(good) else float("nan"))
            if target_loss is not None and bool(((Lg < target_loss) | ~st.alive).all()):
                break
            a3 = st.alive.view(-1, 1, 1)
            dW, dv = _direction(optimizer, st.bufs, torch.where(a3, gW, 0.0), torch.where(a3, gv, 0.0),
                                momentum, step)
            decay = 0.1 ** sum(step >= s for s in lr_milestones)
            Wn = Z.project_ball(st.W - decay * lr_t[0] * dW, W0, eps)
            vn = st.v - decay * lr_t[1] * dv
            if project_v:
                vn = Z.project_v(vn, zeta, kappa)
            st.W = torch.where(a3, Wn, st.W)
            st.v = torch.where(a3, vn, st.v)
        if save is not None and (step + 1) % checkpoint_every == 0:
            save(step + 1, time.perf_counter() - t0)
    else:
        step = steps
    return (step if step >= st.start else st.start), time.perf_counter() - t0


def _summarize(ds: Dataset, st: _State, obj: _Objective, X: Any, W0: Any, cfg: dict[str, Any],
               pairs: list[tuple[float, float]], pair: bool, project_v: bool, eps: float | None,
               zeta: float, kappa: float, v_projection: str, m: int, done_steps: int, seconds: float,
               activation: str) -> TrainResult:
    """The best pair by final training loss: its network, history and summary (with every pair's)."""
    torch = obj.torch
    n, d, C = ds.N, ds.d_x, ds.d_y
    with torch.no_grad():
        F = obj.outputs(st.W, st.v, X)
        Lfinal = obj.losses(F, None)
    Vout = Z.pairwise_output(st.v) if pair else st.v
    W_np, V_np, W0_np = st.W.numpy(), Vout.numpy(), W0.numpy()
    runs = _run_summaries(ds, F, Lfinal, st.alive, W_np, W0_np, pairs)

    def score(g: int) -> float:
        lf = runs[g]["final_loss"]
        return math.inf if runs[g]["diverged"] or lf is None else lf

    best = min(range(len(pairs)), key=score)
    c = V_np[best][:, 0] if C == 1 else None
    s_min = (jacobian_smin(np.asarray(ds.X, dtype=np.float64), W_np[best], c, activation)
             if c is not None and n <= 4000 else None)
    feasible = Z.in_constraint_set(st.W[best:best + 1], W0[best:best + 1],
                                   st.v[best:best + 1] if project_v else None, eps, zeta, kappa)
    start, elapsed0 = st.start, st.elapsed0
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
    best_hist = {"step": st.hist["step"], "seconds": st.hist["seconds"],
                 "loss": [row[best] for row in st.hist["loss"]]}
    meta = {mk.TRAINED: True, mk.SOURCE: "memcap.train", **{k: info[k] for k in mk.TRAIN_KEYS},
            mk.DATA: ds.name}
    net = network_from_weights(W_np[best], V_np[best], as_activation(activation), meta)
    return TrainResult(net, best_hist, info, runs)
