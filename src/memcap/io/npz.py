"""Save / load networks as npz + JSON metadata (never pickle), written atomically.

A sparse layer's weight is stored as its CSR arrays (``.data`` float64, ``.indices`` / ``.indptr``
int64, ``.shape``) under kind ``"csr"`` and loads back sparse; files holding a sparse layer carry
format version 2 (dense-only files stay version 1, readable by older memcap).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import flint
import numpy as np

from memcap._util import atomic_write_bytes, check_output_path
from memcap.network import Activation, Dense, Network, Residual, is_sparse

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 2  # 2: sparse (CSR) layers; 1: dense only


def _encode(a: np.ndarray) -> tuple[np.ndarray, str]:
    if a.dtype == object:
        return np.array([str(v) for v in a.ravel()], dtype=np.str_).reshape(a.shape), "exact"
    return np.asarray(a, dtype=np.float64), "float64"


def _decode(a: np.ndarray, kind: str) -> np.ndarray:
    if kind == "exact":
        out = np.empty(a.shape, dtype=object)
        out.ravel()[:] = [flint.fmpq(*map(int, v.split("/"))) for v in a.ravel()]
        return out
    return np.asarray(a, dtype=np.float64)


def _read(z: Any, key: str, kind: str) -> Any:
    if kind != "csr":
        return _decode(z[key], kind)
    from scipy import sparse

    shape = tuple(int(v) for v in z[key + ".shape"])
    data, indices, indptr = z[key + ".data"], z[key + ".indices"], z[key + ".indptr"]
    if len(shape) != 2 or len(indptr) != shape[0] + 1 or len(indices) != len(data) or (
            len(indices) and (indices.min() < 0 or indices.max() >= shape[1])) or indptr[-1] != len(data):
        raise ValueError(f"inconsistent CSR arrays for {key}")
    return sparse.csr_matrix((np.asarray(data, np.float64), indices, indptr), shape=shape)


def save(net: Network, path: str | os.PathLike[str], overwrite: bool = True) -> None:
    """Save to a ``.npz`` holding the arrays and a JSON header (exact weights as 'p/q' strings),
    atomically; ``overwrite=False`` refuses an existing file (``OptionError``), as does a path that
    is not a regular file (a directory, a device)."""
    check_output_path(path, overwrite)  # before the work of encoding
    arrays: dict[str, np.ndarray] = {}
    layers_meta = []
    for i, layer in enumerate(net.layers):
        names = ["weight", "bias"] if isinstance(layer, Dense) else ["U", "b", "V", "c"]
        kinds = {}
        for name, arr in zip(names, layer.arrays(), strict=True):
            key = f"layer{i}.{name}"
            if is_sparse(arr):
                arrays[key + ".data"] = np.asarray(arr.data, dtype=np.float64)
                arrays[key + ".indices"] = np.asarray(arr.indices, dtype=np.int64)
                arrays[key + ".indptr"] = np.asarray(arr.indptr, dtype=np.int64)
                arrays[key + ".shape"] = np.asarray(arr.shape, dtype=np.int64)
                kinds[name] = "csr"
                continue
            enc, kind = _encode(arr)
            arrays[key] = enc
            kinds[name] = kind
        layers_meta.append({"type": type(layer).__name__, "activation": layer.activation.to_json(),
                            "arrays": kinds})
    version = FORMAT_VERSION if net.sparse else 1
    header = {"format": "memcap-network", "version": version, "layers": layers_meta,
              "meta": net.meta}
    arrays["__memcap__"] = np.array(json.dumps(header, default=str))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def load(path: str | os.PathLike[str]) -> Network:
    """Load a network written by :func:`save` (no pickle: arrays and JSON only)."""
    import zipfile

    if os.path.isfile(path):  # numpy's advice for a non-zip file is to "load it unsafely" with pickle
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic != b"PK":
            raise ValueError(f"cannot read {path} as a memcap network: it is "
                             f"{'empty' if not magic else 'not an .npz archive'}")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "__memcap__" not in z.files:
                raise ValueError(f"{path} is not a memcap network file (no __memcap__ header)")
            header = json.loads(str(z["__memcap__"]))
            if header.get("format") != "memcap-network":
                raise ValueError(f"{path}: unknown format {header.get('format')!r}")
            if header.get("version", 0) > FORMAT_VERSION:
                raise ValueError(f"{path} was written by a newer memcap (format {header['version']})")
            layers: list[Dense | Residual] = []
            for i, lm in enumerate(header["layers"]):
                act = Activation.from_json(lm["activation"])
                arrs = [_read(z, f"layer{i}.{n}", k) for n, k in lm["arrays"].items()]
                layers.append(Dense(*arrs, act) if lm["type"] == "Dense" else Residual(*arrs, act))
    except FileNotFoundError:
        raise FileNotFoundError(f"no such network file: {path}") from None
    except (OSError, KeyError, json.JSONDecodeError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, ValueError) and "memcap" in str(exc):
            raise
        raise ValueError(f"cannot read {path} as a memcap network: {exc}") from None
    return Network(layers, header.get("meta", {}))


# ---- PyTorch ----------------------------------------------------------------------------------
