"""Run certification chunks on local processes or on a Ray cluster.

The network crosses to each worker once, as compact bytes (exact weights as their integer numerators
and denominators; python-flint objects are not pickled), when the worker starts; each task then carries only
its chunk of points. Workers run :func:`memcap.certify.tiers.decide_chunk` and keep their prepared
network (ball matrices, integer weights) between tasks.

* :class:`ProcessPool` — ``concurrent.futures`` with the spawn start method, one compute thread per
  worker, SIGINT ignored in the workers (Ctrl-C is handled by the parent, which cancels the rest);
* :class:`RayPool` — one Ray actor per CPU (``address=None``: the running Ray instance or a new local
  one; otherwise ``ray.init(address=...)``); actors hold the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from memcap.network import Network

__all__ = ["default_workers", "network_bytes", "ProcessPool", "RayPool", "WorkerState"]

MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    """os.cpu_count(), capped at 8 (more processes than that rarely pay for their start-up here)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def network_bytes(net: Network) -> bytes:
    """The network's layers as compact bytes for workers: float arrays as they are, exact arrays as
    their numerators and denominators (Python integers pickle in binary; python-flint objects and
    the save format's decimal strings are slow for thousand-bit weights). Only this module's own
    workers read it back."""
    import pickle

    layers = []
    for layer in net.layers:
        arrays = []
        for a in layer.arrays():
            if a.dtype == object:
                flat = a.ravel()
                arrays.append(("q", a.shape, [int(v.p) for v in flat], [int(v.q) for v in flat]))
            else:
                arrays.append(("f", np.asarray(a, dtype=np.float64)))
        layers.append((type(layer).__name__, layer.activation.to_json(), arrays))
    return pickle.dumps(layers, protocol=pickle.HIGHEST_PROTOCOL)


def network_from_bytes(data: bytes) -> Network:
    import pickle

    import flint

    from memcap.network import Activation, Dense, Residual

    layers: list[Any] = []
    for kind, act, arrays in pickle.loads(data):  # noqa: S301 - bytes written by network_bytes
        arrs = []
        for enc in arrays:
            if enc[0] == "q":
                out = np.empty(enc[1], dtype=object)
                out.ravel()[:] = [flint.fmpq(p, q) for p, q in zip(enc[2], enc[3], strict=True)]
                arrs.append(out)
            else:
                arrs.append(enc[1])
        a = Activation.from_json(act)
        layers.append(Dense(*arrs, a) if kind == "Dense" else Residual(*arrs, a))
    return Network(layers)


class WorkerState:
    """A worker's network and its prepared plans."""

    def __init__(self, data: bytes) -> None:
        self.net = network_from_bytes(data)
        self.cache: dict[str, Any] = {}

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        from memcap.certify.tiers import decide_chunk

        return decide_chunk(self.net, self.cache, task)


_STATE: WorkerState | None = None


def _init_process(data: bytes) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    global _STATE
    _STATE = WorkerState(data)


def _run_process(task: dict[str, Any]) -> dict[str, Any]:
    assert _STATE is not None
    return _STATE.run(task)


class ProcessPool:
    """Local worker processes, each holding the network."""

    def __init__(self, net: Network, workers: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                         initializer=_init_process, initargs=(network_bytes(net),))

    def describe(self) -> str:
        return f"{self.workers} local processes"

    def map_unordered(self, tasks: Sequence[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        futs = {self._pool.submit(_run_process, t): i for i, t in enumerate(tasks)}
        pending = set(futs)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield futs[f], f.result()
        finally:
            for f in pending:
                f.cancel()

    def close(self) -> None:
        procs = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        # a worker busy on a long chunk is stopped, not waited for (Ctrl-C, max_seconds); idle
        # workers have already exited on the shutdown message
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RayActorState(WorkerState):
    """The Ray actor class (wrapped by ray.remote when a RayPool starts)."""


class RayPool:
    """One Ray actor per CPU (at most ``workers``), each holding the network."""

    def __init__(self, net: Network, address: str | None = None, workers: int | None = None) -> None:
        from memcap._util import require_extra

        ray = require_extra("ray", "ray")
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
            if address is None:
                ray.init(num_cpus=workers or default_workers(), **kw)
            else:
                ray.init(address=address, **kw)
            self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(cpus, workers or cpus))
        self.address = address
        ref = ray.put(network_bytes(net))
        actor = ray.remote(num_cpus=1)(RayActorState)
        self._actors = [actor.remote(ref) for _ in range(self.workers)]

    def describe(self) -> str:
        return f"{self.workers} Ray actors ({self.address or 'local instance'})"

    def map_unordered(self, tasks: Sequence[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
        ray = self._ray
        queue = list(range(len(tasks)))
        running: dict[Any, tuple[int, int]] = {}

        def submit(a: int) -> None:
            if queue:
                i = queue.pop(0)
                running[self._actors[a].run.remote(tasks[i])] = (i, a)

        for a in range(len(self._actors)):
            for _ in range(2):  # two in flight per actor keeps it busy while results travel
                submit(a)
        try:
            while running:
                done, _ = ray.wait(list(running), num_returns=1)
                for r in done:
                    i, a = running.pop(r)
                    yield i, ray.get(r)
                    submit(a)
        finally:
            for r in running:
                ray.cancel(r)

    def close(self) -> None:
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
