"""Resumable training checkpoints in a safe format: one ``.npz`` of plain arrays plus a JSON header.

No pickle anywhere: tensors are stored as numpy arrays (``np.load(..., allow_pickle=False)``), the
configuration and history as JSON. Written atomically (temporary file + rename), so an interrupted
write never leaves a broken checkpoint behind.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from memcap._util import atomic_write_bytes

__all__ = ["save_checkpoint", "load_checkpoint", "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 1
_HEADER = "__header__"


def save_checkpoint(path: str | os.PathLike[str], arrays: dict[str, np.ndarray], header: dict[str, Any]
                    ) -> None:
    """Write ``arrays`` (name -> numeric array) and a JSON-able ``header`` to ``path`` atomically."""
    doc = {"format": "memcap-train-checkpoint", "version": CHECKPOINT_VERSION, **header}
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in payload.items():
        if v.dtype == object:
            raise TypeError(f"checkpoint array {k!r} has dtype object; only numeric arrays are stored")
    payload[_HEADER] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **payload)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(arrays, header)``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        header = json.loads(arrays.pop(_HEADER).tobytes().decode())
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"cannot read {path} as a memcap training checkpoint ({exc}); delete it or "
                         "choose another --checkpoint path") from None
    if header.get("format") != "memcap-train-checkpoint" or header.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} is not a memcap training checkpoint of version {CHECKPOINT_VERSION}")
    return arrays, header
