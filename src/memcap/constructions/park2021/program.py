"""Step+Id programs (Park et al. 2021, App. D) and their exact compilation to ReLU / hard-tanh networks.

Every construction of Park, Lee, Yun & Shin (2021) is a *Step+Id network*: each hidden neuron is either
``ID: z -> z`` or ``STEP: z -> 1[z >= 0]``. Gadgets are written against a :class:`Program`, layer by
layer, with affine expressions (:class:`Expr`) over the previous layer's neurons; composing gadgets
never adds a layer because a gadget's output is affine in its last hidden layer.

:func:`compile_program` turns a program into a plain :class:`~memcap.network.Network` that computes
the same outputs *exactly on the given data* (Lemma 12 states the sigmoidal version; the ReLU and
hard-tanh forms below are exact, not approximate):

* ``relu``        STEP(z) = ReLU(z/δ + 1) − ReLU(z/δ) (two units; one when a gadget guarantees
  z ≤ 0, as for the AND neurons), ID(z) = ReLU(z − lo) + lo (one);
* ``hardtanh``    STEP(z) = (ht(2z/δ + 1) + 1)/2, ID(z) = M·ht(z/M) (one unit each, same widths);
* ``relu-narrow`` every layer becomes two ReLU layers of the same width (footnote 6 of the paper:
  STEP(z) = ReLU(1 − ReLU(−z/δ)), ID(z) = ReLU(ReLU(z − lo)) + lo), so width 3 stays width 3.

δ (per STEP neuron) is a power of two at most the smallest |z| over the data points where z < 0,
lo (per ID neuron) an integer at most the smallest z, M a power of two at least max |z|; all are read
off an exact evaluation of the program on the data (:func:`evaluate_program`). The compiled network
is therefore only claimed on the data, which is all memorization asks; ``memcap.verify`` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flint
import numpy as np

from memcap.network import HARDTANH, IDENTITY, RELU, Dense, Network

__all__ = ["Expr", "Program", "evaluate_program", "compile_program", "Q", "ACTIVATIONS",
           "layer_widths", "dense_parameters"]

Q = flint.fmpq
ZERO = Q(0)
ONE = Q(1)
ACTIVATIONS = ("relu", "hardtanh", "relu-narrow")


def _q(v: Any) -> flint.fmpq:
    return v if isinstance(v, flint.fmpq) else Q(v)


class Expr:
    """An affine expression ``const + Σ coef·neuron[idx]`` over the neurons of one level.

    Level 0 is the network input; level k the k-th hidden layer. Constants have level ``None`` and
    combine with any level.
    """

    __slots__ = ("terms", "const", "level")

    def __init__(self, terms: dict[int, flint.fmpq] | None = None, const: Any = 0,
                 level: int | None = None) -> None:
        self.terms = terms or {}
        self.const = _q(const)
        self.level = level if self.terms else (level if level is not None else None)

    @staticmethod
    def constant(c: Any) -> Expr:
        return Expr({}, c, None)

    def _level(self, other: Expr) -> int | None:
        if self.level is None:
            return other.level
        if other.level is None or other.level == self.level:
            return self.level
        raise ValueError(f"cannot combine expressions of levels {self.level} and {other.level}")

    def __add__(self, other: Any) -> Expr:
        if not isinstance(other, Expr):
            return Expr(dict(self.terms), self.const + _q(other), self.level)
        lvl = self._level(other)
        t = dict(self.terms)
        for k, v in other.terms.items():
            s = t.get(k, ZERO) + v
            if s == 0:
                t.pop(k, None)
            else:
                t[k] = s
        return Expr(t, self.const + other.const, lvl)

    __radd__ = __add__

    def __mul__(self, c: Any) -> Expr:
        c = _q(c)
        if c == 0:
            return Expr({}, 0, None)
        return Expr({k: v * c for k, v in self.terms.items()}, self.const * c, self.level)

    __rmul__ = __mul__

    def __neg__(self) -> Expr:
        return self * -1

    def __sub__(self, other: Any) -> Expr:
        return self + (-other if isinstance(other, Expr) else -_q(other))

    def __rsub__(self, other: Any) -> Expr:
        return (-self) + other


@dataclass
class Program:
    """A Step+Id network under construction: ``layers[k]`` lists (kind, pre-activation expr)."""

    d_in: int
    layers: list[list[tuple[str, Expr]]] = field(default_factory=list)
    outputs: list[Expr] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # one tag per layer: which gadget built it

    def inputs(self) -> list[Expr]:
        return [Expr({i: ONE}, 0, 0) for i in range(self.d_in)]

    @property
    def level(self) -> int:
        return len(self.layers)

    def open_layer(self, tag: str) -> None:
        self.layers.append([])
        self.tags.append(tag)

    def _add(self, kind: str, e: Expr) -> Expr:
        if e.level is not None and e.level != self.level - 1:
            raise ValueError(f"a neuron of layer {self.level} reads level {e.level}")
        layer = self.layers[-1]
        layer.append((kind, e))
        return Expr({len(layer) - 1: ONE}, 0, self.level)

    def step(self, e: Expr, nonpos: bool = False) -> Expr:
        """1[e >= 0] as a neuron of the open layer. ``nonpos=True`` declares that the gadget keeps
        e <= 0 on every input (an AND of bits): then one ReLU, ReLU(e/δ + 1), computes it."""
        return self._add("step0" if nonpos else "step", e)

    def ident(self, e: Expr) -> Expr:
        return self._add("id", e)

    def kinds(self) -> list[tuple[int, int, int]]:
        """(ID, STEP, non-positive STEP) neurons per layer."""
        return [tuple(sum(k == t for k, _ in L) for t in ("id", "step", "step0"))  # type: ignore[misc]
                for L in self.layers]


def layer_widths(kinds: list[tuple[int, int, int]], activation: str) -> list[int]:
    """Hidden widths of the compiled network for (ID, STEP, STEP≤0) counts per Step+Id layer."""
    if activation == "relu":
        return [i + 2 * s + s0 for i, s, s0 in kinds]
    if activation == "hardtanh":
        return [i + s + s0 for i, s, s0 in kinds]
    if activation == "relu-narrow":
        return [w for i, s, s0 in kinds for w in (i + s + s0, i + s + s0)]
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def dense_parameters(d_in: int, widths: list[int], d_out: int) -> int:
    dims = [d_in, *widths, d_out]
    return sum((dims[i] + 1) * dims[i + 1] for i in range(len(dims) - 1))


# ---- exact evaluation ---------------------------------------------------------------------------
def _combine(e: Expr, prev: list[np.ndarray], n: int) -> np.ndarray:
    out = np.full(n, e.const, dtype=object)
    for k, c in e.terms.items():
        if c == 1:
            out = out + prev[k]
        elif c == -1:
            out = out - prev[k]
        else:
            out = out + prev[k] * c
    return out


@dataclass
class Evaluation:
    """Per-neuron facts gathered on the data: STEP margins and ID ranges, and the outputs."""

    step_margin: list[list[flint.fmpq | None]]  # min(-z) over z < 0 (None: never negative)
    lo: list[list[flint.fmpq]]                  # min z
    hi: list[list[flint.fmpq]]                  # max z
    outputs: list[np.ndarray]


def evaluate_program(prog: Program, Xq: np.ndarray) -> Evaluation:
    """Evaluate exactly on the rows of ``Xq`` (object array of fmpq, shape (n, d_in))."""
    n = Xq.shape[0]
    prev = [Xq[:, i].copy() for i in range(prog.d_in)]
    margins, los, his = [], [], []
    one = np.full(n, ONE, dtype=object)
    zero = np.full(n, ZERO, dtype=object)
    for layer in prog.layers:
        cur, mg, lo, hi = [], [], [], []
        for kind, e in layer:
            z = _combine(e, prev, n)
            lo.append(z.min())
            hi.append(z.max())
            if kind in ("step", "step0"):
                if kind == "step0" and hi[-1] > 0:
                    raise ValueError("a STEP declared non-positive has a positive pre-activation")
                fires = (z >= 0).astype(bool)
                mg.append(None if fires.all() else -(z[~fires].max()))
                cur.append(np.where(fires, one, zero))
            else:
                mg.append(None)
                cur.append(z)
        margins.append(mg)
        los.append(lo)
        his.append(hi)
        prev = cur
    outs = [_combine(e, prev, n) for e in prog.outputs]
    return Evaluation(margins, los, his, outs)


# ---- compilation --------------------------------------------------------------------------------
def _pow2_floor(v: flint.fmpq) -> flint.fmpq:
    """Largest power of two <= v (v > 0)."""
    e = int(v.p).bit_length() - int(v.q).bit_length()
    p = Q(2) ** e if e >= 0 else Q(1, 2 ** (-e))
    while p > v:
        p /= 2
    while p * 2 <= v:
        p *= 2
    return p


def _pow2_ceil(v: flint.fmpq) -> flint.fmpq:
    if v <= 0:
        return ONE
    p = _pow2_floor(v)
    return p if p == v else p * 2


def _dense(rows: list[dict[int, flint.fmpq]], biases: list[flint.fmpq], n_in: int,
           act: Any) -> Dense:
    W = np.full((len(rows), n_in), ZERO, dtype=object)
    for r, row in enumerate(rows):
        for c, v in row.items():
            W[r, c] = v
    return Dense(W, np.array(list(biases) + [], dtype=object).reshape(len(rows)), act)


def _substitute(e: Expr, rep: list[tuple[dict[int, flint.fmpq], flint.fmpq]]
                ) -> tuple[dict[int, flint.fmpq], flint.fmpq]:
    """Rewrite ``e`` (over program neurons) in terms of the network units: neuron k = Σ α a + β."""
    row: dict[int, flint.fmpq] = {}
    const = e.const
    for k, c in e.terms.items():
        alpha, beta = rep[k]
        const = const + c * beta
        for u, a in alpha.items():
            row[u] = row.get(u, ZERO) + c * a
    return {u: v for u, v in row.items() if v != 0}, const


def compile_program(prog: Program, ev: Evaluation, activation: str = "relu") -> Network:
    """The network computing ``prog`` exactly on the evaluated data (see module docstring)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    # representation of the previous level: input i = 1·x_i
    rep: list[tuple[dict[int, flint.fmpq], flint.fmpq]] = [({i: ONE}, ZERO) for i in range(prog.d_in)]
    n_in = prog.d_in
    layers: list[Dense] = []
    for li, layer in enumerate(prog.layers):
        rows: list[dict[int, flint.fmpq]] = []
        biases: list[flint.fmpq] = []
        rows2: list[dict[int, flint.fmpq]] = []   # relu-narrow second layer
        biases2: list[flint.fmpq] = []
        new_rep: list[tuple[dict[int, flint.fmpq], flint.fmpq]] = []
        for ni, (kind, e) in enumerate(layer):
            row, b = _substitute(e, rep)
            if kind in ("step", "step0"):
                m = ev.step_margin[li][ni]
                delta = _pow2_floor(m) if m is not None else ONE
                s = ONE / delta
                if activation == "relu" and kind == "step0":  # e <= 0: 1[e>=0] = ReLU(e/δ + 1)
                    u = len(rows)
                    rows.append({k: v * s for k, v in row.items()})
                    biases.append(b * s + 1)
                    new_rep.append(({u: ONE}, ZERO))
                elif activation == "relu":
                    u = len(rows)
                    rows += [{k: v * s for k, v in row.items()}] * 2
                    biases += [b * s + 1, b * s]
                    new_rep.append(({u: ONE, u + 1: -ONE}, ZERO))
                elif activation == "hardtanh":
                    u = len(rows)
                    rows.append({k: v * 2 * s for k, v in row.items()})
                    biases.append(b * 2 * s + 1)
                    new_rep.append(({u: Q(1, 2)}, Q(1, 2)))
                else:
                    u = len(rows)
                    rows.append({k: -v * s for k, v in row.items()})
                    biases.append(-b * s)
                    rows2.append({u: -ONE})
                    biases2.append(ONE)
                    new_rep.append(({u: ONE}, ZERO))
            else:
                lo = ev.lo[li][ni]
                if activation == "hardtanh":
                    M = _pow2_ceil(max(abs(lo), abs(ev.hi[li][ni])))
                    u = len(rows)
                    rows.append({k: v / M for k, v in row.items()})
                    biases.append(b / M)
                    new_rep.append(({u: M}, ZERO))
                else:
                    shift = Q(int(lo.floor())) if lo < 0 else ZERO
                    u = len(rows)
                    rows.append(row)
                    biases.append(b - shift)
                    if activation == "relu-narrow":
                        rows2.append({u: ONE})
                        biases2.append(ZERO)
                    new_rep.append(({u: ONE}, shift))
        act = HARDTANH if activation == "hardtanh" else RELU
        layers.append(_dense(rows, biases, n_in, act))
        if activation == "relu-narrow":
            layers.append(_dense(rows2, biases2, len(rows), RELU))
        n_in = len(rows)
        rep = new_rep
    out_rows, out_b = [], []
    for e in prog.outputs:
        row, b = _substitute(e, rep)
        out_rows.append(row)
        out_b.append(b)
    layers.append(_dense(out_rows, out_b, n_in, IDENTITY))
    return Network(layers)
