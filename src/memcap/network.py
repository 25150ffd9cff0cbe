"""The `Network`: a plain data object holding layers of weights, biases and activations.

A network is a list of layers. Each `Dense` layer computes ``a' = act(W a + b)`` with ``W`` of shape
``(out, in)``. A `Residual` block computes ``h' = h + V act(U h + b) + c`` (Yun et al. 2019, Sec. 4).
Weights are numpy arrays: ``float64`` for ordinary networks or ``object`` arrays of exact rationals
(``flint.fmpq``) when a construction needs more precision than float64 carries. Evaluation lives in
:mod:`memcap.numerics`; this module holds data, activations and counts only.

**Sparse layers.** A `Dense` layer's ``weight`` may be a ``scipy.sparse`` CSR matrix of float64
(`Dense.sparse`); constructions whose blocks are mostly zero store them so (`sparse_if_smaller`).
Only float64 weights are sparse: exact (``fmpq`` object) weights are always dense object arrays —
exact networks are small (exact arithmetic costs far more than their storage). Every evaluation tier
works on the sparse form; ``Network.counts()`` reports ``stored_parameters`` (the values actually
stored: non-zeros of sparse weights, every entry of dense ones) next to the dense count
``parameters``. ``Network.to_dense()`` gives a copy with dense weights for code that needs arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from scipy import sparse as _sp

from memcap.errors import OptionError

__all__ = ["Activation", "Dense", "Residual", "Network", "RELU", "HARDTANH", "IDENTITY", "as_activation",
           "ACTIVATION_SPELLINGS", "is_sparse",
           "sparse_if_smaller"]

#: how an activation can be written (``Activation.parse``, ``--activation``, ``activation=``)
ACTIVATION_SPELLINGS = ("relu, hardtanh (hard-tanh), identity (linear), tanh, softplus, leaky:SLOPE, "
                        "relu_like:S_PLUS,S_MINUS")


def _slope(part: str, text: str) -> Fraction:
    """A slope of ``leaky:`` / ``relu_like:`` as an exact fraction ('0.1', '1/8'), refused clearly."""
    try:
        return Fraction(part.strip())
    except (ValueError, ZeroDivisionError):
        raise OptionError(f"activation {text!r}: slope {part.strip()!r} is not a finite decimal or "
                          f"fraction (e.g. leaky:0.1, relu_like:1,1/8); use {ACTIVATION_SPELLINGS}") from None


@dataclass(frozen=True)
class Activation:
    """An activation function.

    ``kind`` is ``"relu_like"`` (``s_plus * t`` for ``t >= 0``, ``s_minus * t`` for ``t < 0``,
    with ``s_plus > s_minus >= 0``; plain ReLU is ``(1, 0)``), ``"hardtanh"`` (clip to [-1, 1])
    or ``"identity"``. Slopes are exact fractions so exact evaluation stays exact.
    ``"tanh"`` and ``"softplus"`` (log(1 + e^t)) are the smooth activations of Zhang et al. (2021),
    used by trained networks; being transcendental, they have float and ball evaluation but no exact
    rational one.
    """

    kind: str
    s_plus: Fraction = Fraction(1)
    s_minus: Fraction = Fraction(0)

    def __post_init__(self) -> None:
        if self.kind not in ("relu_like", "hardtanh", "identity", "tanh", "softplus"):
            raise ValueError(f"unknown activation kind {self.kind!r}")
        object.__setattr__(self, "s_plus", Fraction(self.s_plus))
        object.__setattr__(self, "s_minus", Fraction(self.s_minus))
        if self.kind == "relu_like" and not self.s_plus > self.s_minus >= 0:
            raise ValueError(
                f"a ReLU-like activation needs s_plus > s_minus >= 0, got s_plus={self.s_plus}, "
                f"s_minus={self.s_minus}"
            )

    @property
    def name(self) -> str:
        if self.kind == "relu_like":
            if self.s_plus == 1 and self.s_minus == 0:
                return "relu"
            return f"relu_like({self.s_plus},{self.s_minus})"
        return self.kind

    @property
    def lipschitz(self) -> Fraction:
        if self.kind == "relu_like":
            return self.s_plus
        return Fraction(1)

    @property
    def smooth(self) -> bool:
        """True for the analytic activations (tanh, softplus): not piecewise linear."""
        return self.kind in ("tanh", "softplus")

    @property
    def pieces(self) -> int:
        """Number of linear pieces (Theorem 3.3's p); undefined for smooth activations."""
        if self.smooth:
            raise ValueError(f"{self.kind} is not piecewise linear: it has no number of pieces")
        return {"relu_like": 2, "hardtanh": 3, "identity": 1}[self.kind]

    @staticmethod
    def parse(text: str) -> Activation:
        """Parse ``relu``, ``hardtanh``, ``identity``, ``leaky:0.1`` or ``relu_like:S+,S-``."""
        t = text.strip().lower().replace("-", "_")
        if t == "relu":
            return RELU
        if t in ("hardtanh", "hard_tanh"):
            return HARDTANH
        if t in ("identity", "linear"):
            return IDENTITY
        if t in ("tanh", "softplus"):
            return Activation(t)
        if t.startswith("leaky"):
            slope = t.partition(":")[2] or "0.01"
            return Activation("relu_like", Fraction(1), Fraction(slope))
        if t.startswith("relu_like"):
            parts = t.partition(":")[2].split(",")
            if len(parts) != 2:
                raise OptionError(f"relu_like needs two slopes, e.g. relu_like:1,0.2, got {text!r}; "
                                  f"use {ACTIVATION_SPELLINGS}")
            return Activation("relu_like", _slope(parts[0], text), _slope(parts[1], text))
        raise OptionError(f"unknown activation {text!r}; use {ACTIVATION_SPELLINGS}")

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "s_plus": str(self.s_plus), "s_minus": str(self.s_minus)}

    @staticmethod
    def from_json(d: dict[str, str]) -> Activation:
        return Activation(d["kind"], Fraction(d["s_plus"]), Fraction(d["s_minus"]))


RELU = Activation("relu_like")
HARDTANH = Activation("hardtanh")
IDENTITY = Activation("identity")


def as_activation(x: str | Activation) -> Activation:
    """``x`` as an :class:`Activation`: an Activation is returned as it is, text is parsed
    (:meth:`Activation.parse`). Anything else, or text naming no activation, raises
    :class:`~memcap.errors.OptionError` listing the accepted spellings."""
    if isinstance(x, Activation):
        return x
    if not isinstance(x, str):
        raise OptionError(f"activation must be an Activation or text ({ACTIVATION_SPELLINGS}), "
                          f"got {type(x).__name__} {x!r}")
    try:
        return Activation.parse(x)
    except OptionError:
        raise
    except (ValueError, ZeroDivisionError) as exc:  # a malformed slope (Fraction) or slopes out of order
        raise OptionError(f"activation {x!r}: {exc}; use {ACTIVATION_SPELLINGS}") from None


def _is_exact(a: Any) -> bool:
    return a.dtype == object


def is_sparse(a: Any) -> bool:
    """True for a scipy.sparse matrix (a sparse layer's weight)."""
    return bool(_sp.issparse(a))


def _csr(a: Any) -> Any:
    """Canonical CSR float64 copy: explicit zeros dropped, indices sorted (so nnz = stored values)."""
    m = _sp.csr_matrix(a, dtype=np.float64, copy=True)
    m.eliminate_zeros()
    m.sum_duplicates()
    m.sort_indices()
    return m


def _size(a: Any) -> int:
    """Dense entry count (a scipy matrix's ``size`` is its nnz)."""
    return int(np.prod(a.shape))


def _stored(a: Any) -> int:
    return int(a.nnz) if is_sparse(a) else int(np.asarray(a).size)


def sparse_if_smaller(W: Any) -> Any:
    """W as CSR when that takes fewer bytes than the dense float64 array (8 bytes per value and 4 per
    column index, plus row pointers), else dense. Exact (object) arrays are returned unchanged."""
    if is_sparse(W):
        W = _csr(W)
        return W if 12 * W.nnz + 4 * (W.shape[0] + 1) < 8 * _size(W) else W.toarray()
    W = np.asarray(W)
    if W.dtype == object or W.ndim != 2:
        return W
    nnz = int(np.count_nonzero(W))
    return _csr(W) if 12 * nnz + 4 * (W.shape[0] + 1) < 8 * W.size else W


@dataclass
class Dense:
    """``act(weight @ a + bias)``; ``weight`` has shape (out, in)."""

    weight: np.ndarray
    bias: np.ndarray
    activation: Activation = IDENTITY

    def __post_init__(self) -> None:
        if is_sparse(self.weight):
            if self.weight.dtype == object:
                raise ValueError("sparse weights must be float64; exact weights are stored dense")
            self.weight = _csr(self.weight)
        else:
            self.weight = np.asarray(self.weight)
        self.bias = np.asarray(self.bias)
        if len(self.weight.shape) != 2 or self.bias.shape != (self.weight.shape[0],):
            raise ValueError(
                f"Dense layer needs weight (out, in) and bias (out,), got {self.weight.shape} and "
                f"{self.bias.shape}"
            )

    @property
    def in_dim(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.weight.shape[0])

    @property
    def sparse(self) -> bool:
        """True when the weight is held as a scipy.sparse CSR matrix."""
        return is_sparse(self.weight)

    def arrays(self) -> list[Any]:
        return [self.weight, self.bias]

    def dense_weight(self) -> np.ndarray:
        return self.weight.toarray() if self.sparse else self.weight


@dataclass
class Residual:
    """Residual block ``h + V act(U h + b) + c`` (Yun et al. 2019, Sec. 4)."""

    U: np.ndarray
    b: np.ndarray
    V: np.ndarray
    c: np.ndarray
    activation: Activation = RELU

    def __post_init__(self) -> None:
        for name in ("U", "b", "V", "c"):
            setattr(self, name, np.asarray(getattr(self, name)))
        d, w = self.U.shape[1], self.U.shape[0]
        if self.b.shape != (w,) or self.V.shape != (d, w) or self.c.shape != (d,):
            raise ValueError(
                f"Residual block shapes disagree: U {self.U.shape}, b {self.b.shape}, "
                f"V {self.V.shape}, c {self.c.shape}"
            )

    @property
    def in_dim(self) -> int:
        return int(self.U.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.U.shape[1])

    @property
    def hidden(self) -> int:
        return int(self.U.shape[0])

    def arrays(self) -> list[np.ndarray]:
        return [self.U, self.b, self.V, self.c]


Layer = Dense | Residual


@dataclass
class Network:
    """A feed-forward network: ``layers`` applied in order; plain data, no hidden state.

    ``meta`` is free-form JSON-able metadata (the method that built it, the certificate summary).
    """

    layers: list[Layer]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("a Network needs at least one layer")
        for i in range(1, len(self.layers)):
            if self.layers[i].in_dim != self.layers[i - 1].out_dim:
                raise ValueError(
                    f"layer {i} expects input width {self.layers[i].in_dim} but layer {i - 1} "
                    f"outputs {self.layers[i - 1].out_dim}"
                )

    # ---- shape and counts -------------------------------------------------------------------
    @property
    def in_dim(self) -> int:
        return self.layers[0].in_dim

    @property
    def out_dim(self) -> int:
        return self.layers[-1].out_dim

    @property
    def exact(self) -> bool:
        """True when the weights are exact rationals (object arrays) rather than float64."""
        return any(_is_exact(a) for layer in self.layers for a in layer.arrays())

    @property
    def depth(self) -> int:
        """Number of affine layers (the papers' L; a residual block counts as one layer)."""
        return len(self.layers)

    @property
    def widths(self) -> list[int]:
        """Hidden widths (the papers' d_1, ..., d_{L-1}); residual blocks report their hidden width."""
        out: list[int] = []
        for layer in self.layers[:-1]:
            out.append(layer.hidden if isinstance(layer, Residual) else layer.out_dim)
        if isinstance(self.layers[-1], Residual):
            out.append(self.layers[-1].hidden)
        return out

    @property
    def hidden_neurons(self) -> int:
        return sum(self.widths)

    @property
    def parameters(self) -> int:
        """Dense count of weights plus biases (every entry of every matrix, zeros included)."""
        return sum(_size(a) for layer in self.layers for a in layer.arrays())

    @property
    def stored_parameters(self) -> int:
        """Values actually stored: non-zeros of sparse weights, every entry of dense arrays."""
        return sum(_stored(a) for layer in self.layers for a in layer.arrays())

    @property
    def sparse(self) -> bool:
        """True when some layer holds its weight sparse."""
        return any(isinstance(layer, Dense) and layer.sparse for layer in self.layers)

    @property
    def nonzeros(self) -> int:
        return sum(int(a.count_nonzero()) if is_sparse(a) else int(np.count_nonzero(a != 0))
                   for layer in self.layers for a in layer.arrays())

    @property
    def max_abs_weight(self) -> float:
        def amax(a: Any) -> float:
            if is_sparse(a):
                return float(abs(a).max()) if a.nnz else 0.0
            return float(np.max(np.abs(np.asarray(a, dtype=float)))) if a.size else 0.0

        return max(amax(a) for layer in self.layers for a in layer.arrays())

    def counts(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "widths": self.widths,
            "hidden_neurons": self.hidden_neurons,
            "parameters": self.parameters,
            "stored_parameters": self.stored_parameters,
            "nonzeros": self.nonzeros,
            "sparse_layers": sum(1 for la in self.layers if isinstance(la, Dense) and la.sparse),
            "max_abs_weight": self.max_abs_weight,
            "exact_weights": self.exact,
        }

    def activations(self) -> list[Activation]:
        return [layer.activation for layer in self.layers]

    # ---- evaluation (delegated) -------------------------------------------------------------
    def __call__(self, X: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
        """Evaluate in floating point (rows of ``X`` are inputs). For certified answers use
        :func:`memcap.verify` or :mod:`memcap.numerics`."""
        from memcap.numerics import forward_float

        return forward_float(self, np.asarray(X), dtype=dtype)

    def to_float(self) -> Network:
        """A copy with every weight rounded to float64 (round-to-nearest)."""
        from memcap.numerics import to_float_array

        layers: list[Layer] = []
        for layer in self.layers:
            if isinstance(layer, Dense):
                W = layer.weight.copy() if layer.sparse else to_float_array(layer.weight)
                layers.append(Dense(W, to_float_array(layer.bias), layer.activation))
            else:
                layers.append(Residual(*(to_float_array(a) for a in layer.arrays()), layer.activation))
        return Network(layers, dict(self.meta))

    def to_dense(self) -> Network:
        """A copy whose weights are all dense arrays (same values)."""
        layers: list[Layer] = [Dense(la.dense_weight(), la.bias.copy(), la.activation)
                               if isinstance(la, Dense) else la for la in self.layers]
        return Network(layers, dict(self.meta))

    def to_sparse(self) -> Network:
        """A copy whose float64 Dense weights are CSR wherever that is smaller (`sparse_if_smaller`)."""
        layers: list[Layer] = [Dense(sparse_if_smaller(la.weight), la.bias.copy(), la.activation)
                               if isinstance(la, Dense) else la for la in self.layers]
        return Network(layers, dict(self.meta))

    def to_torch(self, dtype: Any = None, allow_unfaithful: bool = False, **options: Any) -> Any:
        """An equivalent ``torch.nn.Sequential`` (needs the ``torch`` extra); see
        :func:`memcap.io.torch.to_torch` for the refusal of float-unfaithful networks and for sparse
        layers (``sparse=``, ``max_dense_bytes=``)."""
        from memcap.io.torch import to_torch

        return to_torch(self, dtype=dtype, allow_unfaithful=allow_unfaithful, **options)
