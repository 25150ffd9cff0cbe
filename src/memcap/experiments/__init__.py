"""Named experiments: each paper's experiments as resumable sweeps, run locally or on a Ray cluster.

An experiment is a function registered under a stable name::

    @register_experiment("zhang21-synthetic", description="...", paper="Zhang et al. 2021, Fig. 4")
    def synthetic(ctx: ExperimentContext) -> ExperimentResult: ...

It receives an :class:`ExperimentContext` (profile name, output folder, the grid executor from
:mod:`memcap.experiments.executor`, a progress callback) and returns an :class:`ExperimentResult`:
plain tables (title, columns, rows) the CLI prints, notes, and the files it wrote (JSON/CSV/PNG).
Experiments are resumable: finished grid runs are stored in the output folder
(:class:`memcap.experiments.executor.ResultStore`) and skipped on the next call.

Modules listed in ``EXPERIMENT_MODULES`` are imported on first use (add one line per module, only
once it works). ``memcap experiment NAME`` (src/memcap/cli/experiment.py) dispatches by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EXPERIMENTS", "EXPERIMENT_MODULES", "Experiment", "ExperimentContext", "ExperimentResult",
           "Table", "register_experiment", "get_experiment", "load_experiments", "PROFILES"]

#: profiles every experiment understands; "test" is an even smaller scale used by the test suite
PROFILES: tuple[str, ...] = ("quick", "full", "test")

#: modules under memcap.experiments that register experiments
EXPERIMENT_MODULES: list[str] = ["zhang2021", "yun2019_sgd", "park2021"]


@dataclass
class Table:
    """A plain table: printed by the CLI, saved as CSV by :func:`ExperimentResult.save_tables`."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class ExperimentContext:
    profile: str
    out_dir: Path
    executor: Any  # memcap.experiments.executor.Executor
    progress: Callable[[str], None] = lambda _msg: None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExperimentResult:
    name: str
    profile: str
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write ``result.json`` and one CSV per table into ``out_dir`` (atomically); return the paths."""
        import csv
        import io
        import json
        import re

        from memcap._util import atomic_write_bytes

        out = Path(out_dir)
        written: list[Path] = []
        for i, t in enumerate(self.tables):
            slug = re.sub(r"[^a-z0-9]+", "-", t.title.lower()).strip("-")[:40] or f"table{i}"
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(t.columns)
            w.writerows(t.rows)
            path = out / f"table{i:02d}-{slug}.csv"
            atomic_write_bytes(path, buf.getvalue().encode())
            written.append(path)
        doc = {"name": self.name, "profile": self.profile, "summary": self.summary, "notes": self.notes,
               "tables": [{"title": t.title, "columns": t.columns, "rows": t.rows} for t in self.tables],
               "files": [str(f) for f in [*self.files, *written]]}
        path = out / "result.json"
        atomic_write_bytes(path, json.dumps(doc, indent=1, default=str).encode())
        return [*written, path]


@dataclass(frozen=True)
class Experiment:
    name: str
    run: Callable[[ExperimentContext], ExperimentResult]
    description: str
    paper: str
    profiles: tuple[str, ...]
    #: the ``-O KEY=VALUE`` options ``run`` reads from ``ctx.options`` (others are refused)
    options: tuple[str, ...] = ()


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, *, description: str, paper: str = "",
                        profiles: tuple[str, ...] = PROFILES, options: tuple[str, ...] = ()
                        ) -> Callable[[Callable[[ExperimentContext], ExperimentResult]],
                                      Callable[[ExperimentContext], ExperimentResult]]:
    """Register ``fn(ctx) -> ExperimentResult`` under a stable ``name``; ``options`` names the keys of
    ``ctx.options`` it reads (the CLI refuses any other ``-O KEY=VALUE``)."""

    def deco(fn: Callable[[ExperimentContext], ExperimentResult]
             ) -> Callable[[ExperimentContext], ExperimentResult]:
        if name in EXPERIMENTS and EXPERIMENTS[name].run is not fn:
            raise ValueError(f"experiment {name!r} is registered twice")
        EXPERIMENTS[name] = Experiment(name, fn, description, paper, tuple(profiles), tuple(options))
        return fn

    return deco


def load_experiments() -> dict[str, Experiment]:
    for mod in EXPERIMENT_MODULES:
        importlib.import_module(f"memcap.experiments.{mod}")
    return EXPERIMENTS


def get_experiment(name: str) -> Experiment:
    exps = load_experiments()
    if name not in exps:
        known = ", ".join(sorted(exps)) or "(none registered)"
        raise KeyError(f"unknown experiment {name!r}; known experiments: {known}")
    return exps[name]
