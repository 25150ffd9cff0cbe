import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memcap import DataError, Dataset
from memcap.data import generators


def test_validates_shapes_and_values():
    with pytest.raises(DataError, match="2-D"):
        Dataset(np.zeros((2, 2, 2)), [0, 1])
    with pytest.raises(DataError, match="2-D"):
        Dataset(np.zeros(3), [0, 1, 2])
    with pytest.raises(DataError, match="could not read"):
        Dataset([[1, 2], [3]], [0, 1])
    with pytest.raises(DataError, match="empty"):
        Dataset(np.zeros((0, 3)), [])
    with pytest.raises(DataError, match="one entry per row"):
        Dataset(np.zeros((3, 2)), [1, 2])
    with pytest.raises(DataError, match=r"non-finite.*row 1, column 0"):
        Dataset([[0.0], [np.nan]], [1, 2])
    with pytest.raises(DataError, match="non-finite"):
        Dataset([[0.0], [1.0]], [1.0, np.inf])
    with pytest.raises(DataError, match="task"):
        Dataset([[0.0]], [1.0], task="ranking")
    with pytest.raises(DataError, match="one-hot"):
        Dataset([[0.0], [1.0]], np.eye(2), task="classification")


def test_conflicting_duplicates_name_both_rows():
    X = [[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]]
    with pytest.raises(DataError, match=r"rows 0 and 2 .*different labels"):
        Dataset(X, [1.0, 2.0, 5.0])


def test_identical_duplicates_merge_with_warning():
    X = [[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]]
    with pytest.warns(UserWarning, match="1 duplicate"):
        ds = Dataset(X, ["a", "b", "a"], task="classification")
    assert ds.N == 2 and list(ds.classes) == ["a", "b"]


def test_classification_targets_and_labels():
    ds = Dataset([[0.0], [1.0], [2.0]], ["x", "z", "x"], task="classification")
    assert ds.d_y == 2 and ds.labels.tolist() == [0, 1, 0]
    assert ds.targets.tolist() == [[1, 0], [0, 1], [1, 0]]


def _brute_sep(X, key, p):
    best = np.inf
    for i in range(len(X)):
        for j in range(i + 1, len(X)):
            if key is None or key[i] != key[j]:
                best = min(best, np.linalg.norm(X[i] - X[j], ord=p))
    return best


@settings(max_examples=20)
@given(st.integers(0, 10**6), st.integers(2, 30), st.integers(1, 4))
def test_separation_matches_brute_force(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, 3, size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Dataset(X, y, task="classification")
    assert ds.separation_l2 == pytest.approx(_brute_sep(ds.X, ds.y, 2))
    assert ds.separation_linf == pytest.approx(_brute_sep(ds.X, ds.y, np.inf))
    assert ds.separation(1) == pytest.approx(_brute_sep(ds.X, ds.y, 1))
    assert ds.min_distance == pytest.approx(_brute_sep(ds.X, None, 2))


def test_regression_separation_ignores_equal_targets():
    ds = Dataset([[0.0], [0.1], [5.0]], [1.0, 1.0, 2.0])
    assert ds.separation_linf == pytest.approx(4.9)
    assert ds.min_distance == pytest.approx(0.1)


def test_generators_are_seeded_and_distinct():
    a, b = generators.gaussian(n=50, d=3, seed=4), generators.gaussian(n=50, d=3, seed=4)
    assert np.array_equal(a.X, b.X)
    h = generators.hard_alternating(n=6)
    assert h.y[:, 0].tolist() == [-1, 1, -1, 1, -1, 1]
    s = generators.sphere(n=20, d=5)
    assert np.allclose(np.linalg.norm(s.X, axis=1), 1)
    line = generators.line(n=20, d=4)
    assert np.linalg.matrix_rank(line.X - line.X[0]) == 1


def test_source_rows_and_class_names():
    X = [[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]]
    with pytest.raises(DataError, match=r"rows 10 and 12 .*different labels"):
        Dataset(X, [1.0, 2.0, 5.0], source_rows=[10, 11, 12])
    with pytest.warns(UserWarning):
        ds = Dataset([[0.0], [1.0], [0.0], [2.0]], [0, 1, 0, 2], task="classification",
                     class_names=["zero", "one", "two"], source_rows=[5, 6, 7, 8])
    assert ds.source_rows.tolist() == [5, 6, 8] and ds.class_name(2) == "two"
    with pytest.raises(DataError, match="class_names"):
        Dataset([[0.0], [1.0]], ["a", "b"], task="classification", class_names=["only one"])
    with pytest.raises(DataError, match="source_rows"):
        Dataset([[0.0], [1.0]], [0.0, 1.0], source_rows=[1])
