"""`--precision` selection: the smallest registered method certified at that precision, with the
reasons; clear refusals (bits needed, the method that works higher); the CLI exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from memcap.certify.precision import certify_precision
from memcap.cli import app
from memcap.constructions.base import ConstructionError
from memcap.data import Dataset, load_dataset
from memcap.errors import ConditionError
from memcap.select import candidate_methods, choose_method

runner = CliRunner()


def _data(n: int = 300, d: int = 8, seed: int = 1) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32).astype(np.float64)
    return Dataset(X, rng.uniform(-1, 1, n).astype(np.float32).astype(np.float64))


def test_float32_picks_a_certified_method_and_says_why_smaller_ones_fail() -> None:
    ds = _data()
    c, cert, attempts = choose_method(ds, "float32")
    assert cert.certified and cert.precision == "float32" and cert.worst_bound <= 1e-3
    chosen = attempts[-1]
    assert chosen.certified and all(not a.certified for a in attempts[:-1])
    assert all(a.parameters <= chosen.parameters for a in attempts)
    assert all(a.reason for a in attempts[:-1])
    # independent float32 torch evaluation is within the stated worst-case bound
    with torch.no_grad():
        y = c.network.to_torch(torch.float32)(torch.tensor(ds.X, dtype=torch.float32)).double().numpy()
    assert np.max(np.abs(y - ds.targets)) <= cert.worst_bound
    assert c.network.meta["precision_certificate"]["precision"] == "float32"


def test_exact_and_float64_pick_smaller_methods_than_float32() -> None:
    ds = _data(200, 4, 2)
    sizes = {p: choose_method(ds, p)[2][-1].parameters for p in ("exact", "float64", "float32")}
    assert sizes["exact"] <= sizes["float64"] <= sizes["float32"]


def test_refusal_names_bits_and_the_method_that_works() -> None:
    ds = _data(200, 4, 3)
    with pytest.raises(ConstructionError) as exc:
        choose_method(ds, "float32", tol=1e-9)
    msg = str(exc.value)
    assert "no registered method is certified faithful in float32" in msg
    assert "significand bits" in msg and "float32 has 24" in msg
    assert "--precision float64" in msg or "--precision exact" in msg


def test_certify_precision_classification_and_exact() -> None:
    ds = load_dataset("gen:gaussian?n=60&d=3&seed=4&task=classification&classes=3")
    c, cert, _ = choose_method(ds, "float32")
    assert cert.certified and cert.worst_bound > 0  # smallest float32 margin, certified
    ex = certify_precision(c.network, ds, "exact")
    assert ex.certified and ex.rounding_bound == 0.0


def test_candidates_are_sorted_by_size() -> None:
    cands = candidate_methods(_data(100, 3), "float32")
    sizes = [c[2] for c in cands]
    assert sizes == sorted(sizes) and any(c[0] == "twoproj-5layer" and c[1] for c in cands)


def test_cli_construct_and_verify_precision(tmp_path) -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((250, 6)).astype(np.float32)
    y = rng.uniform(-1, 1, 250).astype(np.float32)
    src = tmp_path / "d.npz"
    np.savez(src, X=X, y=y)
    out = tmp_path / "net.npz"
    r = runner.invoke(app, ["construct", "--data", str(src), "-o", str(out), "--precision", "float32",
                            "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["precision"]["certified"] and d["precision"]["precision"] == "float32"
    r = runner.invoke(app, ["verify", str(out), "--data", str(src), "--precision", "float32"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", str(out), "--data", str(src), "--precision", "float32",
                            "--tol", "1e-9"])
    assert r.exit_code == 1
    r = runner.invoke(app, ["verify", str(out), "--data", str(src), "--precision", "float16"])
    assert r.exit_code == 2 and "float32, float64, exact" in r.output


def test_cli_refuses_clearly_and_writes_nothing(tmp_path) -> None:
    out = tmp_path / "never.npz"
    r = runner.invoke(app, ["construct", "--data", "gen:gaussian?n=120&d=3&seed=1", "-o", str(out),
                            "--precision", "float32", "--tol", "1e-9"])
    assert r.exit_code == 1  # a ConstructionError: no network could be certified (not bad input)
    assert "significand bits" in r.output and not out.exists()
    r = runner.invoke(app, ["construct", "--data", "gen:gaussian?n=120&d=3&seed=1", "-o", str(out),
                            "--precision", "float32", "--method", "yun-3layer"])
    assert r.exit_code == 1 and "float32" in r.output and not out.exists()
    r = runner.invoke(app, ["construct", "--data", "gen:gaussian?n=120&d=3&seed=1", "-o", str(out),
                            "--precision", "float32", "--widths", "8,8"])
    assert r.exit_code == 2 and "--method" in r.output


def test_refusal_does_not_claim_exact_failure_when_candidates_only_errored(monkeypatch) -> None:
    from memcap.constructions.faithful import twoproj

    ds = load_dataset("gen:gaussian?n=40&d=3&seed=2")

    def broken(*a, **k):  # a refusal of memcap's (a bug, e.g. ZeroDivisionError, would propagate)
        raise ConditionError("the group direction cannot be computed")

    monkeypatch.setattr(twoproj, "_group_direction", broken)
    with pytest.raises(ConstructionError) as err:
        choose_method(ds, "float32", methods=["twoproj-5layer"])
    msg = str(err.value)
    assert "never checked in exact arithmetic" in msg and "ConditionError" in msg
    assert "no candidate memorizes even in exact arithmetic" not in msg
def test_one_class_is_certified_at_every_precision_with_one_bit():
    """One class: the margin is infinite, so no precision can lose it (was a math domain error)."""
    import numpy as np

    import memcap
    from memcap.select import choose_method

    rng = np.random.default_rng(0)
    ds = memcap.Dataset(rng.standard_normal((12, 3)), np.zeros(12, dtype=int), task="classification")
    for p in ("float32", "float64"):
        _, pc, _ = choose_method(ds, p)
        assert pc.certified and pc.bits_needed == 1
