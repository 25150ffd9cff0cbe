"""park21-depth-width runs end to end at the test scale and writes its table and figure."""

from __future__ import annotations

import json

import pytest

from memcap.experiments import ExperimentContext, get_experiment
from memcap.experiments.executor import make_executor
from memcap.experiments.park2021 import param_count


def test_param_count_matches_the_reading_aid():
    #: P(c, b) = 28c + b(18c² + 2c) + 10c + 10 for CIFAR (3 channels, 3x3, 10 classes)
    for c, b in [(10, 27), (15, 12), (30, 3)]:
        assert param_count(c, b, 3, 9, 10) == 28 * c + b * (18 * c * c + 2 * c) + 10 * c + 10


def test_runs_at_test_scale(tmp_path):
    pytest.importorskip("torch")
    exp = get_experiment("park21-depth-width")
    with make_executor(workers=1) as ex:
        ctx = ExperimentContext(profile="test", out_dir=tmp_path, executor=ex,
                                options={"iters": "5", "n_train": "60", "n_test": "30"})
        res = exp.run(ctx)
        files = res.save(tmp_path)
    grid = res.tables[0]
    assert len(grid.rows) == 4 and all(0 <= r[4] <= 100 for r in grid.rows)
    assert any(p.suffix == ".png" for p in res.files)
    doc = json.loads((tmp_path / "result.json").read_text())
    assert doc["name"] == "park21-depth-width" and files
    # resumable: a second run reuses the stored runs
    with make_executor(workers=1) as ex:
        again = exp.run(ExperimentContext(profile="test", out_dir=tmp_path, executor=ex,
                                          options={"iters": "5", "n_train": "60", "n_test": "30"}))
    assert again.tables[0].rows == grid.rows


def test_bad_data_is_a_clear_error(tmp_path):
    from memcap.data.dataset import DataError

    exp = get_experiment("park21-depth-width")
    with make_executor(workers=1) as ex, pytest.raises(DataError, match="cifar10:DIR"):
        exp.run(ExperimentContext(profile="test", out_dir=tmp_path, executor=ex,
                                  options={"data": "imagenet"}))
    with make_executor(workers=1) as ex, pytest.raises(DataError, match="data_batch_1.bin"):
        exp.run(ExperimentContext(profile="test", out_dir=tmp_path, executor=ex,
                                  options={"data": f"cifar10:{tmp_path}"}))


def test_cli_data_flag_and_clear_error(tmp_path):
    from typer.testing import CliRunner

    from memcap.cli import app

    res = CliRunner().invoke(app, ["experiment", "park21-depth-width", "--profile", "test", "--data",
                                   f"cifar10:{tmp_path}", "--out", str(tmp_path / "o"), "--workers", "1"])
    assert res.exit_code == 2
    assert "data_batch_1.bin" in res.output
