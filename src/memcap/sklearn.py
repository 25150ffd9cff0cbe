"""scikit-learn estimators that build a certified memorizer: ``MemorizingClassifier`` and
``MemorizingRegressor``.

``fit(X, y)`` builds a network with :func:`memcap.construct` (or, with ``precision``, the smallest
registered method certified at that precision, :func:`memcap.select.choose_method`) and keeps it
only if it is certified to memorize the training data; otherwise it raises memcap's typed error
(``ConditionError``, ``ConstructionError``, ``DataError`` ... all ``ValueError`` or
``RuntimeError``) and the estimator stays unfitted. ``predict`` evaluates the network.

``sklearn.utils.estimator_checks.check_estimator`` passes every check on the default estimators
(tests/test_sklearn.py runs it with :data:`EXPECTED_FAILED_CHECKS`, which is empty). With
``precision="float32"`` two kinds of check fail by design (docs/sklearn.md): subset invariance
(float32 results differ in their last bits with the batch's summation order, within the certified
bound) and fits on random data that no method memorizes certified in float32 (``fit`` refuses with
``ConstructionError`` rather than keep an uncertified network). No check feeds conflicting
duplicates (one input, two labels), which ``fit`` refuses by design.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["MemorizingClassifier", "MemorizingRegressor", "EXPECTED_FAILED_CHECKS"]

#: check_estimator checks the default estimators cannot pass, with the reason: none
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "MemorizingClassifier": {},
    "MemorizingRegressor": {},
}


class _Memorizing(BaseEstimator):
    """Shared by the two estimators: parameters, fitting through memcap, evaluation."""

    _task = "regression"

    def __init__(self, method: str | None = None, precision: str | None = None,
                 options: dict[str, Any] | None = None, tol: float | None = None,
                 arithmetic: str = "auto") -> None:
        self.method = method
        self.precision = precision
        self.options = options
        self.tol = tol
        self.arithmetic = arithmetic

    # ---- fitting -------------------------------------------------------------------------------
    def _build(self, ds: Any) -> None:
        import memcap

        opts = dict(self.options or {})
        if self.precision is None:
            c = memcap.construct(ds, self.method or "yun-3layer", arithmetic=self.arithmetic, tol=self.tol,
                                 **opts)
            self.precision_certificate_ = None
        else:
            from memcap.select import choose_method

            c, pc, _ = choose_method(ds, self.precision, tol=self.tol,
                                     methods=None if self.method is None else [self.method], **opts)
            self.precision_certificate_ = pc
        self.construction_ = c
        self.network_ = c.network
        self.certificate_ = c.certificate
        self.verification_ = c.verification
        self.method_ = c.certificate.method
        rep = c.verification
        self.predict_precision_ = ("float32" if rep.float32_memorizes else
                                   "float64" if rep.float64_memorizes else "exact")

    def _scores(self, X: Any) -> np.ndarray:
        """The network's outputs, in the precision the certificate covers (``predict_precision_``)."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        from memcap.numerics import forward_exact, forward_float

        if self.predict_precision_ == "exact":
            return np.array([[float(v) for v in row] for row in forward_exact(self.network_, X)],
                            dtype=np.float64).reshape(len(X), self.network_.out_dim)
        dtype = np.float32 if self.predict_precision_ == "float32" else np.float64
        return forward_float(self.network_, X, dtype).astype(np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


class MemorizingClassifier(ClassifierMixin, _Memorizing):
    """A classifier whose network is certified to classify every training point correctly.

    Parameters: ``method`` (a registry name, ``memcap methods``; default ``yun-3layer``),
    ``precision`` (``float32``, ``float64`` or ``exact``: pick the smallest method certified when
    evaluated at that precision; ``method`` then restricts the choice), ``options`` (the method's
    options, validated by ``memcap.construct``), ``tol``, ``arithmetic`` (``auto``, ``float64``,
    ``exact``: the arithmetic of the construction). ``fit`` refuses conflicting duplicates (one
    input, two labels) with a ``DataError``: no function memorizes them.

    Attributes after ``fit``: ``network_`` (the :class:`memcap.Network`), ``certificate_`` (what
    the theorem promises), ``verification_`` (the certified check of the training data),
    ``construction_``, ``method_``, ``classes_``, ``n_features_in_`` and ``predict_precision_``.

    ``predict`` evaluates in **float32 when the certificate covers float32** (memorization certified
    for a float32 evaluation in any summation order), else in float64 when that is covered, else in
    exact rational arithmetic of the stored weights; ``predict_precision_`` says which. The
    certificate covers the training points; elsewhere a prediction is the network's output, nothing
    more.

    check_estimator: passes every check (tests/test_sklearn.py); with ``precision="float32"`` see the
    module docstring.
    """

    _task = "classification"

    def fit(self, X: Any, y: Any) -> MemorizingClassifier:
        import memcap

        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, idx = np.unique(y, return_inverse=True)
        ds = memcap.Dataset(X, idx, task="classification", name="sklearn")
        self._build(ds)
        return self

    def predict(self, X: Any) -> np.ndarray:
        s = self._scores(X)
        if s.shape[1] == 1:  # one class
            return np.full(len(s), self.classes_[0])
        return self.classes_[np.argmax(s, axis=1)]


class MemorizingRegressor(RegressorMixin, _Memorizing):
    """A regressor whose network is certified to reproduce every training target within ``tol``
    (default 1e-6·max(1, max|y|); with ``precision="float32"`` 1e-3·max(1, max|y|)).

    Parameters and attributes as :class:`MemorizingClassifier` (no ``classes_``); multi-output
    ``y`` (n, k) is supported. ``fit`` refuses conflicting duplicates (one input, two targets).

    ``predict`` evaluates in **float32 when the certificate covers float32**, else in float64 when
    covered, else in exact rational arithmetic; ``predict_precision_`` says which.

    check_estimator: passes every check (tests/test_sklearn.py); with ``precision="float32"`` see the
    module docstring.
    """

    def fit(self, X: Any, y: Any) -> MemorizingRegressor:
        import memcap

        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        self._y_1d = y.ndim == 1
        ds = memcap.Dataset(X, y, task="regression", name="sklearn")
        self._build(ds)
        return self

    def predict(self, X: Any) -> np.ndarray:
        s = self._scores(X)
        return s[:, 0] if self._y_1d else s

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
