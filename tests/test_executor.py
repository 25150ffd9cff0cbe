"""The grid executor: local (inline and processes) and Ray paths, resumable result store."""

import operator

import pytest

from memcap.experiments.executor import LocalExecutor, ResultStore, make_executor, run_grid

CALLS: list[int] = []


def _record(x: int) -> int:
    CALLS.append(x)
    return x * x


def test_inline_executor_and_resume(tmp_path):
    store = ResultStore(tmp_path / "runs")
    tasks = {f"t{i}": i for i in range(5)}
    CALLS.clear()
    with LocalExecutor(1) as ex:
        assert run_grid(ex, _record, tasks, store) == {f"t{i}": i * i for i in range(5)}
        assert sorted(CALLS) == list(range(5))
        CALLS.clear()
        more = {**tasks, "t9": 9}
        seen = []
        assert run_grid(ex, _record, more, store, progress=lambda k, t, key: seen.append((k, t)))["t9"] == 81
        assert CALLS == [9]  # the five stored runs are not recomputed
        assert seen[0] == (5, 6) and seen[-1] == (6, 6)
    assert store.has("t3") and store.get("t3") == 9


def test_process_pool_executor():
    with LocalExecutor(2) as ex:
        got = dict(ex.map_unordered(operator.neg, [1, 2, 3]))
    assert got == {0: -1, 1: -2, 2: -3}


def test_make_executor_refuses_an_address_without_ray():
    with pytest.raises(ValueError, match="--ray"):
        make_executor(ray=False, address="ray://somewhere:10001")
    assert make_executor(workers=1).describe() == "local (1 worker)"


def test_ray_executor_on_a_local_instance(tmp_path):
    pytest.importorskip("ray", reason="the 'ray' extra is not installed")
    ex = make_executor(ray=True, workers=1)
    try:
        assert ex.describe().startswith("ray at local instance")
        res = run_grid(ex, operator.neg, {"a": 1, "b": 2}, ResultStore(tmp_path))
        assert res == {"a": -1, "b": -2}
    finally:
        ex.close()
    import ray

    assert not ray.is_initialized()
