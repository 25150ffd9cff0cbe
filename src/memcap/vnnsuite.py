"""Build a VNN-COMP benchmark suite with known answers (``memcap benchmark``).

For every data source and method: construct the network (memorization certified by
:func:`memcap.construct`), write it as a float32 (or float64) ONNX model (:func:`memcap.io.suite.suite_onnx`)
and read the weights back from the file, so every claim is about the stored model. For chosen points
``x_i`` and radii ``ρ = fraction·λ_D/2`` (λ_D in L∞, the data's smallest distance between differently
labelled points; with ``norm`` 1 or 2, λ_D and ρ in that norm and the box the largest one inside
the ball, half-width ``ρ·d^(-1/p)``), the instance asks whether some input of the box ``x_i ± ρ``
(end points rounded outward to the model's float type) gets a score ``Y_c >= Y_label``. Its answer
is decided by :func:`memcap.certify.robust.vnn.known_answer`:

* ``unsat`` — certified for every evaluation of the stored model in its float type (any summation
  order, FMA, flush-to-zero) and in exact arithmetic, with margin > VNN-COMP's tolerance on the box
  enlarged by that tolerance;
* ``sat`` — a witness in the box, confirmed by onnxruntime with zero tolerance and certified
  misclassified for every evaluation order. Past λ_D/2 the segment between x_i and a differently
  labelled x_j enters the box, and points on it near x_j (where the network is robust for x_j's
  label) are the candidates; an attack supplies others.

Instances whose answer is neither certified nor refuted are not written (their count is in
``suite.json``). The folder is written atomically as a whole (:func:`memcap.io.suite.write_tree`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memcap.errors import DataError, OptionError

__all__ = ["SuiteSpec", "build_suite", "write_suite"]


@dataclass
class SuiteSpec:
    """What to put in a suite (the CLI's flags)."""

    data: list[str]
    methods: list[str] = field(default_factory=lambda: ["yu-robust"])
    fractions: list[float] = field(default_factory=lambda: [0.5, 1.2])
    points: int = 5
    n: int | None = None                  # use a seeded subset of N points of each dataset
    budget: float = 0.9                   # robust methods: the construction's radius, fraction of λ_D/2
    norm: str = "inf"                     # the ball's norm (λ_D and the construction's); box = inscribed box
    dtype: str = "float32"
    vnnlib_version: int = 1
    timeout: float = 60.0
    seed: int = 0
    exact_time_limit: float = 60.0

    def check(self) -> None:
        if not self.data:
            raise OptionError("give at least one --data source")
        if not self.methods:
            raise OptionError("give at least one --method")
        if not self.fractions or any(not (np.isfinite(f) and f > 0) for f in self.fractions):
            raise OptionError(f"--fraction values must be finite and > 0, got {self.fractions}")
        if self.points < 1:
            raise OptionError(f"--points must be >= 1, got {self.points}")
        if self.n is not None and self.n < 2:
            raise OptionError(f"--n must be >= 2, got {self.n}")
        if not (0 < self.budget < 1):
            raise OptionError(f"--budget must be in (0, 1) (a fraction of λ_D/2), got {self.budget}")
        if self.dtype not in ("float32", "float64"):
            raise OptionError(f"--dtype must be float32 or float64, got {self.dtype!r}")
        if self.norm not in ("inf", "1", "2"):
            raise OptionError(f"--norm must be inf, 1 or 2, got {self.norm!r}")
        if self.vnnlib_version not in (1, 2):
            raise OptionError(f"--vnnlib-version must be 1 or 2, got {self.vnnlib_version}")
        if not (np.isfinite(self.timeout) and self.timeout > 0):
            raise OptionError(f"--timeout must be > 0 seconds, got {self.timeout}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "data"


def _subset(ds: Any, n: int | None, seed: int) -> Any:
    from memcap.data.dataset import Dataset

    if n is None or n >= ds.N:
        return ds
    idx = np.sort(np.random.default_rng(seed).choice(ds.N, n, replace=False))
    return Dataset(ds.X[idx], ds.y[idx], task=ds.task, name=f"{ds.name}[{n}]")


def _construct(ds: Any, method: str, budget: float, norm: str, seed: int) -> Any:
    import inspect

    from memcap.api import construct
    from memcap.constructions.registry import get_method

    params = inspect.signature(get_method(method).build).parameters
    opts: dict[str, Any] = {"seed": seed} if "seed" in params else {}
    if "budget" in params:
        opts["budget"] = budget
    if "norm" in params:
        opts["norm"] = norm
    elif norm != "inf":
        raise OptionError(f"{method} has no norm option; --norm {norm} needs a robust method (yu-robust)")
    return construct(ds, method, **opts)


def _hints(X: np.ndarray, labels: np.ndarray, i: int, rho: float, k: int = 3) -> list[np.ndarray]:
    """Points of x_i's box (half-width ``rho``) on the segments towards the nearest differently
    labelled points."""
    other = np.flatnonzero(labels != labels[i])
    d = np.max(np.abs(X[other] - X[i]), axis=1)
    out = []
    for j in other[np.argsort(d)[:k]]:
        dij = float(np.max(np.abs(X[j] - X[i])))
        if dij > 2 * rho:
            break
        for s in (min(1.0, rho / dij), min(1.0, 0.98 * rho / dij), 0.5):
            out.append(X[i] + s * (X[j] - X[i]))
    return out


def build_suite(spec: SuiteSpec, progress: Callable[[str], None] | None = None
                ) -> tuple[dict[str, bytes], dict[str, Any]]:
    """All files of the suite (relative path -> bytes) and its summary; nothing is written.

    Long: one loop over the suite's knobs (method × radius × norm) that writes instances and answers.
    """
    from memcap.certify.robust.floatmodel import float32_box
    from memcap.certify.robust.vnn import known_answer
    from memcap.data import load_dataset
    from memcap.io.suite import (
        ANSWER_FIELDS,
        CE_ATOL,
        _session,
        format_counterexample,
        network_from_onnx,
        read_property,
        robustness_vnnlib,
        suite_onnx,
    )

    spec.check()
    say = progress or (lambda _m: None)
    files: dict[str, bytes] = {}
    instances: list[str] = []
    answers: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    omitted: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for src in spec.data:
        ds = _subset(load_dataset(src), spec.n, spec.seed)
        if ds.task != "classification" or ds.d_y < 2:
            raise DataError(f"{src} is not classification data with >= 2 classes; robustness "
                            "properties are about class labels")
        X, labels = ds.X.astype(np.float64), ds.labels.astype(int)
        p = {"inf": np.inf, "1": 1, "2": 2}[spec.norm]
        lam = float(ds.separation(p))
        shrink = 1.0 if spec.norm == "inf" else float(ds.d_x) ** (-1.0 / p) * (1 - 2.0**-40)
        pts = np.sort(np.random.default_rng(spec.seed + 1).choice(ds.N, min(spec.points, ds.N),
                                                                   replace=False))
        for method in spec.methods:
            name = _slug(f"{ds.name}-{method}-n{ds.N}" + ("" if spec.norm == "inf" else f"-l{spec.norm}"))
            say(f"{name}: constructing")
            t0 = time.perf_counter()
            c = _construct(ds, method, spec.budget, spec.norm, spec.seed)
            model = suite_onnx(c.network, spec.dtype, name)
            net, dt = network_from_onnx(model)          # the weights as stored in the file
            sess = _session(model)
            onnx_rel = f"onnx/{name}.onnx"
            files[onnx_rel] = model
            models.append({"model": name, "data": src, "method": method, "N": ds.N, "d_x": ds.d_x,
                           "classes": ds.d_y, "norm": spec.norm, "lambda": lam, "depth": len(net.layers),
                           "widths": [L.out_dim for L in net.layers[:-1]],
                           "parameters": int(sum(L.weight.size + L.bias.size for L in net.layers)),
                           "theorem": c.certificate.theorem, "memorization_certified": True,
                           "promised_robustness": (c.network.meta or {}).get("robust"),
                           "build_seconds": time.perf_counter() - t0, "answer_seconds": 0.0})
            for f in spec.fractions:
                rho = f * lam / 2
                h = rho * shrink    # half-width of the largest box inside the ball
                for i in pts:
                    y = int(labels[i])
                    lo, hi = float32_box(np.nextafter(X[i] - h, -np.inf), np.nextafter(X[i] + h, np.inf),
                                         spec.dtype)
                    inst = f"{name}_p{int(i)}_r{f:g}".replace(".", "p")
                    say(f"{inst}: deciding")
                    d = known_answer(net, model, lo, hi, y, dt, _hints(X, labels, int(i), h), CE_ATOL,
                                     seed=spec.seed, time_limit=spec.exact_time_limit, session=sess)
                    models[-1]["answer_seconds"] += d.seconds
                    base = {"instance": inst, "model": name, "data": src, "method": method, "point": int(i),
                            "label": y, "radius": rho, "radius_fraction": f, "norm": spec.norm,
                            "box_halfwidth": h}
                    if d.answer == "unknown":
                        omitted.append({**base, "margin_bound": d.margin, "seconds": d.seconds})
                        continue
                    note = (f"memcap benchmark: {inst}\nmodel {name} ({method} on {src}), point {int(i)}, "
                            f"label {y}, L{spec.norm} radius {rho!r} = {f:g}*lambda_D/2, box half-width "
                            f"{h!r} (end points rounded outward to the model's float type)")
                    text = robustness_vnnlib(lo, hi, y, net.out_dim, spec.vnnlib_version, spec.dtype, note)
                    vnn_rel = f"vnnlib/{inst}.vnnlib"
                    _check_parse_back(read_property, text, lo, hi, y, net.out_dim, inst)
                    files[vnn_rel] = text.encode()
                    wit_rel = ""
                    if d.answer == "sat":
                        wit_rel = f"witnesses/{inst}.counterexample"
                        files[wit_rel] = ("sat\n" + format_counterexample(d.witness, d.outputs)).encode()
                    instances.append(f"{onnx_rel},{vnn_rel},{spec.timeout:g}")
                    answers.append({**base, "onnx": onnx_rel, "vnnlib": vnn_rel, "answer": d.answer,
                                    "witness": wit_rel, "certified_in": _arith(spec.dtype, d.answer),
                                    "certified_by": d.by, "margin_bound": repr(float(d.margin))
                                    if d.margin is not None else ""})
    if not instances:
        raise OptionError("no instance has a known answer (every one was undecided); try other "
                          "--fraction values or a smaller --n")
    files["instances.csv"] = ("\n".join(instances) + "\n").encode()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=ANSWER_FIELDS, lineterminator="\n")
    w.writeheader()
    for a in answers:
        w.writerow({k: a.get(k, "") for k in ANSWER_FIELDS})
    files["answers.csv"] = buf.getvalue().encode()
    summary = {
        "generator": "memcap benchmark", "spec": spec.__dict__, "models": models,
        "instances": len(answers), "sat": sum(a["answer"] == "sat" for a in answers),
        "unsat": sum(a["answer"] == "unsat" for a in answers), "omitted_unknown": omitted,
        "tolerance": {"atol": CE_ATOL, "note": "unsat answers hold on the box enlarged by atol with "
                      "margin > atol, so no witness VNN-COMP's tolerant check accepts exists"},
        "arithmetic": "unsat: certified for the stored model evaluated in exact arithmetic and in "
                      f"{spec.dtype} in any summation order (FMA, flush-to-zero included); sat: the witness "
                      "is misclassified by onnxruntime and by every such evaluation",
        "seconds": time.perf_counter() - t_start,
    }
    files["suite.json"] = json.dumps(summary, indent=1, default=str).encode()
    return files, summary


def _arith(dtype: str, answer: str) -> str:
    return f"{dtype} any order + exact" if answer == "unsat" else f"onnxruntime; {dtype} any order + exact"


def _check_parse_back(read_property: Any, text: str, lo: np.ndarray, hi: np.ndarray, label: int,
                      n_out: int, inst: str) -> None:
    """Parse the written property back (VNN-LIB 2.0: with the reference parser) and compare."""
    p = read_property(text, n_out)
    if not (np.array_equal(p.lo, lo) and np.array_equal(p.hi, hi)) or p.label != label or \
            len(p.unsafe) != n_out - 1:
        raise RuntimeError(f"{inst}: the written VNN-LIB file does not parse back to its box and label "
                           "(a bug in memcap's writer)")


def write_suite(spec: SuiteSpec, out: str | Path, force: bool = False,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build the suite and write it atomically as the folder ``out``."""
    from memcap.io.suite import write_tree

    out = Path(out)
    if out.exists() and not force:   # refuse before the (long) build
        raise OptionError(f"{out} exists; choose a new folder or pass --force to replace it whole")
    files, summary = build_suite(spec, progress)
    write_tree(files, out, force=force)
    return summary


def merge_suites(parts: list[tuple[dict[str, bytes], dict[str, Any]]]) -> dict[str, bytes]:
    """One suite's files from several :func:`build_suite` results (e.g. one per dataset, each with
    its own N and methods): instances and answers concatenated, model and property files united
    (a name clash is refused), ``suite.json`` listing every part."""
    files: dict[str, bytes] = {}
    inst: list[bytes] = []
    ans: list[bytes] = []
    for f, _ in parts:
        for k, v in f.items():
            if k == "instances.csv":
                inst.append(v)
            elif k == "answers.csv":
                head, _, body = v.partition(b"\n")
                ans.append(body if ans else v)
            elif k != "suite.json":
                if k in files and files[k] != v:
                    raise OptionError(f"two parts of the suite write different files named {k}")
                files[k] = v
    files["instances.csv"] = b"".join(inst)
    files["answers.csv"] = b"".join(ans)
    files["suite.json"] = json.dumps({"generator": "memcap.vnnsuite.merge_suites",
                                      "instances": sum(s["instances"] for _, s in parts),
                                      "parts": [s for _, s in parts]}, indent=1, default=str).encode()
    return files
