"""Counterexamples of a robustness run as files: one JSON file per point, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memcap._util import atomic_write_bytes

__all__ = ["save_counterexamples"]


def save_counterexamples(rep: Any, folder: str | Path, ds: Any = None) -> list[Path]:
    """Write ``counterexample_IIIII.json`` for each counterexample of ``rep`` (a
    :class:`~memcap.certify.robust.RobustReport`) into ``folder`` (created if missing): the point,
    the counterexample z (decimal and exact float hex), its label and prediction, the ball; with
    ``ds``, each names the point's row in the user's data (``row``, which survives merged duplicates)."""
    out = Path(folder)
    paths = []
    for i, ce in sorted(rep.counterexamples.items()):
        d = ce.to_json()
        if ds is not None:
            d["row"] = int(ds.source_rows[i])
        d["z_hex"] = [float(v).hex() for v in ce.z]
        d.update({"radius": rep.radius, "norm": rep.norm})
        p = out / f"counterexample_{i:05d}.json"
        atomic_write_bytes(p, json.dumps(d, indent=1).encode())
        paths.append(p)
    return paths
