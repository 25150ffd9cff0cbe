"""Deciding VNN-COMP robustness instances about a stored float model (an ONNX file).

Two users share this module:

* the suite writer (:mod:`memcap.vnnsuite`) determines each instance's *known answer*
  (:func:`known_answer`): ``unsat`` only with a float-model certificate (:mod:`.floatmodel`, then the
  exact tier :mod:`.exact`) over the box *enlarged by VNN-COMP's tolerance* with a margin above it,
  so no witness accepted by VNN-COMP's tolerant check can exist; ``sat`` only with a witness that
  lies in the box, that onnxruntime evaluates into the unsafe set with zero tolerance, and whose
  violation is certified for every float evaluation order (:func:`memcap.numerics.forward_float_bounded`);
* memcap's own verifier on a suite (:func:`solve_instance`, :func:`run_suite`): it reads only the
  instance files (ONNX + VNN-LIB), attacks, bounds and runs the exact tier, and writes VNN-COMP
  result files for :func:`memcap.io.suite.score_suite`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memcap.certify.robust.attack import attack
from memcap.certify.robust.exact import exact_margin_proof
from memcap.certify.robust.floatbound import up
from memcap.certify.robust.floatmodel import certify_box, float32_box, noisy_ops
from memcap.network import Network
from memcap.numerics import forward_float_bounded

__all__ = ["Decision", "known_answer", "prove_box", "certified_witness", "solve_instance", "run_suite"]


@dataclass
class Decision:
    answer: str                    # "sat" | "unsat" | "unknown"
    by: str                        # ibp | crown | exact | midpoint | attack | exact-candidate | ""
    margin: float | None           # unsat: certified lower bound on the margin; sat: the (negative) margin
    witness: np.ndarray | None     # sat: the input (float values of the model's input type)
    outputs: np.ndarray | None     # sat: onnxruntime's outputs at the witness
    seconds: float
    detail: str = ""


def prove_box(net: Network, lo: np.ndarray, hi: np.ndarray, label: int, dtype: str, need: float = 0.0,
              exact: bool = True, time_limit: float = 30.0, max_nodes: int = 400
              ) -> tuple[bool, str, float, Any]:
    """Prove ``Y_label - Y_c > need`` for every c, every input of the box and every evaluation of the
    stored model ``net`` in ``dtype`` (bounds first, then the exact tier). Returns
    (proven, by, margin bound, the exact tier's candidate point or None)."""
    cert = certify_box(net, lo, hi, label, dtype)
    if cert.margin > need:
        return True, cert.by, cert.margin, None
    if not exact:
        return False, "", cert.margin, None
    classes = [c for c in range(net.out_dim) if c != label and not cert.per_class[c] > need]
    ex = exact_margin_proof(noisy_ops(net, cert.eps), lo, hi, cert.z_bounds, label, classes, need=need,
                            time_limit=time_limit, max_nodes=max_nodes)
    if ex.status == "proven":
        rest = [float(cert.per_class[c]) for c in range(net.out_dim) if c != label and c not in classes]
        return True, "exact", min([float(ex.bound if ex.bound is not None else np.inf), *rest]), None
    return False, "", cert.margin, ex.candidate


def certified_witness(net: Network, model: bytes, lo: np.ndarray, hi: np.ndarray, label: int, dtype: str,
                      candidates: list[np.ndarray], session: Any = None
                      ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The first candidate that, rounded to the model's input type and clipped into the box, lies in
    the box, is misclassified by onnxruntime (some Y_c >= Y_label) and is misclassified for every
    evaluation order of the stored model (certified ``Y_c - bound_c > Y_label + bound_label``)."""
    from memcap.io.suite import ort_outputs

    dt = np.float32 if dtype == "float32" else np.float64
    for z in candidates:
        z = np.clip(np.asarray(z, np.float64), lo, hi).astype(dt).astype(np.float64)
        if np.any(z < lo) or np.any(z > hi):
            continue
        out, bnd = forward_float_bounded(net, z[None, :], dt)
        others = [c for c in range(net.out_dim) if c != label]
        c = max(others, key=lambda k: out[0, k] - bnd[0, k])
        if not out[0, c] - bnd[0, c] > out[0, label] + bnd[0, label]:
            continue
        y = ort_outputs(model, z[None, :], session)[0]
        if np.max(np.delete(y, label)) >= y[label]:
            return z, y, float(out[0, label] - out[0, c])
    return None


def _attack_candidates(net: Network, lo: np.ndarray, hi: np.ndarray, label: int, seed: int
                       ) -> list[np.ndarray]:
    c = (lo + hi) / 2
    r = float(np.max(np.maximum(up(hi - c), up(c - lo))))
    found = attack(net, c[None, :], np.array([label]), r, "inf", seed=seed)
    out = []
    if found[0] is not None:
        out.append(found[0].z)
    return out


def known_answer(net: Network, model: bytes, lo: np.ndarray, hi: np.ndarray, label: int, dtype: str,
                 hints: list[np.ndarray], tol: float, seed: int = 0, time_limit: float = 60.0,
                 session: Any = None) -> Decision:
    """The answer of one instance, certified (see the module docstring); ``hints`` are candidate
    witnesses (e.g. midpoints of differently labelled points), ``tol`` VNN-COMP's tolerance."""
    t0 = time.perf_counter()
    wit = certified_witness(net, model, lo, hi, label, dtype, hints, session)
    by = "midpoint"
    if wit is None:
        found = _attack_candidates(net, lo, hi, label, seed)
        wit = certified_witness(net, model, lo, hi, label, dtype, found, session)
        by = "attack"
    if wit is not None:
        return Decision("sat", by, wit[2], wit[0], wit[1], time.perf_counter() - t0)
    lo_t, hi_t = float32_box(lo - tol, hi + tol, dtype)
    ok, by, m, cand = prove_box(net, lo_t, hi_t, label, dtype, need=tol, time_limit=time_limit)
    if ok:
        return Decision("unsat", by, m, None, None, time.perf_counter() - t0,
                        f"margin > {tol:g} on the box enlarged by {tol:g}")
    if cand is not None:
        wit = certified_witness(net, model, lo, hi, label, dtype, [cand], session)
        if wit is not None:
            return Decision("sat", "exact-candidate", wit[2], wit[0], wit[1], time.perf_counter() - t0)
    return Decision("unknown", "", m, None, None, time.perf_counter() - t0, "neither proven nor refuted")


# ---- memcap as a VNN-COMP verifier -------------------------------------------------------------------
def solve_instance(onnx_path: str | Path, vnnlib_path: str | Path, timeout: float = 60.0, seed: int = 0
                   ) -> tuple[str, Decision]:
    """memcap's answer on one instance file pair, and the VNN-COMP result file text."""
    from memcap.io.suite import format_counterexample, network_from_onnx, read_property

    t0 = time.perf_counter()
    model = Path(onnx_path).read_bytes()
    net, dtype = network_from_onnx(model)
    prop = read_property(Path(vnnlib_path).read_text(), net.out_dim)
    label = prop.label
    if label is None or prop.lo.shape != (net.in_dim,):
        d = Decision("unknown", "", None, None, None, time.perf_counter() - t0,
                     "not a robustness property of this model")
        return "unknown\n", d
    lo, hi = float32_box(prop.lo, prop.hi, dtype)   # every input the model can be given
    from memcap.io.suite import _session

    sess = _session(model)
    wit = certified_witness(net, model, prop.lo, prop.hi, label, dtype,
                            _attack_candidates(net, prop.lo, prop.hi, label, seed), sess)
    if wit is not None:
        d = Decision("sat", "attack", wit[2], wit[0], wit[1], time.perf_counter() - t0)
        return "sat\n" + format_counterexample(wit[0], wit[1]), d
    left = max(timeout - (time.perf_counter() - t0), 1.0)
    ok, by, m, cand = prove_box(net, lo, hi, label, dtype, need=0.0, time_limit=left)
    if ok:
        return "unsat\n", Decision("unsat", by, m, None, None, time.perf_counter() - t0)
    if cand is not None:
        wit = certified_witness(net, model, prop.lo, prop.hi, label, dtype, [cand], sess)
        if wit is not None:
            d = Decision("sat", "exact-candidate", wit[2], wit[0], wit[1], time.perf_counter() - t0)
            return "sat\n" + format_counterexample(wit[0], wit[1]), d
    status = "timeout" if time.perf_counter() - t0 > timeout else "unknown"
    return status + "\n", Decision(status, "", m, None, None, time.perf_counter() - t0)


def run_suite(suite: str | Path, results: str | Path, timeout_scale: float = 1.0,
              progress: Any = None) -> list[dict[str, Any]]:
    """Run :func:`solve_instance` on every instance of ``suite`` and write one result file per
    instance into ``results`` (atomically each). Returns one row per instance with its timing."""
    from memcap._util import atomic_write_bytes
    from memcap.io.suite import read_instances, result_name

    suite, results = Path(suite), Path(results)
    rows = []
    for k, (onnx_rel, vnn_rel, timeout) in enumerate(read_instances(suite)):
        if progress:
            progress(f"instance {k + 1}: {vnn_rel}")
        t0 = time.perf_counter()
        try:
            text, d = solve_instance(suite / onnx_rel, suite / vnn_rel, timeout * timeout_scale)
        except Exception as exc:  # noqa: BLE001 - a verifier reports any failure per instance ("error")
            text, d = "error\n", Decision("error", "", None, None, None, 0.0, f"{type(exc).__name__}: {exc}")
        atomic_write_bytes(results / result_name(vnn_rel), text.encode())
        rows.append({"instance": Path(vnn_rel).stem, "answer": d.answer, "by": d.by,
                     "seconds": time.perf_counter() - t0, "detail": d.detail})
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m memcap.certify.robust.vnn ONNX VNNLIB RESULT_FILE [TIMEOUT]`` (one instance, the
    arguments of VNN-COMP's run_instance.sh) or ``... --suite SUITE RESULTS`` (every instance)."""
    import sys

    from memcap._util import atomic_write_bytes

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 3 and args[0] == "--suite":
        rows = run_suite(args[1], args[2])
        for r in rows:
            print(f"{r['instance']},{r['answer']},{r['seconds']:.3f}")
        return 0
    if len(args) not in (3, 4):
        print(main.__doc__, file=sys.stderr)
        return 2
    text, _ = solve_instance(args[0], args[1], float(args[3]) if len(args) == 4 else 60.0)
    atomic_write_bytes(args[2], text.encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
