"""VNN-COMP-style benchmark suites: the files, their known answers, and a scorer.

A *suite* is a folder a VNN-COMP verifier runs unchanged:

* ``instances.csv`` — one line ``onnx/NAME.onnx,vnnlib/NAME.vnnlib,TIMEOUT`` per instance, paths
  relative to the folder, no header (VNN-COMP's convention);
* ``onnx/*.onnx`` — opset 13, nodes Gemm and Relu only, input ``input`` of shape ``[1, d]``, output
  ``output`` of shape ``[1, classes]``, float32 (or float64) tensors (:func:`suite_onnx`);
* ``vnnlib/*.vnnlib`` — one robustness property per file: the input box and the *unsafe* output set
  ``OR_{c != label} Y_c >= Y_label``, in VNN-LIB 1.0 or 2.0 (:func:`robustness_vnnlib`), every file
  parsed back after writing (2.0: with the reference parser, the ``vnnlib`` package);
* ``answers.csv`` — every instance's known answer (``unsat`` = robust, ``sat`` = a counterexample
  exists) with the witness file of each ``sat`` one, and ``suite.json`` — how the suite was made
  and in which arithmetic each answer is certified;
* ``witnesses/*.counterexample`` — VNN-COMP result files (``sat`` then ``((X_0 v) ... (Y_0 v) ...)``).

Result files of a verifier (first line ``sat``/``unsat``/``timeout``/``unknown``/``error``; older
``holds``/``violated`` accepted) are scored by :func:`score_suite` against the known answers; every
``sat`` witness is re-run in onnxruntime with VNN-COMP's tolerances (:data:`CE_ATOL`, :data:`CE_RTOL`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memcap._util import require_extra
from memcap.errors import DataError, OptionError
from memcap.network import IDENTITY, RELU, Dense, Network

__all__ = ["suite_onnx", "network_from_onnx", "ort_outputs", "robustness_vnnlib", "read_property",
           "Property", "format_counterexample", "parse_result", "check_witness", "WitnessCheck",
           "write_tree", "read_instances", "read_answers", "score_suite", "ScoreReport", "CE_ATOL",
           "CE_RTOL", "ANSWER_FIELDS", "OPSET", "result_name"]

OPSET = 13
#: VNN-COMP's counterexample tolerances (the competition's scoring scripts, 2022-2026): a witness
#: may leave the input box and miss the unsafe set by CE_ATOL; the outputs it states must match
#: onnxruntime's to a relative CE_RTOL (the ∞-norm of the difference over that of the stated outputs)
CE_ATOL = 1e-4
CE_RTOL = 1e-3
ANSWER_FIELDS = ["instance", "onnx", "vnnlib", "answer", "witness", "certified_in", "certified_by",
                 "margin_bound", "model", "data", "method", "point", "label", "radius",
                 "radius_fraction", "norm", "box_halfwidth"]
_STATUSES = {"sat": "sat", "violated": "sat", "unsat": "unsat", "holds": "unsat", "timeout": "timeout",
             "unknown": "unknown", "error": "error"}


# ---- ONNX ----------------------------------------------------------------------------------------
def _np_dtype(name: str) -> Any:
    if name == "float32":
        return np.float32
    if name == "float64":
        return np.float64
    raise OptionError(f"the ONNX dtype must be float32 or float64, got {name!r}")


def suite_onnx(net: Network, dtype: str = "float32", name: str = "memcap") -> bytes:
    """An ONNX model (opset 13; Gemm and Relu nodes only; batch 1) computing ``net`` with its weights
    rounded to ``dtype``. Only dense layers with ReLU or identity activations can be written."""
    onnx = require_extra("onnx", "onnx")
    from onnx import TensorProto, helper, numpy_helper

    from memcap.certify.robust.floatmodel import dense_relu_only, round_network

    if (why := dense_relu_only(net)) is not None:
        raise OptionError(f"a suite model must be Gemm/Relu only: {why}; choose a method whose "
                          "networks are dense ReLU networks (e.g. yu-robust, yun-3layer)")
    np_dt = _np_dtype(dtype)
    onnx_dt = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    rounded = round_network(net, dtype)
    nodes, inits = [], []
    h = "input"
    last = len(rounded.layers) - 1
    for k, L in enumerate(rounded.layers):
        W = numpy_helper.from_array(L.weight.astype(np_dt), f"W{k}")
        b = numpy_helper.from_array(L.bias.astype(np_dt), f"b{k}")
        inits += [W, b]
        relu = L.activation.kind != "identity"
        z = "output" if k == last and not relu else f"z{k}"
        nodes.append(helper.make_node("Gemm", [h, f"W{k}", f"b{k}"], [z], transB=1, name=f"gemm{k}"))
        h = z
        if relu:
            a = "output" if k == last else f"a{k}"
            nodes.append(helper.make_node("Relu", [z], [a], name=f"relu{k}"))
            h = a
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", onnx_dt, [1, net.in_dim])],
        [helper.make_tensor_value_info("output", onnx_dt, [1, net.out_dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="memcap")
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def network_from_onnx(model: bytes) -> tuple[Network, str]:
    """The network an ONNX model computes, with exactly its stored weights (as float64 arrays), and
    the model's float type. Reads chains of Gemm (alpha = beta = 1) or MatMul (+ Add of a constant),
    Relu and Flatten on a batch-1 input; anything else is refused."""
    onnx = require_extra("onnx", "onnx")
    from onnx import numpy_helper

    m = onnx.load_from_string(model)
    g = m.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    ins = [i for i in g.input if i.name not in consts]
    if len(ins) != 1 or len(g.output) != 1:
        raise DataError("the ONNX model must have one input and one output")
    elem = ins[0].type.tensor_type.elem_type
    dtype = {1: "float32", 11: "float64"}.get(elem)
    if dtype is None:
        raise DataError(f"the ONNX input has element type {elem}; float32 or float64 expected")
    cur = ins[0].name
    layers: list[Dense] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None   # an affine map not yet closed by an activation

    def close(act: Any) -> None:
        nonlocal pending
        assert pending is not None
        layers.append(Dense(pending[0], pending[1], act))
        pending = None

    for n in g.node:
        if n.op_type == "Constant":
            continue
        if not n.input or n.input[0] != cur:
            raise DataError(f"ONNX node {n.name or n.op_type} does not continue the chain (supported: "
                            "a single chain of Gemm/MatMul/Add/Relu/Flatten)")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Flatten":
            pass
        elif n.op_type in ("Gemm", "MatMul"):
            if pending is not None:
                close(IDENTITY)
            B = consts[n.input[1]].astype(np.float64)
            if n.op_type == "Gemm":
                if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
                    raise DataError("Gemm with alpha/beta != 1 or transA is not supported")
                W = B if attrs.get("transB", 0) else B.T
                bias = consts[n.input[2]].astype(np.float64).reshape(-1) if len(n.input) > 2 else \
                    np.zeros(W.shape[0])
            else:
                W, bias = B.T, np.zeros(B.shape[1])
            pending = (np.ascontiguousarray(W), bias)
        elif n.op_type == "Add":
            other = n.input[1]
            if pending is None or other not in consts:
                raise DataError("Add is supported only as the bias of a MatMul")
            pending = (pending[0], pending[1] + consts[other].astype(np.float64).reshape(-1))
        elif n.op_type == "Relu":
            if pending is None:
                raise DataError("Relu must follow an affine map")
            close(RELU)
        else:
            raise DataError(f"unsupported ONNX operator {n.op_type} (supported: Gemm, MatMul, Add, "
                            "Relu, Flatten)")
        cur = n.output[0]
    if pending is not None:
        close(IDENTITY)
    if cur != g.output[0].name or not layers:
        raise DataError("the ONNX graph's chain does not end at its output")
    return Network(layers, {"source": "onnx"}), dtype


def _session(model: bytes) -> Any:
    ort = require_extra("onnxruntime", "onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def ort_outputs(model: bytes, X: np.ndarray, session: Any = None) -> np.ndarray:
    """onnxruntime's outputs (float64 copies) for each row of ``X`` (cast to the input's type)."""
    sess = session or _session(model)
    inp = sess.get_inputs()[0]
    dt = np.float32 if inp.type == "tensor(float)" else np.float64
    X = np.atleast_2d(np.asarray(X, np.float64))
    return np.concatenate([sess.run(None, {inp.name: X[i:i + 1].astype(dt)})[0].reshape(1, -1)
                           for i in range(len(X))]).astype(np.float64)


# ---- VNN-LIB -------------------------------------------------------------------------------------
def _num(v: float) -> str:
    s = np.format_float_positional(float(v), unique=True, trim="0")
    return s + "0" if s.endswith(".") else s


def robustness_vnnlib(lo: np.ndarray, hi: np.ndarray, label: int, n_out: int, version: int = 1,
                      dtype: str = "float32", comment: str = "") -> str:
    """A VNN-LIB robustness property: input in ``[lo, hi]`` and the unsafe set
    ``OR_{c != label} Y_c >= Y_label`` (a tie counts as unsafe; unsat = robust). The box end points
    are written exactly (shortest round-trip decimals of the float64 values)."""
    lo = np.asarray(lo, np.float64)
    hi = np.asarray(hi, np.float64)
    if n_out < 2 or not 0 <= label < n_out:
        raise OptionError(f"a robustness property needs >= 2 classes and a label in range, got "
                          f"{label}/{n_out}")
    head = [f"; {line}" for line in comment.splitlines()]
    others = [c for c in range(n_out) if c != label]
    if version == 1:
        lines = head + [""] + [f"(declare-const X_{j} Real)" for j in range(len(lo))] + [""]
        lines += [f"(declare-const Y_{c} Real)" for c in range(n_out)] + ["", "; input box"]
        for j in range(len(lo)):
            lines += [f"(assert (<= X_{j} {_num(hi[j])}))", f"(assert (>= X_{j} {_num(lo[j])}))"]
        lines += ["", f"; unsafe: some class scores at least as high as class {label}", "(assert (or"]
        lines += [f"    (and (>= Y_{c} Y_{label}))" for c in others] + ["))"]
    elif version == 2:
        t = dtype
        lines = ["(vnnlib-version <2.0>)"] + head + ["(declare-network N",
                 f"    (declare-input X {t} [1,{len(lo)}])", f"    (declare-output Y {t} [1,{n_out}])", ")",
                 "; input box"]
        for j in range(len(lo)):
            lines += [f"(assert (<= X[0,{j}] {_num(hi[j])}))", f"(assert (>= X[0,{j}] {_num(lo[j])}))"]
        lines += [f"; unsafe: some class scores at least as high as class {label}", "(assert (or"]
        lines += [f"    (>= Y[0,{c}] Y[0,{label}])" for c in others] + ["))"]
    else:
        raise OptionError(f"VNN-LIB version must be 1 or 2, got {version}")
    return "\n".join(lines) + "\n"


@dataclass
class Property:
    """An input box and an unsafe set given as a disjunction of polytopes ``A y <= b``."""

    lo: np.ndarray
    hi: np.ndarray
    unsafe: list[tuple[np.ndarray, np.ndarray]]
    version: int

    @property
    def label(self) -> int | None:
        """The class of a robustness property (every disjunct one row ``Y_label - Y_c <= 0``)."""
        labels = set()
        for A, b in self.unsafe:
            if A.shape[0] != 1 or b[0] != 0:
                return None
            row = A[0]
            pos, neg = np.flatnonzero(row == 1), np.flatnonzero(row == -1)
            if len(pos) != 1 or len(neg) != 1 or np.count_nonzero(row) != 2:
                return None
            labels.add(int(pos[0]))
        return labels.pop() if len(labels) == 1 else None


def read_property(text: str, n_outputs: int | None = None) -> Property:
    """Parse a VNN-LIB 1.0 file (memcap's reader) or 2.0 file (the reference ``vnnlib`` parser) into
    a box and unsafe polytopes."""
    if "(vnnlib-version" in text:
        require_extra("vnnlib", "vnn")
        import vnnlib
        import vnnlib.compat

        try:
            q = vnnlib.parse_query_string(text)
            cases = vnnlib.compat.transform(q)
        except Exception as exc:  # noqa: BLE001 - the reference parser raises its own untyped errors
            raise DataError(f"VNN-LIB 2.0 parser: {str(exc)[:500]}") from None
        if len(cases) != 1:
            raise DataError(f"expected one input box, the property has {len(cases)}")
        box = np.array(cases[0].input_box, np.float64)
        unsafe = [(np.array(p.coeff_matrix, np.float64), np.array(p.rhs, np.float64))
                  for p in cases[0].output_constraints]
        return Property(box[:, 0], box[:, 1], unsafe, 2)
    from memcap.io.vnnlib import read_vnnlib

    p = read_vnnlib(text)
    n_out = n_outputs or p.n_outputs
    if sorted(p.lower) != list(range(p.n_inputs)) or sorted(p.upper) != list(range(p.n_inputs)):
        raise DataError("every input needs a lower and an upper bound")
    lo = np.array([p.lower[j] for j in range(p.n_inputs)])
    hi = np.array([p.upper[j] for j in range(p.n_inputs)])
    unsafe = []
    for conj in p.unsafe:
        A, b = [], []
        for op, lhs, rhs in conj:
            row = np.zeros(n_out)
            sign = 1.0 if op == "<=" else -1.0     # lhs <= rhs  ->  lhs - rhs <= 0
            const = 0.0
            for term, s in ((lhs, sign), (rhs, -sign)):
                if isinstance(term, str) and term.startswith("Y_"):
                    row[int(term[2:])] += s
                else:
                    const -= s * float(term)
            A.append(row)
            b.append(const)
        unsafe.append((np.array(A), np.array(b)))
    return Property(lo, hi, unsafe, 1)


# ---- counterexamples and result files ------------------------------------------------------------
def format_counterexample(x: np.ndarray, y: np.ndarray) -> str:
    """VNN-COMP's counterexample assignment ``((X_0 v)\\n (X_1 v) ... (Y_0 v) ...)``."""
    parts = [f"(X_{j} {float(v)!r})" for j, v in enumerate(np.ravel(x))]
    parts += [f"(Y_{j} {float(v)!r})" for j, v in enumerate(np.ravel(y))]
    return "(" + "\n ".join(parts) + ")\n"


_ASSIGN = re.compile(r"\(\s*([XY])_(\d+)\s+([^\s()]+)\s*\)")


@dataclass
class ParsedResult:
    status: str                        # sat | unsat | timeout | unknown | error | missing | malformed
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    detail: str = ""


def parse_result(text: str | None) -> ParsedResult:
    """A VNN-COMP result file: the first line is the answer; after ``sat``, the assignment."""
    if text is None:
        return ParsedResult("missing")
    lines = text.strip().splitlines()
    if not lines:
        return ParsedResult("malformed", detail="empty result file")
    status = _STATUSES.get(lines[0].strip().lower())
    if status is None:
        return ParsedResult("malformed", detail=f"first line {lines[0][:40]!r} is not a VNN-COMP answer")
    if status != "sat":
        return ParsedResult(status)
    body = " ".join(lines[1:])
    xs: dict[int, float] = {}
    ys: dict[int, float] = {}
    for var, idx, val in _ASSIGN.findall(body):
        try:
            (xs if var == "X" else ys)[int(idx)] = float(val)
        except ValueError:
            return ParsedResult("sat", detail=f"bad number {val!r} in the counterexample")
    if not xs:
        return ParsedResult("sat", detail="sat without a counterexample")
    if sorted(xs) != list(range(len(xs))) or (ys and sorted(ys) != list(range(len(ys)))):
        return ParsedResult("sat", detail="the counterexample's X_i / Y_i indices are not 0..n-1")
    return ParsedResult("sat", np.array([xs[i] for i in range(len(xs))]),
                        np.array([ys[i] for i in range(len(ys))]) if ys else None)


@dataclass
class WitnessCheck:
    """How a counterexample fares when re-run in onnxruntime (VNN-COMP's categories)."""

    status: str      # correct | correct_up_to_tolerance | spec_not_violated | exec_doesnt_match | wrong_shape
    outputs: np.ndarray | None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.status in ("correct", "correct_up_to_tolerance")


def _violates(prop: Property, x: np.ndarray, y: np.ndarray, tol: float) -> bool:
    if np.any(x < prop.lo - tol) or np.any(x > prop.hi + tol):
        return False
    return any(bool(np.all(A @ y <= b + tol)) for A, b in prop.unsafe)


def check_witness(model: bytes, prop: Property, x: np.ndarray, y: np.ndarray | None = None,
                  atol: float = CE_ATOL, rtol: float = CE_RTOL, session: Any = None) -> WitnessCheck:
    """Re-run the witness ``x`` in onnxruntime (cast to the model's input type) and check it as
    VNN-COMP does: stated outputs ``y`` (if any) within relative ``rtol`` of onnxruntime's, the input
    in the box and onnxruntime's outputs in the unsafe set up to ``atol`` ("correct" when they are
    with zero tolerance). The spec is checked on onnxruntime's outputs, never on the stated ones."""
    x = np.asarray(x, np.float64).ravel()
    if x.shape != prop.lo.shape:
        return WitnessCheck("wrong_shape", None, f"{x.size} inputs, the property has {prop.lo.size}")
    out = ort_outputs(model, x[None, :], session)[0]
    detail = ""
    if y is not None:
        if y.shape != out.shape:
            return WitnessCheck("wrong_shape", out, f"{y.size} outputs stated, the model has {out.size}")
        norm = float(np.max(np.abs(y)))
        rel = float(np.max(np.abs(out - y))) / norm if norm >= 1e-6 else 0.0
        if rel > rtol:
            return WitnessCheck("exec_doesnt_match", out, f"relative difference {rel:.3g} > {rtol:g}")
        detail = f"stated outputs within {rel:.2g} (relative)"
    if _violates(prop, x, out, 0.0):
        return WitnessCheck("correct", out, detail)
    if _violates(prop, x, out, atol):
        return WitnessCheck("correct_up_to_tolerance", out, detail)
    return WitnessCheck("spec_not_violated", out, detail)


# ---- files ---------------------------------------------------------------------------------------
@contextmanager
def _temp_dir(parent: Path, name: str) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_tree(files: dict[str, bytes], out: str | os.PathLike[str], force: bool = False) -> Path:
    """Write ``files`` (relative path -> bytes) as the folder ``out``, atomically as a whole: into a
    temporary sibling folder, then renamed into place. An existing ``out`` is refused unless
    ``force`` (then replaced whole). An interrupted write leaves ``out`` as it was."""
    out = Path(out)
    if out.exists() and not force:
        raise OptionError(f"{out} exists; choose a new folder or pass --force to replace it whole")
    if out.exists() and not out.is_dir():
        raise OptionError(f"{out} exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _temp_dir(out.parent, out.name) as tmp:
        for rel, blob in files.items():
            p = tmp / rel
            if p.resolve().parent != (tmp / rel).parent.resolve() or ".." in Path(rel).parts:
                raise OptionError(f"bad file name in the suite: {rel!r}")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(blob)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "x")
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old / "x", out)
                raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    return out


def read_instances(suite: Path) -> list[tuple[str, str, float]]:
    path = suite / "instances.csv"
    if not path.is_file():
        raise DataError(f"{suite} has no instances.csv: not a suite folder")
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            onnx_p, vnn_p, timeout = (s.strip() for s in line.split(","))
            rows.append((onnx_p, vnn_p, float(timeout)))
    return rows


def read_answers(suite: Path) -> list[dict[str, str]]:
    path = suite / "answers.csv"
    if not path.is_file():
        raise DataError(f"{suite} has no answers.csv (the known answers); was it written by "
                        "memcap benchmark?")
    return list(csv.DictReader(io.StringIO(path.read_text())))


def result_name(vnnlib_rel: str) -> str:
    """The result file of an instance: its property's file name with ``.txt`` for ``.vnnlib``."""
    return Path(vnnlib_rel).stem + ".txt"


# ---- scoring -------------------------------------------------------------------------------------
#: VNN-COMP's points: a correct answer +10, an incorrect one -150
POINTS_CORRECT, POINTS_INCORRECT = 10, -150


@dataclass
class ScoreReport:
    rows: list[dict[str, Any]]
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def incorrect(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["verdict"] == "incorrect"]

    @property
    def memcap_wrong(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["verdict"] == "known_answer_wrong"]

    @property
    def points(self) -> int:
        return sum(POINTS_CORRECT if r["verdict"] == "correct" else POINTS_INCORRECT if r["verdict"] ==
                   "incorrect" else 0 for r in self.rows)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r["verdict"]] = out.get(r["verdict"], 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"instances": len(self.rows), "counts": self.counts(), "points": self.points,
                "confusion": self.confusion, "incorrect": self.incorrect,
                "known_answer_wrong": self.memcap_wrong, "rows": self.rows}


def score_suite(suite: str | os.PathLike[str], results: str | os.PathLike[str]) -> ScoreReport:
    """Score a folder of result files (named by :func:`result_name`) against the suite's known answers.

    Verdicts: ``correct`` (unsat on an unsat instance; sat with an accepted witness on a sat one),
    ``incorrect`` (unsat on a sat instance; sat without an accepted witness), ``tolerated`` (sat on an
    unsat instance whose witness VNN-COMP accepts only thanks to its tolerance: not penalised there),
    ``known_answer_wrong`` (a witness that violates an ``unsat`` answer with zero tolerance: memcap's
    certificate is wrong — please report it), ``no_answer`` (timeout, unknown, error, missing file,
    malformed file)."""
    suite, results = Path(suite), Path(results)
    if not results.is_dir():
        raise DataError(f"results folder {results} does not exist")
    answers = read_answers(suite)
    rows = []
    models: dict[str, bytes] = {}
    sessions: dict[str, Any] = {}
    for a in answers:
        rp = results / result_name(a["vnnlib"])
        res = parse_result(rp.read_text() if rp.is_file() else None)
        known = a["answer"]
        row: dict[str, Any] = {"instance": a["instance"], "known": known, "reported": res.status,
                               "witness": None, "detail": res.detail}
        if res.status == "sat" and res.x is not None:
            if a["onnx"] not in models:
                models[a["onnx"]] = (suite / a["onnx"]).read_bytes()
                sessions[a["onnx"]] = _session(models[a["onnx"]])
            prop = read_property((suite / a["vnnlib"]).read_text())
            chk = check_witness(models[a["onnx"]], prop, res.x, res.y, session=sessions[a["onnx"]])
            row["witness"] = chk.status
            row["detail"] = chk.detail
        if res.status in ("timeout", "unknown", "error", "missing", "malformed"):
            verdict = "no_answer"
        elif res.status == "unsat":
            verdict = "correct" if known == "unsat" else "incorrect"
        else:  # sat
            w = row["witness"]
            if w == "correct" and known == "unsat":
                verdict = "known_answer_wrong"
            elif w == "correct_up_to_tolerance" and known == "unsat":
                verdict = "tolerated"
            elif w in ("correct", "correct_up_to_tolerance"):
                verdict = "correct"
            else:
                verdict = "incorrect"
                row["detail"] = row["detail"] or "sat without an accepted counterexample"
        row["verdict"] = verdict
        rows.append(row)
    cols = ["sat", "unsat", "timeout", "unknown", "error", "missing", "malformed"]
    confusion = {k: {c: 0 for c in cols} for k in ("sat", "unsat")}
    for r in rows:
        confusion[r["known"]][r["reported"]] += 1
    return ScoreReport(rows, confusion)


def suite_manifest(suite: Path) -> dict[str, Any]:
    p = suite / "suite.json"
    return json.loads(p.read_text()) if p.is_file() else {}
