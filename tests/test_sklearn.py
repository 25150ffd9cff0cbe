"""memcap.sklearn: the estimators pass scikit-learn's check_estimator, memorize certified, refuse
what no function can memorize, and predict in the precision their certificate covers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator

from memcap.errors import DataError, OptionError
from memcap.numerics import forward_exact
from memcap.sklearn import EXPECTED_FAILED_CHECKS, MemorizingClassifier, MemorizingRegressor


@pytest.mark.parametrize("est", [MemorizingRegressor(), MemorizingClassifier(),
                                 MemorizingClassifier(method="zhang17-wide", arithmetic="float64")],
                         ids=repr)
def test_check_estimator(est):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # merged identical duplicates in the checks' integer data
        results = check_estimator(est, expected_failed_checks=EXPECTED_FAILED_CHECKS[type(est).__name__],
                                  on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 50


def _reg(n=60, d=3, k=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal((n, k)) * 10
    return X, (y[:, 0] if k == 1 else y)


def test_regressor_memorizes_with_certificate_and_params():
    X, y = _reg()
    r = MemorizingRegressor(method="yun-3layer", options={"margin": 0.5}).fit(X, y)
    assert r.verification_.memorized and r.verification_.certified
    assert r.certificate_.method == r.method_ == "yun-3layer" and r.network_ is r.construction_.network
    assert r.network_.in_dim == r.n_features_in_ == 3
    # an evaluation independent of predict: exact arithmetic of the stored weights
    exact = np.array([[float(v) for v in row] for row in forward_exact(r.network_, X)])[:, 0]
    assert np.max(np.abs(exact - y)) <= r.verification_.tolerance
    assert np.max(np.abs(r.predict(X) - y)) <= r.verification_.tolerance + r.verification_.float64_bound
    assert r.predict_precision_ == ("float32" if r.verification_.float32_memorizes else
                                    "float64" if r.verification_.float64_memorizes else "exact")
    assert r.get_params()["options"] == {"margin": 0.5}
    r2 = clone(r).set_params(method="zhang17-wide", options=None)
    assert r2.get_params()["method"] == "zhang17-wide" and not hasattr(r2, "network_")
    assert r2.fit(X, y).network_.widths == [len(X)]


def test_regressor_multi_output():
    X, y = _reg(k=2)
    r = MemorizingRegressor().fit(X, y)
    assert r.predict(X).shape == (60, 2)
    assert np.max(np.abs(r.predict(X) - y)) <= r.verification_.tolerance + r.verification_.float64_bound


def test_float32_precision_predicts_in_float32():
    X, y = _reg(n=200, d=4)
    r = MemorizingRegressor(precision="float32").fit(X, y)
    assert r.predict_precision_ == "float32" and r.precision_certificate_.certified
    assert r.verification_.float32_memorizes
    # certified: every training point within the float32 tolerance, in any summation order
    assert np.max(np.abs(r.predict(X) - y)) <= r.precision_certificate_.tolerance


def test_classifier_string_labels_and_one_class():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # iris has one identical duplicate row
        c = MemorizingClassifier().fit(X, names)
    assert list(c.classes_) == ["setosa", "versicolor", "virginica"]
    assert (c.predict(X) == names).all() and c.score(X, names) == 1.0
    one = MemorizingClassifier(precision="float32").fit(X[:5], ["a"] * 5)  # one class: certified trivially
    assert (one.predict(X[:5]) == "a").all() and one.precision_certificate_.certified


def test_conflicting_duplicates_are_refused_and_leave_it_unfitted():
    c = MemorizingClassifier()
    with pytest.raises(DataError, match="identical inputs but different labels"):
        c.fit([[0.0, 1.0], [0.0, 1.0], [2.0, 3.0]], [0, 1, 0])
    with pytest.raises(NotFittedError):
        c.predict([[0.0, 1.0]])
    with pytest.raises(DataError, match="identical inputs"):
        MemorizingRegressor().fit([[1.0], [1.0]], [0.0, 1.0])


def test_bad_options_are_refused_at_fit():
    X, y = _reg(n=10)
    with pytest.raises(OptionError, match="qq_typo"):
        MemorizingRegressor(options={"qq_typo": 7}).fit(X, y)
    with pytest.raises(OptionError, match="arithmetic"):
        MemorizingRegressor(arithmetic="float16").fit(X, y)


def test_docs_example_runs():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "sklearn.md").read_text()
    block = re.findall(r"```python\n(.*?)```", doc, flags=re.S)[0]
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(block, "docs/sklearn.md", "exec"), ns)  # noqa: S102 - our own docs
    clf = ns["clf"]
    assert clf.score(ns["X"], ns["y"]) == 1.0 and clf.verification_.certified
    assert clf.certificate_.theorem == "Theorem 3.1"
