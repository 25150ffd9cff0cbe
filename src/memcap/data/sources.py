"""Dataset sources: user files (.npz, .csv), packaged data (``builtin:``) and generators (``gen:``).

A *source* is a string, shared by the API and the CLI:

* ``path/to/file.npz`` — arrays ``X`` and ``y`` (``task`` inferred: integer ``y`` is classification);
* ``path/to/file.csv`` — numeric columns, with a header row or not; ``label`` names the label column
  (header name or 0-based index; default: the last column);
* ``builtin:digits``, ``builtin:iris``, ``builtin:breast_cancer`` (scikit-learn), ``builtin:mnist1d``
  (the ``mnist1d`` package's offline generator; extra ``data``);
* ``gen:NAME?key=value&...`` with NAME in gaussian, line, sphere, hard (Theorem 3.3's dataset), e.g.
  ``gen:gaussian?n=1000&d=32&seed=0&task=classification&classes=10``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from memcap.data.dataset import DataError, Dataset, Task
from memcap.data.generators import GENERATORS

__all__ = ["load_dataset", "SOURCES_HELP"]

SOURCES_HELP = (
    "a .npz file (arrays X, y), a .csv file (label column via --label), builtin:digits, "
    "builtin:iris, builtin:breast_cancer, builtin:mnist1d, cifar10:DIR or svhn:DIR (local "
    "binary/.mat files, ?split=&n=), "
    "or gen:NAME?n=..&d=..&seed=..&task=.. with NAME in "
    + ", ".join(GENERATORS)
)


def load_dataset(source: str, label: str | int | None = None, task: Task | None = None,
                 limit: int | None = None) -> Dataset:
    """Load a :class:`Dataset` from a source string (see module docstring).

    ``task`` overrides the inferred task; ``limit`` keeps the first ``limit`` points.
    """
    if label is not None and not source.lower().endswith((".csv", ".txt")):
        raise DataError(f"a label column ({label!r}) applies to CSV files only, not to {source!r}")
    if source.startswith("builtin:"):
        X, y, inferred, name = _builtin(source.removeprefix("builtin:"))
    elif source.startswith("gen:"):
        return _generator(source.removeprefix("gen:"), task, limit)
    elif source.startswith(("cifar10:", "svhn:")):  # local archives (memcap.data.cifar)
        from memcap.data.cifar import load_source

        ds = load_source(source)
        return ds if limit is None else Dataset(ds.X[:limit], ds.y[:limit], task=ds.task, name=ds.name)
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"no such file: {source!r} (expected {SOURCES_HELP})")
        if not os.access(path, os.R_OK) or path.is_dir():
            raise DataError(f"cannot read {source!r}: not a readable file")
        suffix = path.suffix.lower()
        if suffix == ".npz":
            X, y, inferred = _npz(path)
        elif suffix in (".csv", ".txt"):
            X, y, inferred = _csv(path, label)
        else:
            raise DataError(f"unknown file type {suffix!r} for {source!r}; use .npz or .csv")
        name = path.name
    if limit is not None:
        X, y = X[:limit], y[:limit]
    return Dataset(X, y, task=task or inferred, name=name)


def _builtin(name: str) -> tuple[np.ndarray, np.ndarray, Task, str]:
    if name in ("digits", "iris", "breast_cancer"):
        from sklearn import datasets

        bunch = {"digits": datasets.load_digits, "iris": datasets.load_iris,
                 "breast_cancer": datasets.load_breast_cancer}[name]()
        return bunch.data.astype(np.float64), bunch.target, "classification", name
    if name == "mnist1d":
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError:
            raise DataError(
                "builtin:mnist1d needs the 'mnist1d' package: pip install 'memcap[data]'"
            ) from None
        args = get_dataset_args()
        data = make_dataset(args)  # generated locally from the package's templates, no download
        return np.asarray(data["x"], dtype=np.float64), np.asarray(data["y"]), "classification", name
    raise DataError(f"unknown builtin dataset {name!r}; available: digits, iris, breast_cancer, mnist1d")


def _generator(spec: str, task: Task | None, limit: int | None) -> Dataset:
    name, _, query = spec.partition("?")
    if name not in GENERATORS:
        raise DataError(f"unknown generator {name!r}; available: {', '.join(GENERATORS)}")
    kwargs: dict[str, Any] = {}
    for key, value in parse_qsl(query, strict_parsing=bool(query)):
        if key in ("n", "d", "seed", "classes", "d_y"):
            try:
                kwargs[key] = int(value)
            except ValueError:
                raise DataError(f"generator parameter {key}={value!r} must be an integer") from None
        elif key == "task":
            kwargs[key] = value
        else:
            raise DataError(f"unknown generator parameter {key!r} (use n, d, seed, task, classes, d_y)")
    if task is not None:
        kwargs["task"] = task
    if limit is not None:
        kwargs["n"] = min(kwargs.get("n", 100), limit)
    return GENERATORS[name](**kwargs)


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray, Task]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise DataError(f"{path} lacks array(s) {missing}; it has {z.files} (need X and y)")
            X, y = z["X"], z["y"]
    except DataError:
        raise
    except Exception as exc:  # zipfile / pickle refusal / corrupt file
        raise DataError(f"cannot read {path} as .npz: {exc}") from None
    task: Task = "classification" if y.dtype.kind in "iub" or y.dtype.kind in "USO" else "regression"
    return X, y, task


def _csv(path: Path, label: str | int | None) -> tuple[np.ndarray, np.ndarray, Task]:
    try:
        with open(path, newline="") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as CSV: {exc}") from None
    if not rows:
        raise DataError(f"{path} is empty")
    header: list[str] | None = None
    if not all(_is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = len(rows[0]) if rows else len(header or [])
    for k, r in enumerate(rows):
        if len(r) != width:
            raise DataError(f"{path}: row {k + 1} has {len(r)} fields, expected {width} (ragged CSV)")
    col = _label_column(label, header, width, path)
    y_raw = [r[col].strip() for r in rows]
    feats = [[c for j, c in enumerate(r) if j != col] for r in rows]
    try:
        X = np.array(feats, dtype=np.float64)
    except ValueError:
        raise DataError(f"{path}: feature columns must be numeric (label column is {col})") from None
    if all(_is_number(v) for v in y_raw):
        yf = np.array(y_raw, dtype=np.float64)
        integral = bool(np.all(np.isfinite(yf))) and bool(np.all(yf == np.round(yf)))
        if integral:
            return X, yf.astype(np.int64), "classification"
        return X, yf, "regression"
    return X, np.array(y_raw), "classification"


def _label_column(label: str | int | None, header: list[str] | None, width: int, path: Path) -> int:
    if label is None:
        return width - 1
    if header is not None and str(label) in header:
        return header.index(str(label))
    try:
        idx = int(label)
    except ValueError:
        raise DataError(
            f"{path}: label column {label!r} does not exist; columns are {header or list(range(width))}"
        ) from None
    if not -width <= idx < width:
        raise DataError(f"{path}: label column index {idx} out of range for {width} columns")
    return idx % width


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
