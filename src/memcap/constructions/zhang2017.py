"""The classical N-neuron interpolator of Zhang, Bengio, Hardt, Recht & Vinyals (2017),
"Understanding deep learning requires rethinking generalization", Theorem 1 (proof in their Sec. C).

The baseline every later construction improves on: one hidden layer of N ReLUs memorizes any N
distinct points with arbitrary real targets ("2n + d weights": a, b, w).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from memcap import meta as mk
from memcap.constructions.base import Certificate, Condition, ConditionError, Construction, Field, register
from memcap.constructions.options import ACTIVATION, CANDIDATES, SEED, WIDTHS
from memcap.constructions.yun2019.three_layer import sorted_projection
from memcap.data.dataset import Dataset
from memcap.network import IDENTITY, RELU, Activation, Dense, Network, as_activation

__all__ = ["zhang_wide", "zhang_wide_sizes"]

REFERENCE = ("Zhang, Bengio, Hardt, Recht & Vinyals (2017), 'Understanding deep learning requires "
             "rethinking generalization', Theorem 1")


def zhang_wide_sizes(ds: Dataset, widths: tuple[int, ...] | None = None, **_: Any) -> dict[str, Any]:
    """Widths [N] (or the given d1 ≥ N), P = d1(d_x+1) + d_y(d1+1), depth 2."""
    d1 = int(widths[0]) if widths else ds.N
    return {"widths": [d1], "depth": 2, "parameters": d1 * (ds.d_x + 1) + ds.d_y * (d1 + 1)}


def _zhang_break(ds: Dataset, **_: Any) -> dict[str, Any]:
    return {"widths": (ds.N - 1,)}


@register(
    "zhang17-wide",
    theorem="Zhang et al. 2017, Theorem 1",
    condition="N distinct points, any real targets; one hidden ReLU layer with d1 ≥ N",
    sizes="one hidden layer of N ReLUs; P = N(d_x+1) + d_y(N+1) (2N + d_x distinct numbers)",
    size_formula=zhang_wide_sizes,
    break_condition=_zhang_break,
    options=(WIDTHS, ACTIVATION.with_default("relu", "relu only"), SEED, CANDIDATES),
)
def zhang_wide(ds: Dataset, widths: tuple[int, ...] | None = None, activation: str | Activation = "relu",
               arithmetic: str = "float64", seed: int = 0, candidates: int = 20) -> Construction:
    """Theorem 1 of Zhang et al. (2017): ``c(x) = Σ_j w_j max(a^T x - b_j, 0)`` interpolates any N
    distinct points with N hidden ReLUs.

    Steps (their proof): pick a with distinct projections z_i = a^T x_i (we reuse yun-3layer's best of
    ``candidates`` random integer directions); sort z_1 < ... < z_N; put the biases between
    consecutive projections, ``b_1 < z_1 < b_2 < z_2 < ... < b_N < z_N`` (here b_1 = z_1 - δ and
    b_j = (z_(j-1) + z_j)/2, δ the smallest gap); then A_ij = max(z_i - b_j, 0) is lower triangular
    with positive diagonal and ``A w = y`` is solved by forward substitution. We solve it in O(N) per
    output instead of O(N²): with slopes S_i = Σ_(j≤i) w_j, ``f(z_i) = f(z_(i-1)) + S_(i-1)(b_i -
    z_(i-1)) + S_i (z_i - b_i)``. Several outputs share the hidden layer (one solve per column);
    classification is fit as one-hot targets. ReLU only (a leaky slope breaks the triangular form).
    """
    t0 = time.perf_counter()
    act = as_activation(activation)
    if act != RELU:
        raise ConditionError(f"Zhang et al.'s Theorem 1 uses ReLU (A is triangular only when max(t, 0) "
                             f"vanishes for t < 0), got {act.name}")
    N, d_x, d_y = ds.N, ds.d_x, ds.d_y
    d1 = int(widths[0]) if widths else N
    if widths is not None and len(widths) != 1:
        raise ConditionError(f"Theorem 1 is about one hidden layer; got widths {list(widths)}")
    cond = Condition("d1 ≥ N (one hidden ReLU per point)", {"d1": d1, "N": N}, d1 >= N)
    if not cond.holds:
        raise ConditionError(f"width d1 = {d1} < N = {N}: Zhang et al.'s Theorem 1 needs one hidden ReLU "
                             f"per point (d1 ≥ {N}); for fewer neurons use yun-3layer")
    F = Field(arithmetic)
    # the paper's a and z_i = a^T x_i, sorted: Step 0 of yun-3layer (a tie along a raises)
    a, a_f, order, z, delta = sorted_projection(ds, F, seed, candidates)
    b = np.concatenate([[z[0] - delta], (z[:-1] + z[1:]) / 2])
    Y = F.array(ds.targets)[order]  # (N, d_y)
    # O(N) forward substitution on slopes
    S = F.zeros((N, d_y))
    f_prev = F.zeros(d_y)
    S_prev = F.zeros(d_y)
    z_prev = b[0]
    for i in range(N):
        base = f_prev + S_prev * (b[i] - z_prev)
        S[i] = (Y[i] - base) / (z[i] - b[i])
        f_prev, S_prev, z_prev = Y[i], S[i], z[i]
    w = np.concatenate([S[:1], S[1:] - S[:-1]], axis=0)  # (N, d_y)
    W1 = np.repeat(a_f[None, :], N, axis=0)
    layers = [Dense(W1, -b, RELU), Dense(w.T.copy(), F.zeros(d_y), IDENTITY)]
    if d1 > N:
        layers = [Dense(np.concatenate([W1, F.zeros((d1 - N, d_x))]), np.concatenate([-b, F.zeros(d1 - N)]),
                        RELU),
                  Dense(np.concatenate([w.T, F.zeros((d_y, d1 - N))], axis=1), F.zeros(d_y), IDENTITY)]
    net = Network(layers, meta={mk.METHOD: "zhang17-wide", mk.ACTIVATION: "relu"})
    cert = Certificate(
        method="zhang17-wide", theorem="Theorem 1 (Zhang et al. 2017)", reference=REFERENCE,
        conditions=[Condition("x_i distinct", {"N": N}, True), cond],
        guarantees=["f(x_i) = y_i for every i in exact arithmetic of the stated weights" if F.exact else
                    "f(x_i) = y_i up to rounding the weights to float64 (bounded by the verifier)"],
        arithmetic=F.name,
        notes=[f"projection a: best of {candidates} random integer directions (seed {seed})",
               "slopes solved by an O(N) recursion (forward substitution of the triangular system)"]
        + (["classification fit as one-hot targets"] if ds.task == "classification" else []),
    )
    absw = np.abs(np.asarray(w, dtype=float))
    info = {"build_seconds": time.perf_counter() - t0, "max_abs_w": float(absw.max()) if absw.size else 0.0}
    return Construction(net, cert, info)
