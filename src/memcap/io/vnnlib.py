"""VNN-LIB robustness properties (VNN-COMP convention) and a reader for the subset memcap writes.

:func:`vnnlib_property` writes one property per point: the file states the *counterexample* (input in
the L∞ box, some other class scoring at least the label's output; ties count as wrong, as in memcap),
so "unsat" from a verifier means "robust". The box is rounded outward, so it contains the ball.
:func:`read_vnnlib` parses that subset back. :func:`vnnlib_folder` / :func:`write_vnnlib_folder` make a
self-contained benchmark folder (the ONNX model, one property per point, ``instances.csv`` naming
files relative to the folder), written as a whole: built beside it, then renamed into place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["vnnlib_property", "read_vnnlib", "VnnProperty", "vnnlib_folder", "write_vnnlib_folder",
           "INSTANCES"]

INSTANCES = "instances.csv"


# ---- VNN-LIB ----------------------------------------------------------------------------------
def _num(v: float) -> str:
    s = np.format_float_positional(float(v), unique=True, trim="0")
    return s + "0" if s.endswith(".") else s


def vnnlib_property(x: np.ndarray, label: int, n_out: int, radius: float, comment: str = "") -> str:
    """VNN-LIB text: input in the box ``x ± radius`` (rounded outward) and the unsafe output set
    ``OR_{c != label} Y_c >= Y_label`` (a verifier answering unsat proves robustness)."""
    x = np.asarray(x, np.float64)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"the radius must be a finite number > 0, got {radius}")
    if n_out < 2:
        raise ValueError("a robustness property needs at least two outputs (classes)")
    lo = np.nextafter(x - radius, -np.inf)
    hi = np.nextafter(x + radius, np.inf)
    lines = [f"; {line}" for line in (comment.splitlines() or [])]
    lines += [f"; robustness of class {label} on the L-inf box of radius {_num(radius)} "
              "(rounded outward); unsat = robust", ""]
    lines += [f"(declare-const X_{j} Real)" for j in range(len(x))]
    lines.append("")
    lines += [f"(declare-const Y_{c} Real)" for c in range(n_out)]
    lines += ["", "; input constraints"]
    for j in range(len(x)):
        lines.append(f"(assert (<= X_{j} {_num(hi[j])}))")
        lines.append(f"(assert (>= X_{j} {_num(lo[j])}))")
    lines += ["", f"; unsafe: some class scores at least as high as class {label}", "(assert (or"]
    lines += [f"    (and (>= Y_{c} Y_{label}))" for c in range(n_out) if c != label]
    lines.append("))")
    return "\n".join(lines) + "\n"


@dataclass
class VnnProperty:
    n_inputs: int
    n_outputs: int
    lower: dict[int, float]
    upper: dict[int, float]
    unsafe: list[list[tuple[str, str, str]]]   # disjunction of conjunctions of (op, lhs, rhs)


_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def _parse_sexprs(text: str) -> list[Any]:
    text = "\n".join(line.split(";", 1)[0] for line in text.splitlines())
    stack: list[list[Any]] = [[]]
    for tok in _TOKEN.findall(text):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) < 2:
                raise ValueError("VNN-LIB: unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise ValueError("VNN-LIB: unbalanced '('")
    return stack[0]


def read_vnnlib(text: str) -> VnnProperty:
    """Parse the VNN-LIB subset :func:`vnnlib_property` writes (and the common VNN-COMP shape:
    variable bounds plus one disjunction of conjunctions of comparisons on outputs)."""
    n_in = n_out = 0
    lower: dict[int, float] = {}
    upper: dict[int, float] = {}
    unsafe: list[list[tuple[str, str, str]]] = []
    for ex in _parse_sexprs(text):
        if not isinstance(ex, list) or not ex:
            raise ValueError(f"VNN-LIB: unexpected top-level token {ex!r}")
        if ex[0] == "declare-const":
            name = ex[1]
            if name.startswith("X_"):
                n_in = max(n_in, int(name[2:]) + 1)
            elif name.startswith("Y_"):
                n_out = max(n_out, int(name[2:]) + 1)
            else:
                raise ValueError(f"VNN-LIB: unknown variable {name}")
        elif ex[0] == "assert":
            body = ex[1]
            if body[0] in ("<=", ">=") and isinstance(body[1], str) and body[1].startswith("X_") \
                    and isinstance(body[2], str) and not body[2].startswith(("X_", "Y_")):
                j, v = int(body[1][2:]), float(body[2])
                (upper if body[0] == "<=" else lower)[j] = v
            elif body[0] == "or":
                for conj in body[1:]:
                    terms = conj[1:] if conj[0] == "and" else [conj]
                    unsafe.append([(t[0], t[1], t[2]) for t in terms])
            elif body[0] in ("<=", ">="):
                unsafe.append([(body[0], body[1], body[2])])
            else:
                raise ValueError(f"VNN-LIB: unsupported assertion {body!r}")
        else:
            raise ValueError(f"VNN-LIB: unsupported command {ex[0]!r}")
    return VnnProperty(n_in, n_out, lower, upper, unsafe)


def vnnlib_folder(X: np.ndarray, labels: np.ndarray, n_out: int, radius: float, model: bytes,
                  model_name: str = "net.onnx", timeout: float = 60.0, comment: str = ""
                  ) -> dict[str, bytes]:
    """The files of a self-contained VNN-LIB folder: ``model_name`` (the ONNX bytes), one
    ``prop_NNNNN.vnnlib`` per point and ``instances.csv`` (``onnx,vnnlib,timeout``; every path
    relative to the folder, so it resolves wherever the folder is moved)."""
    if "/" in model_name or "\\" in model_name or not model_name.endswith(".onnx"):
        raise ValueError(f"the model's name in the folder must be a plain *.onnx name, got {model_name!r}")
    files: dict[str, bytes] = {model_name: model}
    lines = ["onnx,vnnlib,timeout"]
    for i in range(len(X)):
        text = vnnlib_property(X[i], int(labels[i]), n_out, radius,
                               comment=(f"{comment}, point {i}" if comment else f"point {i}"))
        name = f"prop_{i:05d}.vnnlib"
        files[name] = text.encode()
        lines.append(f"{model_name},{name},{timeout:g}")
    files[INSTANCES] = ("\n".join(lines) + "\n").encode()
    return files


def write_vnnlib_folder(folder: Any, files: dict[str, bytes], overwrite: bool = True) -> None:
    """Write :func:`vnnlib_folder`'s files as a whole (see :func:`memcap._util.atomic_write_dir`): an
    interrupted run leaves the old folder or the new one; an earlier run's properties never survive;
    a non-empty folder without ``instances.csv`` (not a VNN-LIB folder memcap wrote) is refused."""
    from memcap._util import atomic_write_dir

    atomic_write_dir(folder, files, overwrite=overwrite, marker=INSTANCES)
