"""`memcap bounds` rows of the precision provider: zigzag's condition beside Theorem 3.1 / 3.3 and
the dimension count, and agreement with what the constructions actually build."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from memcap.bounds import Architecture, evaluate
from memcap.cli import app
from memcap.constructions.registry import get_method
from memcap.data import load_dataset
from memcap.network import RELU, Activation


def _rows(widths, N, act=RELU):
    return {r.source: r for r in evaluate(Architecture(1, 1, widths, act), N)}


def test_zigzag_row_beside_theorems_31_33_and_dimension_count() -> None:
    rows = _rows((15, 8), 64)
    zz = next(r for s, r in rows.items() if "zigzag" in s)
    dim = next(r for s, r in rows.items() if "dimension count" in s)
    t31 = next(r for s, r in rows.items() if "Theorem 3.1" in s)
    t33 = next(r for s, r in rows.items() if s.endswith("Theorem 3.3"))
    assert zz.holds and zz.values["lhs"] == 64 and not t31.holds
    assert dim.kind == "necessary" and dim.holds and t33.holds
    assert not _rows((15, 7), 64)[zz.source].holds
    assert not next(r for s, r in _rows((3, 3), 17).items() if "dimension count" in s).holds
    leaky = _rows((15, 8), 64, Activation.parse("leaky:0.1"))
    assert next(r for s, r in leaky.items() if "zigzag" in s).holds is None


def test_sufficient_rows_match_the_built_networks() -> None:
    ds = load_dataset("gen:hard?n=60")
    for name, key in (("zigzag-3layer", "zigzag"), ("decoupled-3layer", "decoupled")):
        c = get_method(name).build(ds)
        rows = _rows(tuple(c.network.widths), ds.N)
        assert next(r for s, r in rows.items() if key in s).holds


def test_cli_bounds_json_has_the_rows() -> None:
    r = CliRunner().invoke(app, ["bounds", "--widths", "15,8", "-n", "64", "--json"])
    assert r.exit_code == 0
    sources = [row["source"] for row in json.loads(r.stdout)]
    assert any("zigzag" in s for s in sources) and any("dimension count" in s for s in sources)
