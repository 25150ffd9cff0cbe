"""Contract checks for registered constructions, in the manner of scikit-learn's estimator checks.

``check_construction("yun-3layer", datasets=[ds1, ds2])`` runs every named check of
:data:`CHECKS` on every dataset and raises ``AssertionError`` listing the checks that failed (or,
with ``raise_on_failure=False``, returns the :class:`CheckResult` rows). A new construction passes
these before it is registered; ``tests/test_contract.py`` runs them on every registered method.

The checks (each independent of the code under test where it can be):

``memorizes_or_refuses``
    data inside the theorem's assumption (``Method.assumption``) is memorized, certified by
    :func:`memcap.construct`; data outside it is refused with a :class:`ConditionError`.
``verifies_again``
    a fresh :func:`memcap.verify` of the returned network certifies it again.
``size_formula``
    the widths, parameter count and depth predicted by ``Method.size_formula`` are the built ones.
``break_condition``
    the options of ``Method.break_condition`` (the condition broken by one unit) are refused with a
    :class:`ConditionError`.
``unknown_option``
    a misspelt option is refused with an :class:`OptionError` listing every declared option.
``save_load``
    :func:`memcap.save` then :func:`memcap.load` gives the same layers (weights bit for bit, exact
    rationals equal), activations and meta.
``torch_float``
    where the certificate claims float32 (float64) memorization, the network exported to PyTorch and
    evaluated in float32 (float64) memorizes the data. Skipped without the ``torch`` extra.
``exact_reevaluation``
    exact rational evaluation of the stored weights (:func:`memcap.numerics.forward_exact`, not the
    verifier's tiers) memorizes up to ``max_exact_points`` points spread over the data.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from memcap.errors import ConditionError, MemcapError, OptionError

__all__ = ["check_construction", "CheckResult", "CHECKS"]


@dataclass
class CheckResult:
    """One check on one dataset: ``status`` is passed, failed, skipped or xfail (expected to fail)."""

    check: str
    dataset: str
    status: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class _Case:
    """One (method, dataset) pair; builds the construction once for every check that needs it."""

    method: Any
    ds: Any
    options: dict[str, Any]
    tmp: Path
    max_exact_points: int
    _built: Any = None
    _refusal: BaseException | None = None
    _done: bool = False
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def outside_assumption(self) -> str | None:
        m = self.method
        return m.assumption(self.ds) if m.assumption is not None else None

    def construction(self) -> Any:
        """The certified construction, or raises :class:`_Skip` when the data is outside the
        theorem's assumption (then ``memorizes_or_refuses`` checks the refusal)."""
        import memcap

        if self.outside_assumption is not None:
            raise _Skip(f"outside the theorem's assumption: {self.outside_assumption}")
        if not self._done:
            self._done = True
            try:
                self._built = memcap.construct(self.ds, self.method.name, **self.options)
            except MemcapError as exc:
                self._refusal = exc
        if self._refusal is not None:
            raise AssertionError(f"refused data inside its assumption: {type(self._refusal).__name__}: "
                                 f"{self._refusal}")
        return self._built


class _Skip(Exception):  # noqa: N818 - a control signal, not an error
    """A check that does not apply to this case (the message says why)."""


# ---- the checks -----------------------------------------------------------------------------------
def check_memorizes_or_refuses(case: _Case) -> None:
    import memcap

    reason = case.outside_assumption
    if reason is not None:
        try:
            memcap.construct(case.ds, case.method.name, **case.options)
        except ConditionError:
            return
        raise AssertionError(f"data outside the assumption ({reason}) was not refused with a ConditionError")
    rep = case.construction().verification
    assert rep.memorized and rep.certified, f"not certified to memorize: {rep.summary()}"


def check_verifies_again(case: _Case) -> None:
    import memcap

    c = case.construction()
    again = memcap.verify(c.network, case.ds)
    assert again.memorized and again.certified, f"a fresh verification disagrees: {again.summary()}"


def check_size_formula(case: _Case) -> None:
    m = case.method
    if m.size_formula is None:
        raise _Skip("no size formula registered")
    net = case.construction().network
    sizes = m.size_formula(case.ds, **case.options)
    assert list(net.widths) == list(sizes["widths"]), f"widths {net.widths} != formula {sizes['widths']}"
    assert net.parameters == sizes["parameters"], \
        f"parameters {net.parameters} != formula {sizes['parameters']}"
    if "depth" in sizes:
        assert net.depth == sizes["depth"], f"depth {net.depth} != formula {sizes['depth']}"


def check_break_condition(case: _Case) -> None:
    import memcap

    m = case.method
    if m.break_condition is None:
        raise _Skip("no break_condition registered")
    if case.outside_assumption is not None:
        raise _Skip("outside the theorem's assumption")
    broken = m.break_condition(case.ds)
    try:
        memcap.construct(case.ds, m.name, **{**case.options, **broken})
    except ConditionError:
        return
    raise AssertionError(f"the broken condition {broken} was not refused with a ConditionError")


def check_unknown_option(case: _Case) -> None:
    import memcap

    try:
        memcap.construct(case.ds, case.method.name, qq_typo=7)
    except OptionError as exc:
        missing = [o.name for o in case.method.options if f"{o.name}: " not in str(exc)]
        assert not missing, f"the refusal does not list the options {missing}: {exc}"
        return
    raise AssertionError("a misspelt option (qq_typo=7) was accepted")


def check_save_load(case: _Case) -> None:
    import memcap

    net = case.construction().network
    path = case.tmp / f"{case.method.name}.npz"
    memcap.save(net, path)
    back = memcap.load(path)
    assert len(back.layers) == len(net.layers), "layer count changed"
    for i, (a, b) in enumerate(zip(net.layers, back.layers, strict=True)):
        assert type(a) is type(b) and a.activation == b.activation, f"layer {i} changed kind or activation"
        for name in vars(a):
            x, y = getattr(a, name), getattr(b, name)
            if hasattr(x, "toarray"):  # a sparse matrix
                x, y = x.toarray(), y.toarray()
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and x.shape == y.shape, f"layer {i}.{name}: dtype or shape changed"
                assert bool(np.all(x == y)), f"layer {i}.{name}: values changed"
            else:
                assert x == y, f"layer {i}.{name} changed"
    assert back.meta == _json_roundtrip(net.meta), "meta changed"


def _json_roundtrip(d: Any) -> Any:
    import json

    return json.loads(json.dumps(d, default=str))


def check_torch_float(case: _Case) -> None:
    try:
        import torch
    except ImportError:
        raise _Skip("torch is not installed") from None
    from memcap.io.torch import to_torch

    c = case.construction()
    rep = c.verification
    claims = [(torch.float32, rep.float32_memorizes), (torch.float64, rep.float64_memorizes)]
    claimed = [dt for dt, ok in claims if ok]
    if not claimed:
        raise _Skip("the certificate claims no float evaluation")
    ds = case.ds
    for dt in claimed:
        model = to_torch(c.network, dt)
        with torch.no_grad():
            out = model(torch.tensor(np.array(ds.X), dtype=dt)).double().numpy()
        if ds.task == "regression":
            err = float(np.max(np.abs(out - ds.targets)))
            assert err <= rep.tolerance, f"torch {dt}: error {err:.3g} > tolerance {rep.tolerance:.3g}"
        elif out.shape[1] > 1:
            wrong = np.flatnonzero(np.argmax(out, axis=1) != ds.labels)
            assert not len(wrong), f"torch {dt} misclassifies points {wrong[:8].tolist()}"


def check_exact_reevaluation(case: _Case) -> None:
    from memcap.numerics import forward_exact

    c = case.construction()
    ds = case.ds
    n = min(ds.N, case.max_exact_points)
    rows = np.unique(np.linspace(0, ds.N - 1, n).round().astype(int))
    out = forward_exact(c.network, ds.X[rows])
    if ds.task == "regression":
        tol = Fraction(c.verification.tolerance)
        for r, vals in zip(rows, out, strict=True):
            err = max(abs(Fraction(int(v.p), int(v.q)) - Fraction(float(t)))
                      for v, t in zip(vals, ds.targets[r], strict=True))
            assert err <= tol, f"point {r}: exact error {float(err):.3g} > tolerance {float(tol):.3g}"
    else:
        for r, vals in zip(rows, out, strict=True):
            if len(vals) == 1:
                continue
            y = int(ds.labels[r])
            others = max(v for k, v in enumerate(vals) if k != y)
            assert vals[y] > others, f"point {r}: exact margin {float(vals[y] - others):.3g} ≤ 0"


#: name -> check; each takes a case and raises AssertionError (failed) or returns (passed)
CHECKS: dict[str, Callable[[_Case], None]] = {
    "memorizes_or_refuses": check_memorizes_or_refuses,
    "verifies_again": check_verifies_again,
    "size_formula": check_size_formula,
    "break_condition": check_break_condition,
    "unknown_option": check_unknown_option,
    "save_load": check_save_load,
    "torch_float": check_torch_float,
    "exact_reevaluation": check_exact_reevaluation,
}


def check_construction(method_name: str, datasets: Iterable[Any], *, checks: Iterable[str] | None = None,
                       expected_failed_checks: Mapping[str, str] | None = None,
                       options: Mapping[str, Any] | None = None, max_exact_points: int = 32,
                       raise_on_failure: bool = True) -> list[CheckResult]:
    """Run the named ``checks`` (default: all of :data:`CHECKS`) of ``method_name`` on each dataset.

    ``expected_failed_checks`` maps a check to the reason it is expected to fail (it then reports
    ``xfail``; an unexpected pass is a failure, as with scikit-learn's). ``options`` go to every
    build. Raises ``AssertionError`` naming every failed check unless ``raise_on_failure=False``.
    """
    from memcap.constructions.registry import get_method

    method = get_method(method_name)
    names = list(CHECKS) if checks is None else list(checks)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise OptionError(f"unknown check(s) {unknown}; the checks: {', '.join(CHECKS)}")
    expected = dict(expected_failed_checks or {})
    results: list[CheckResult] = []
    with tempfile.TemporaryDirectory(prefix="memcap-check-") as tmp:
        for ds in datasets:
            case = _Case(method, ds, dict(options or {}), Path(tmp), max_exact_points)
            for name in names:
                results.append(_run_one(name, case, expected.get(name)))
    failed = [r for r in results if r.status == "failed"]
    if failed and raise_on_failure:
        raise AssertionError(f"{method_name}: {len(failed)} check(s) failed:\n" + "\n".join(
            f"  {r.check} on {r.dataset}: {r.detail}" for r in failed))
    return results


def _run_one(name: str, case: _Case, expected_failure: str | None) -> CheckResult:
    label = f"{getattr(case.ds, 'name', 'data')} (N={case.ds.N})"
    t0 = time.perf_counter()
    status, detail = "passed", ""
    try:
        CHECKS[name](case)
    except _Skip as why:
        status, detail = "skipped", str(why)
    except AssertionError as exc:
        status, detail = ("xfail", f"{expected_failure}: {exc}") if expected_failure is not None \
            else ("failed", str(exc))
    else:
        if expected_failure is not None:
            status, detail = "failed", f"expected to fail ({expected_failure}) but passed"
    return CheckResult(name, label, status, detail, time.perf_counter() - t0)
