"""Theorem 3 of Park et al. (2021) as a bounds provider."""

from __future__ import annotations

from typer.testing import CliRunner

from memcap.bounds import Architecture, evaluate
from memcap.cli import app
from memcap.theory.park2021 import min_depth_uniform, theorem3


def _minimal_m(N: int) -> int:
    m = 1
    while not theorem3([3] * (10 + 2 * m) + [7] * m, N, 10, 10, 100)["holds"]:
        m += 1
    return m


def test_reading_aid_examples():
    #: d = [3]*(10+2m) + [7]*m, d_x = 10, C = 10, Δ = 100, minimal m
    for N, layers, K in [(100, 151, 4), (1000, 700, 6)]:
        m = _minimal_m(N)
        assert 10 + 3 * m == layers
        assert theorem3([3] * (10 + 2 * m) + [7] * m, N, 10, 10, 100)["K"] == K
        assert not theorem3([3] * (10 + 2 * (m - 1)) + [7] * (m - 1), N, 10, 10, 100)["holds"]


def test_conditions_are_reported():
    assert "condition 2" in theorem3([3] * 3, 1000, 10, 10, 100)["reason"]
    assert "N = 3" in theorem3([7] * 50, 3, 2, 2, 2)["reason"]
    assert "condition 4" in theorem3([3] * 210 + [7] * 100, 1000, 10, 10, 100)["reason"]
    # a width below 7 after L_K is not allowed
    assert not theorem3([7] * 300 + [5], 100, 2, 2, 2)["holds"] or theorem3([7] * 300, 100, 2, 2, 2)["holds"]


def test_min_depth_is_minimal():
    L = min_depth_uniform(7, 1000, 10, 10, 100)
    assert theorem3([7] * L, 1000, 10, 10, 100)["holds"]
    assert not theorem3([7] * (L - 1), 1000, 10, 10, 100)["holds"]
    assert min_depth_uniform(5, 1000, 10, 10, 100) is None


def test_provider_and_cli():
    rows = evaluate(Architecture(10, 10, tuple([7] * 400)), 1000, delta="100", classes=10)
    park = [r for r in rows if r.source.startswith("Park")]
    assert park[0].holds is True and park[0].values["K"] >= 2
    rows = evaluate(Architecture(10, 10, (7, 7)), 1000)
    assert [r.holds for r in rows if r.source.startswith("Park")] == [None]
    res = CliRunner().invoke(app, ["bounds", "--widths", ",".join(["7"] * 400), "-n", "1000",
                                   "--d-x", "10", "--delta", "100", "--classes", "10", "--json"])
    assert res.exit_code == 0, res.output
    assert "Park et al. 2021, Theorem 3" in res.output


def test_size_rows_and_park_size():
    from memcap.theory.park2021 import park_size

    rows = evaluate(Architecture(10, 10, (7,) * 50), 1000, delta="100", classes=10)
    sizes = [r for r in rows if r.source == "Park et al. 2021, Theorem 1"]
    assert sizes and sizes[0].values["parameters"] == park_size(1000, 10, 10, 100)["parameters"]
    assert park_size(1000, 10, 10, 100, variant="paper", activation="hardtanh")["hidden_layers"] == 822
    assert park_size(10**9, 10, 10, 100)["parameters"] < 10**9
