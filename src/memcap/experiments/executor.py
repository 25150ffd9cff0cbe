"""One small interface for running a grid of independent runs: local processes or Ray.

A grid is a mapping ``key -> task`` and a module-level function ``fn(task) -> result`` (JSON-able).
:func:`run_grid` runs the tasks whose key is not yet in the :class:`ResultStore` (so an interrupted
sweep resumes where it stopped), stores each result as soon as it arrives, and returns all results.

- :class:`LocalExecutor` — ``concurrent.futures.ProcessPoolExecutor`` (spawn start method, one BLAS/torch
  thread per worker); ``workers=1`` runs the tasks in this process, one after the other.
- :class:`RayExecutor` — Ray (the ``ray`` extra): ``address=None`` starts a local Ray instance,
  otherwise connects to the given cluster (``"auto"``, ``"ray://host:10001"``, ...). Workers must have
  memcap installed, as for any Ray job.

There is no home-made distribution layer: both are thin adapters over the standard tools.
"""

from __future__ import annotations

import json
import os
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from memcap._util import atomic_write_bytes, require_extra

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "make_executor", "ResultStore", "run_grid"]

_THREADS_SET = False


def _single_threaded() -> None:
    """Limit a worker to one compute thread, so that ``workers`` processes use ``workers`` cores."""
    global _THREADS_SET
    if _THREADS_SET:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # read by torch / BLAS when they are first imported
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    _THREADS_SET = True


def _run_task(fn: Callable[[Any], Any], task: Any) -> Any:
    _single_threaded()
    return fn(task)


class Executor(ABC):
    """Runs ``fn`` on each task; yields ``(index, result)`` in completion order."""

    name: str = "executor"
    workers: int = 1

    @abstractmethod
    def map_unordered(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"


class LocalExecutor(Executor):
    """Local processes (``concurrent.futures``); ``workers=1`` runs in this process."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers if workers is not None else (os.cpu_count() or 1)))

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        if self.workers == 1 or len(tasks) <= 1:
            for i, t in enumerate(tasks):
                yield i, fn(t)
            return
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")  # fork after torch started its thread pools is unsafe
        with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=ctx) as pool:
            futs = {pool.submit(_run_task, fn, t): i for i, t in enumerate(tasks)}
            try:
                pending = set(futs)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        yield futs[f], f.result()
            finally:
                for f in futs:
                    f.cancel()


class RayExecutor(Executor):
    """Ray tasks; ``address=None`` starts (and later stops) a local Ray instance."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        ray = require_extra("ray", "ray")
        self._ray = ray
        self.address = address
        self._started_here = False
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
            if address is None:
                kw["num_cpus"] = max(1, int(workers if workers is not None else (os.cpu_count() or 1)))
                ray.init(**kw)
            else:
                ray.init(address=address, **kw)
            self._started_here = True
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def map_unordered(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        remote = ray.remote(num_cpus=1)(_run_task)
        refs = {remote.remote(fn, t): i for i, t in enumerate(tasks)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for r in done:
                    yield refs[r], ray.get(r)
        finally:
            for r in pending:
                ray.cancel(r)

    def describe(self) -> str:
        where = self.address or "local instance"
        return f"ray at {where} ({self.workers} CPUs)"

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
            self._started_here = False


def make_executor(ray: bool = False, address: str | None = None, workers: int | None = None) -> Executor:
    """The executor the CLI asks for: local processes unless ``ray`` (optionally at ``address``)."""
    if address is not None and not ray:
        raise ValueError("a cluster address needs --ray (e.g. --ray ray://host:10001)")
    if ray:
        return RayExecutor(address=address, workers=workers)
    return LocalExecutor(workers)


_KEY_RE = re.compile(r"[^A-Za-z0-9_.=+-]")


class ResultStore:
    """One JSON file per finished run in ``folder``; written atomically, read back to resume."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / (_KEY_RE.sub("_", key) + ".json")

    def has(self, key: str) -> bool:
        return self._path(key).exists()

    def get(self, key: str) -> Any:
        return json.loads(self._path(key).read_text())["result"]

    def put(self, key: str, result: Any) -> None:
        atomic_write_bytes(self._path(key), json.dumps({"key": key, "result": result}).encode())


def run_grid(executor: Executor, fn: Callable[[Any], Any], tasks: Mapping[str, Any],
             store: ResultStore | None = None,
             progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Run ``fn`` on every task not already in ``store``; return ``{key: result}`` for all tasks."""
    results: dict[str, Any] = {}
    todo: list[str] = []
    for key in tasks:
        if store is not None and store.has(key):
            results[key] = store.get(key)
        else:
            todo.append(key)
    total, done = len(tasks), len(results)
    if progress:
        progress(done, total, f"{done} of {total} runs already stored")
    for i, res in executor.map_unordered(fn, [tasks[k] for k in todo]):
        key = todo[i]
        results[key] = res
        if store is not None:
            store.put(key, res)
        done += 1
        if progress:
            progress(done, total, key)
    return {k: results[k] for k in tasks}
