"""ONNX export for external verifiers and runtimes (VNN-LIB properties: :mod:`memcap.io.vnnlib`).

* :func:`to_onnx` builds the ONNX graph directly with the ``onnx`` package (no torch exporter):
  ``Gemm`` per affine map, ``Relu`` (plain ReLU), ``s- t + (s+ - s-) Relu(t)`` (other ReLU-like
  slopes), ``Clip(-1, 1)`` (hard-tanh), ``Add`` for residual skips; float32 or float64; input
  ``input`` of shape ``[batch, d_x]`` (batch 1 by default, the VNN-COMP convention), output ``output``.
  Sparse layers are written dense (ONNX ``Gemm``); beyond ``max_bytes`` of dense weights (default
  ``MAX_ONNX_BYTES``, under protobuf's 2 GB message limit) the export is refused with an
  :class:`~memcap.errors.OptionError` giving the size.
* :func:`check_onnx` runs the model with onnxruntime and checks every output lies within twice the
  certified rounding bound of :func:`memcap.numerics.forward_float_bounded` of memcap's own float
  evaluation (both are within the bound of the exact network, for any summation order); a larger
  difference means the runtime computes something else, and the export is refused.
* :func:`build_onnx` / :func:`export_onnx` are what users call: they refuse (``OptionError``) a dtype
  the network's certificate does not cover — a float32 file only when verification says the
  network memorizes its data in float32 *for any summation order* (``float32_memorizes``), float64
  likewise — unless ``allow_uncertified``; then build, check with onnxruntime, and (export) write
  atomically. :func:`to_onnx` alone checks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap._util import atomic_write_bytes, check_output_path, require_extra
from memcap.errors import ConstructionError, OptionError
from memcap.network import Dense, Network
from memcap.numerics import forward_float_bounded, to_float_array

__all__ = ["to_onnx", "check_onnx", "OnnxCheck", "OPSET", "MAX_ONNX_BYTES", "dtype_certificate", "build_onnx",
           "export_onnx"]

OPSET = 17
#: dense weight bytes an ONNX export may hold (protobuf messages are limited to 2 GB)
MAX_ONNX_BYTES = 1_500_000_000


def _dtype_of(name: str) -> tuple[Any, int]:
    onnx = require_extra("onnx", "onnx")
    if name in ("float32", "f32"):
        return np.float32, onnx.TensorProto.FLOAT
    if name in ("float64", "f64", "double"):
        return np.float64, onnx.TensorProto.DOUBLE
    raise ValueError(f"ONNX dtype must be float32 or float64, got {name!r}")


def to_onnx(net: Network, dtype: str = "float64", batch: int | None = 1,
            max_bytes: int = MAX_ONNX_BYTES) -> bytes:
    """The serialized ONNX model computing ``net`` with weights rounded to ``dtype`` (dense
    ``Gemm`` weights, also for sparse layers; refused beyond ``max_bytes``)."""
    onnx = require_extra("onnx", "onnx")
    from onnx import helper, numpy_helper

    np_dt, onnx_dt = _dtype_of(dtype)
    need = net.parameters * np.dtype(np_dt).itemsize
    if need > max_bytes:
        raise OptionError(
            f"an ONNX model of this network holds {need / 2**20:.3g} MiB of dense {dtype} weights "
            f"({net.parameters} dense parameters, {net.stored_parameters} stored); ONNX Gemm weights "
            f"are dense and the limit is {max_bytes / 2**20:.3g} MiB (protobuf's 2 GB message cap): "
            "export to PyTorch (sparse layers) or memcap's npz instead")
    nodes: list[Any] = []
    inits: list[Any] = []
    count = [0]

    def const(arr: Any, hint: str) -> str:
        count[0] += 1
        name = f"{hint}_{count[0]}"
        inits.append(numpy_helper.from_array(np.asarray(to_float_array(arr), dtype=np_dt), name))
        return name

    def node(op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        count[0] += 1
        out = f"{hint}_{count[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def act(t: str, a: Any) -> str:
        if a.kind == "identity":
            return t
        if a.kind == "hardtanh":
            return node("Clip", [t, const(-1.0, "lo"), const(1.0, "hi")], "hardtanh")
        r = node("Relu", [t], "relu")
        if a.s_plus == 1 and a.s_minus == 0:
            return r
        scaled = node("Mul", [r, const(float(a.s_plus - a.s_minus), "gap")], "scaled")
        if a.s_minus == 0:
            return scaled
        lin = node("Mul", [t, const(float(a.s_minus), "smin")], "lin")
        return node("Add", [lin, scaled], "relu_like")

    h = "input"
    for k, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            z = node("Gemm", [h, const(layer.weight, f"W{k}"), const(layer.bias, f"b{k}")], f"z{k}",
                     transB=1)
            h = act(z, layer.activation)
        else:
            z = node("Gemm", [h, const(layer.U, f"U{k}"), const(layer.b, f"b{k}")], f"z{k}", transB=1)
            a = act(z, layer.activation)
            v = node("Gemm", [a, const(layer.V, f"V{k}"), const(layer.c, f"c{k}")], f"v{k}", transB=1)
            h = node("Add", [h, v], f"h{k}")
    nodes.append(helper.make_node("Identity", [h], ["output"]))
    bdim: Any = batch if batch is not None else "batch"
    graph = helper.make_graph(
        nodes, "memcap", [helper.make_tensor_value_info("input", onnx_dt, [bdim, net.in_dim])],
        [helper.make_tensor_value_info("output", onnx_dt, [bdim, net.out_dim])], inits)
    meta = net.meta or {}
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="memcap",
                              doc_string=f"memcap network ({meta.get(mk.METHOD, '?')})")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


@dataclass
class OnnxCheck:
    ok: bool
    max_diff: float          # max |onnxruntime - memcap float evaluation|
    allowed: float           # smallest (2·certified bound) over the outputs compared
    worst_ratio: float       # max diff / (2·bound); <= 1 required
    points: int
    dtype: str
    memorizes_any_order: bool | None   # classification: margin > 2·(bound_y + bound_c) everywhere

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_onnx(model: bytes, net: Network, X: np.ndarray, dtype: str = "float64",
               labels: np.ndarray | None = None) -> OnnxCheck:
    """Run ``model`` with onnxruntime on the rows of ``X`` and compare with the certified bound."""
    ort = require_extra("onnxruntime", "onnx")
    np_dt, _ = _dtype_of(dtype)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    X = np.asarray(X, np.float64)
    shape = sess.get_inputs()[0].shape
    fixed = shape[0] if isinstance(shape[0], int) else None
    if fixed:
        got = np.concatenate([sess.run(None, {"input": X[i:i + fixed].astype(np_dt)})[0]
                              for i in range(0, len(X), fixed)])
    else:
        got = sess.run(None, {"input": X.astype(np_dt)})[0]
    got = got.astype(np.float64)
    ref, bnd = forward_float_bounded(net, X, np_dt)
    diff = np.abs(got - ref)
    allowed = 2 * bnd * (1 + 2.0**-40) + 2.0**-1074
    ratio = float(np.max(diff / allowed)) if diff.size else 0.0
    mem = None
    if labels is not None and net.out_dim > 1:
        rows = np.arange(len(X))
        lab = np.asarray(labels)
        need = 2 * (bnd[rows, lab][:, None] + bnd)
        marg = ref[rows, lab][:, None] - ref
        marg[rows, lab] = np.inf
        mem = bool(np.all(marg > need))
    return OnnxCheck(bool(np.all(diff <= allowed)), float(diff.max(initial=0.0)),
                     float(allowed.min(initial=np.inf)), ratio, len(X), dtype, mem)


def _dtype_name(dtype: str) -> str:
    np_dt, _ = _dtype_of(dtype)
    return "float32" if np_dt is np.float32 else "float64"


def dtype_certificate(net: Network, dtype: str, report: Any = None) -> tuple[bool, str]:
    """Whether a certificate covers evaluating ``net`` in ``dtype`` (any summation order), and why.

    ``report``: a :class:`memcap.certify.memorization.VerificationReport` of ``net`` on the data
    (preferred); otherwise the verification :func:`memcap.construct` stored in ``net.meta``."""
    name = _dtype_name(dtype)
    key = f"{name}_memorizes"
    if report is not None:
        if not (report.memorized and report.certified):
            return False, f"memcap does not certify that the network memorizes the data ({report.summary()})"
        ok, src = bool(getattr(report, key)), "verification on the given data"
        bound = getattr(report, f"{name}_bound")
        detail = f"certified {name} rounding bound {bound:.3g}"
        if report.task == "classification":
            detail += f" vs smallest exact margin {report.min_margin:.3g} (needs margin > 2·bound)"
        else:
            detail += f" vs tolerance {report.tolerance:.3g} (error {report.worst_error:.3g})"
    else:
        ver = (net.meta or {}).get("verification")
        if not isinstance(ver, dict) or key not in ver:
            return False, ("the network carries no verification (it was not built by memcap.construct); "
                           "give the data so it can be verified")
        ok = bool(ver.get(key)) and bool(ver.get("certified"))
        src, detail = "the network's stored verification", f"mantissa bits needed ≈ {ver.get('bits_needed')}"
    if ok:
        return True, f"{src}: {name} evaluation memorizes for any summation order"
    return False, (f"{src}: {name} evaluation is NOT certified to memorize for every summation order "
                   f"({detail})")


def build_onnx(net: Network, dtype: str = "float64", batch: int | None = 1, X: np.ndarray | None = None,
               labels: np.ndarray | None = None, report: Any = None, allow_uncertified: bool = False
               ) -> tuple[bytes, OnnxCheck, str]:
    """The checked ONNX model of ``net``: (model bytes, onnxruntime check, certificate statement).

    Refuses with ``OptionError`` a ``dtype`` no certificate covers (see :func:`dtype_certificate`)
    unless ``allow_uncertified``, and with ``ConstructionError`` a model onnxruntime evaluates
    beyond the certified rounding bound. ``X``: inputs of the check (default: 64 random ones)."""
    ok, why = dtype_certificate(net, dtype, report)
    if not ok and not allow_uncertified:
        raise OptionError(f"refusing to export in {_dtype_name(dtype)}: {why}. Export in a covered dtype "
                          "(see `memcap verify --precision`), or allow it explicitly (--allow-uncertified)")
    model = to_onnx(net, dtype, batch)
    if X is None:
        X = np.random.default_rng(0).standard_normal((64, net.in_dim))
    chk = check_onnx(model, net, X, dtype, labels)
    if not chk.ok:
        raise ConstructionError(
            f"onnxruntime disagrees with memcap beyond the certified rounding bound (max |diff| "
            f"{chk.max_diff:.3g}, {chk.worst_ratio:.3g}x the allowed 2·bound); not writing the ONNX model")
    return model, chk, why if ok else f"NOT certified (exported on request): {why}"


def export_onnx(net: Network, path: Any, dtype: str = "float64", batch: int | None = 1,
                X: np.ndarray | None = None, labels: np.ndarray | None = None, report: Any = None,
                allow_uncertified: bool = False, overwrite: bool = True) -> OnnxCheck:
    """:func:`build_onnx`, then write the model to ``path`` atomically (nothing written on refusal)."""
    check_output_path(path, overwrite)
    model, chk, _ = build_onnx(net, dtype, batch, X, labels, report, allow_uncertified)
    atomic_write_bytes(path, model, overwrite=overwrite)
    return chk
