"""Bounds provider for Yun et al. 2019 (Theorems 3.1, 3.3, 4.1, Cor. 4.2) and Zhang et al. 2017."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memcap
from memcap.bounds import Architecture, evaluate
from memcap.bounds.yun2019 import (
    smallest_architectures,
    thm33_max_n,
    thm33_min_three_layer,
    thm33_min_two_layer_width,
    yun2019_bounds,
)
from memcap.network import HARDTANH, RELU
from memcap.theory.yun2019 import three_layer_minimal_widths


def _rows(arch, N, ds=None):
    return {r.source: r for r in yun2019_bounds(arch, N, ds)}


@pytest.mark.parametrize("act", [RELU, HARDTANH])
def test_thm33_boundary(act):
    p = act.pieces
    for ws in [(7,), (3, 5)]:
        nmax = thm33_max_n(ws, p)
        arch = Architecture(1, 1, ws, act)
        assert _rows(arch, nmax)["Yun et al. 2019, Theorem 3.3"].holds is True
        bad = _rows(arch, nmax + 1)["Yun et al. 2019, Theorem 3.3"]
        assert bad.holds is False and "gen:hard" in bad.detail
    assert thm33_max_n((7,), 2) == 9 and thm33_max_n((7,), 3) == 16
    assert thm33_max_n((3, 5), 2) == 2 * 15 + 5 + 2


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 3000), dy=st.integers(1, 3), act=st.sampled_from([RELU, HARDTANH]))
def test_sufficient_never_contradicts_necessary(N, dy, act):
    """Theorem 3.1's smallest widths are never ruled out by Theorem 3.3 (or its any-depth count)."""
    d1, d2 = three_layer_minimal_widths(N, dy, act)
    rows = _rows(Architecture(2, dy, (d1, d2), act), N)
    assert rows["Yun et al. 2019, Theorem 3.1 (yun-3layer)"].holds
    assert rows["Yun et al. 2019, Theorem 3.3"].holds
    assert rows["Yun et al. 2019, Theorem 3.3's piece count (App. D), any depth"].holds


@settings(max_examples=30, deadline=None)
@given(N=st.integers(3, 400), p=st.sampled_from([2, 3]))
def test_minimal_necessary_sizes_are_minimal(N, p):
    w = thm33_min_two_layer_width(N, p)
    assert thm33_max_n((w,), p) >= N and (w == 1 or thm33_max_n((w - 1,), p) < N)
    a, b = thm33_min_three_layer(N, p)
    assert thm33_max_n((a, b), p) >= N
    for d1 in range(1, a + b):
        for d2 in range(1, a + b - d1):
            assert thm33_max_n((d1, d2), p) < N


def test_cifar10_smallest_architectures():
    rows = {r["source"]: r for r in smallest_architectures(50000, 3072, 10, RELU, class_counts=[5000] * 10)}
    assert rows["Yun et al. 2019, Corollary 4.2"]["hidden_neurons"] == 80
    assert rows["Yun et al. 2019, Theorem 4.1 (ResNet)"]["hidden_neurons"] == 100
    assert rows["Zhang et al. 2017, Theorem 1"]["hidden_neurons"] == 50000
    t31 = rows["Yun et al. 2019, Theorem 3.1"]
    assert t31["widths"] == list(three_layer_minimal_widths(50000, 10, RELU, 3072))


def test_general_position_rows_with_data():
    with pytest.warns(UserWarning):
        iris = memcap.load_dataset("builtin:iris")
    cor = "Yun et al. 2019, Corollary 4.2 (yun-2layer-gp)"
    r = _rows(Architecture(4, 3, (400,), RELU), iris.N, iris)[cor]
    assert r.holds is False and "NOT in general position" in r.detail
    rng = np.random.default_rng(0)
    ds = memcap.Dataset(rng.standard_normal((30, 3)), np.arange(30) % 3, task="classification")
    rows = _rows(Architecture(3, 3, (48,), RELU), 30, ds)
    assert rows["Yun et al. 2019, Corollary 4.2 (yun-2layer-gp)"].holds  # 10 points per class: 4 gates each
    assert not _rows(Architecture(3, 3, (47,), RELU), 30, ds)[cor].holds
    G = rows["Yun et al. 2019, Corollary 4.2 (yun-2layer-gp)"].values["G"]
    assert G == 3 * 4 and memcap.construct(ds, "yun-2layer-gp", widths=(4 * G,)).verification.memorized
    res = _rows(Architecture(3, 3, (24, 24, 6), RELU, residual=True), 30, ds)
    assert res["Yun et al. 2019, Theorem 4.1 (yun-resnet)"].holds
    assert not _rows(Architecture(3, 3, (24, 23, 6), RELU, residual=True), 30, ds)[
        "Yun et al. 2019, Theorem 4.1 (yun-resnet)"].holds


def test_zhang_row_and_cli(tmp_path):
    assert _rows(Architecture(2, 1, (10,), RELU), 10)["Zhang et al. 2017, Theorem 1 (zhang17-wide)"].holds
    assert not _rows(Architecture(2, 1, (9,), RELU), 10)["Zhang et al. 2017, Theorem 1 (zhang17-wide)"].holds
    names = [r.source for r in evaluate(Architecture(1, 1, (4, 4)), 50)]
    assert "Yun et al. 2019, Theorem 3.3" in names
    from typer.testing import CliRunner

    from memcap.cli import app

    res = CliRunner().invoke(app, ["bounds", "--widths", "4,4", "-n", "50", "--json"])
    assert res.exit_code == 0 and "Theorem 3.3" in res.output and "N_max" in res.output
