"""Dataset sources: user files (.npz, .csv), packaged data (``builtin:``) and generators (``gen:``).

A *source* is a string, shared by the API and the CLI:

* ``path/to/file.npz`` — arrays ``X`` and ``y`` (``task`` inferred: integer ``y`` is classification);
* ``path/to/file.csv`` — numeric columns, with a header row or not; ``label`` names the label column
  (header name or 0-based index; default: the last column);
* ``builtin:digits``, ``builtin:iris``, ``builtin:wine``, ``builtin:breast_cancer`` (scikit-learn),
  ``builtin:mnist1d`` (the ``mnist1d`` package's offline generator; extra ``data``);
* ``gen:NAME?key=value&...`` with NAME in gaussian, line, sphere, hard (Theorem 3.3's dataset), e.g.
  ``gen:gaussian?n=1000&d=32&seed=0&task=classification&classes=10``.
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from memcap.data.dataset import DataError, Dataset, Task
from memcap.data.generators import GENERATORS

__all__ = ["load_dataset", "SOURCES_HELP"]

SOURCES_HELP = (
    "a .npz file (arrays X, y), a .csv file (label column via --label), builtin:digits, "
    "builtin:iris, builtin:wine, builtin:breast_cancer, builtin:mnist1d, cifar10:DIR or svhn:DIR (local "
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
    extra: dict[str, Any] = {}
    if source.startswith("builtin:"):
        X, y, inferred, name, names = _builtin(source.removeprefix("builtin:"))
        if names is not None and (task or inferred) == "classification":
            extra["class_names"] = names
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
            X, y, inferred, col, rows = _csv(path, label)
            extra["label_column"] = col
            extra["source_rows"] = rows
        else:
            raise DataError(f"unknown file type {suffix!r} for {source!r}; use .npz or .csv")
        name = path.name
    if limit is not None:
        X, y = X[:limit], y[:limit]
        if "source_rows" in extra:
            extra["source_rows"] = extra["source_rows"][:limit]
    return Dataset(X, y, task=task or inferred, name=name, **extra)


def _builtin(name: str) -> tuple[np.ndarray, np.ndarray, Task, str, list[str] | None]:
    if name in ("digits", "iris", "wine", "breast_cancer"):
        from sklearn import datasets

        load = {"digits": datasets.load_digits, "iris": datasets.load_iris, "wine": datasets.load_wine,
                "breast_cancer": datasets.load_breast_cancer}
        bunch = load[name]()
        names = [str(n) for n in bunch.target_names]
        return bunch.data.astype(np.float64), bunch.target, "classification", name, names
    if name == "mnist1d":
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError:
            raise DataError(
                "builtin:mnist1d needs the 'mnist1d' package: pip install 'memcap[data]'"
            ) from None
        args = get_dataset_args()
        data = make_dataset(args)  # generated locally from the package's templates, no download
        return np.asarray(data["x"], dtype=np.float64), np.asarray(data["y"]), "classification", name, None
    raise DataError(f"unknown builtin dataset {name!r}; available: digits, iris, wine, breast_cancer, "
                    "mnist1d")


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
            if kwargs[key] < (0 if key == "seed" else 1):
                raise DataError(f"generator parameter {key}={value!r} must be "
                                f"{'≥ 0' if key == 'seed' else 'a positive integer'}")
        elif key == "task":
            kwargs[key] = value
        else:
            raise DataError(f"unknown generator parameter {key!r} (use n, d, seed, task, classes, d_y)")
    if task is not None:
        kwargs["task"] = task
    if limit is not None:
        kwargs["n"] = min(kwargs.get("n", 100), limit)
    _check_generator_size(name, kwargs)
    return GENERATORS[name](**kwargs)


#: the largest array a generator is asked to allocate (points x coordinates x 8 bytes)
MAX_GENERATED_BYTES = 4 * 2**30


def _check_generator_size(name: str, kwargs: dict[str, Any]) -> None:
    """Refuse, before allocating, a generated X larger than :data:`MAX_GENERATED_BYTES`."""
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(GENERATORS[name]).parameters.items()}
    n, d = kwargs.get("n", defaults.get("n", 100)), kwargs.get("d", defaults.get("d", 1))
    need = 8 * n * (d + kwargs.get("d_y", 1))
    if need > MAX_GENERATED_BYTES:
        raise DataError(f"gen:{name} with n={n}, d={d} would need about {need / 2**30:.3g} GiB "
                        f"(n·(d+d_y)·8 bytes); the limit is {MAX_GENERATED_BYTES / 2**30:g} GiB: "
                        "ask for fewer points or dimensions")


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray, Task]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise DataError(f"{path} lacks array(s) {missing}; it has {z.files} (need X and y)")
            X, y = z["X"], z["y"]
    except DataError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:  # pickle refusal: ValueError
        raise DataError(f"cannot read {path} as .npz: {exc}") from None
    task: Task = "classification" if y.dtype.kind in "iub" or y.dtype.kind in "USO" else "regression"
    return X, y, task


_DELIMITERS = (",", ";", "\t", "|")


def _split(lines: list[str], delim: str) -> list[list[str]]:
    return [r for r in csv.reader(lines, delimiter=delim) if r and any(c.strip() for c in r)]


def _delimiter(lines: list[str], path: Path) -> str:
    """The delimiter that splits the first lines into equally many (> 1) fields (comma first, then
    the one giving most fields); else the first that splits the first line at all (a ragged file is
    then reported as such)."""
    sample = [ln for ln in lines if ln.strip()][:50]
    counts = {}
    for d in _DELIMITERS:
        widths = {len(r) for r in _split(sample, d)}
        if len(widths) == 1 and min(widths) > 1:
            counts[d] = min(widths)
    if "," in counts:
        return ","
    if counts:
        return max(counts, key=lambda d: counts[d])
    for d in _DELIMITERS:
        if len(_split(sample[:1], d)[0]) > 1:
            return d
    raise DataError(f"{path}: every line has a single field (tried the delimiters comma, semicolon, tab "
                    "and '|'); a CSV needs feature columns and a label column, separated consistently")


def _has_header(first: list[str], rest: list[list[str]]) -> bool:
    """A first row is a header when it has a non-number in a column that holds numbers in every
    other row (string labels alone do not make a header), or when it holds no number at all."""
    if all(not _is_number(c) for c in first):
        return True
    for j, c in enumerate(first):
        if not _is_number(c) and rest and all(j < len(r) and _is_number(r[j]) for r in rest):
            return True
    return False


def _csv(path: Path, label: str | int | None
         ) -> tuple[np.ndarray, np.ndarray, Task, str | int, np.ndarray]:
    try:
        with open(path, newline="") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as CSV: {exc}") from None
    if not any(ln.strip() for ln in lines):
        raise DataError(f"{path} is empty")
    delim = _delimiter(lines, path)
    rows = _split(lines, delim)
    header: list[str] | None = None
    if _has_header(rows[0], rows[1:]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise DataError(f"{path} has a header row ({', '.join(header or [])}) but no data rows")
    width = len(rows[0]) if rows else len(header or [])
    for k, r in enumerate(rows):
        if len(r) != width:
            raise DataError(f"{path}: data row {k} has {len(r)} fields, expected {width} (ragged CSV; "
                            f"delimiter {delim!r})")
    if header is not None and len(header) != width:
        raise DataError(f"{path}: the header has {len(header)} fields but the data rows have {width}")
    col = _label_column(label, header, width, path)
    y_raw = [r[col].strip() for r in rows]
    feats = [[c for j, c in enumerate(r) if j != col] for r in rows]
    try:
        X = np.array(feats, dtype=np.float64)
    except ValueError:
        bad = next((k, c) for k, r in enumerate(feats) for c in r if not _is_number(c))
        raise DataError(f"{path}: feature columns must be numeric (label column is {col}, delimiter "
                        f"{delim!r}); data row {bad[0]} has {bad[1].strip()!r}") from None
    name: str | int = header[col] if header is not None else col
    source_rows = np.arange(len(rows))
    if all(_is_number(v) for v in y_raw):
        yf = np.array(y_raw, dtype=np.float64)
        integral = bool(np.all(np.isfinite(yf))) and bool(np.all(yf == np.round(yf)))
        if integral:
            return X, yf.astype(np.int64), "classification", name, source_rows
        return X, yf, "regression", name, source_rows
    return X, np.array(y_raw), "classification", name, source_rows


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
