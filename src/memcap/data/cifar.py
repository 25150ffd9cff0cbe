"""Local CIFAR-10 and SVHN files in their standard archive formats (no download, no pickle).

* CIFAR-10, **binary version** (``cifar-10-binary.tar.gz`` unpacked: ``cifar-10-batches-bin/``
  with ``data_batch_1.bin`` … ``data_batch_5.bin`` and ``test_batch.bin``): records of 1 label byte +
  3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32×32). The *python* version of CIFAR-10
  (``data_batch_1`` without extension) is a pickle; memcap never unpickles user files, so it is refused
  with a message pointing to the binary version.
* SVHN cropped digits (``train_32x32.mat``, ``test_32x32.mat``): MATLAB files read with
  ``scipy.io.loadmat``; ``X`` is (32, 32, 3, n), ``y`` is (n, 1) with label 10 meaning digit 0.

:func:`load_images` returns uint8 images (n, 3, 32, 32) and int labels; :func:`load_source` serves the
data-source strings ``cifar10:DIR[?split=train|test&n=..]`` and ``svhn:DIR[?...]`` (flattened to
[0, 1] features) for :func:`memcap.data.load_dataset`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

from memcap.data.dataset import DataError, Dataset

__all__ = ["load_images", "load_source", "CIFAR_TRAIN", "CIFAR_TEST", "SVHN_FILES"]

CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST = ["test_batch.bin"]
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
_RECORD = 1 + 3072


def _cifar_dir(root: Path) -> Path:
    for cand in (root, root / "cifar-10-batches-bin"):
        if (cand / "test_batch.bin").exists() or (cand / "data_batch_1.bin").exists():
            return cand
    for cand in (root, root / "cifar-10-batches-py"):
        if (cand / "data_batch_1").exists():
            raise DataError(
                f"{cand} holds the CIFAR-10 *python* version (pickled batches); memcap does not unpickle "
                "files. Use the binary version: cifar-10-binary.tar.gz, unpacked to a folder with "
                "data_batch_1.bin … data_batch_5.bin and test_batch.bin")
    raise DataError(
        f"no CIFAR-10 binary batches in {root}: expected data_batch_1.bin … data_batch_5.bin and "
        "test_batch.bin (from cifar-10-binary.tar.gz, folder cifar-10-batches-bin)")


def _read_cifar(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for f in files:
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size == 0 or raw.size % _RECORD:
            raise DataError(f"{f} is not a CIFAR-10 binary batch: {raw.size} bytes is not a multiple of "
                            f"{_RECORD} (1 label byte + 3072 pixel bytes per image)")
        rec = raw.reshape(-1, _RECORD)
        if rec[:, 0].max() > 9:
            raise DataError(f"{f}: label byte {int(rec[:, 0].max())} > 9; not a CIFAR-10 binary batch")
        ys.append(rec[:, 0].astype(np.int64))
        xs.append(rec[:, 1:].reshape(-1, 3, 32, 32))
    return np.concatenate(xs), np.concatenate(ys)


def _read_svhn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        m = loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError, MatReadError) as exc:  # non-MATLAB files
        raise DataError(f"cannot read {path} as an SVHN .mat file: {exc}") from None
    if "X" not in m or "y" not in m:
        raise DataError(f"{path} has no X/y arrays; expected SVHN's {', '.join(SVHN_FILES.values())}")
    X, y = np.asarray(m["X"]), np.asarray(m["y"]).ravel().astype(np.int64)
    if X.ndim != 4 or X.shape[:3] != (32, 32, 3) or X.shape[3] != len(y):
        raise DataError(f"{path}: X has shape {X.shape}, expected (32, 32, 3, n) with n = {len(y)}")
    y[y == 10] = 0
    return np.transpose(X, (3, 2, 0, 1)).astype(np.uint8), y


def load_images(name: str, root: str | Path, split: str = "train", limit: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3, 32, 32) uint8 and labels of ``cifar10`` or ``svhn`` from the folder ``root``."""
    root = Path(root).expanduser()
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    if not root.exists():
        raise DataError(f"no such folder: {root}")
    if name == "cifar10":
        d = _cifar_dir(root)
        files = [d / f for f in (CIFAR_TRAIN if split == "train" else CIFAR_TEST)]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise DataError(f"CIFAR-10 binary batch(es) missing in {d}: {', '.join(missing)}")
        X, y = _read_cifar(files)
    elif name == "svhn":
        path = root / SVHN_FILES[split] if root.is_dir() else root
        if not path.exists():
            raise DataError(f"no SVHN file {path}: expected {SVHN_FILES[split]} (cropped digits, "
                            "format 2) in that folder")
        X, y = _read_svhn(path)
    else:
        raise DataError(f"unknown image dataset {name!r}; use cifar10 or svhn")
    if limit is not None:
        X, y = X[:limit], y[:limit]
    return X, y


def load_source(source: str) -> Dataset:
    """``cifar10:DIR?split=train&n=2000`` or ``svhn:DIR?...`` as a flattened [0, 1] Dataset."""
    name, _, rest = source.partition(":")
    path, _, query = rest.partition("?")
    q = {k: v[-1] for k, v in parse_qs(query).items()}
    unknown = set(q) - {"split", "n"}
    if unknown:
        raise DataError(f"unknown option(s) {sorted(unknown)} in {source!r}; use split= and n=")
    n = int(q["n"]) if "n" in q else None
    X, y = load_images(name, path, q.get("split", "train"), n)
    return Dataset(X.reshape(len(X), -1).astype(np.float64) / 255.0, y, task="classification",
                   name=f"{name}[{q.get('split', 'train')}{'' if n is None else f':{n}'}]")
