"""The public entry points: :func:`construct` (the smallest float32-certified network by default, or
one method's, always certified) and :func:`methods`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memcap.build import certify_built, construct_one, dataset_meta, lower_bounds
from memcap.constructions.base import Construction, Method
from memcap.constructions.registry import all_methods
from memcap.data.dataset import Dataset

__all__ = ["construct", "methods", "certify_built", "dataset_meta", "lower_bounds"]


def methods() -> list[Method]:
    """Every registered construction (name, theorem, condition, sizes)."""
    return all_methods()


def construct(ds: Dataset, method: str | None = None, *, precision: str | None = None,
              arithmetic: str = "auto", tol: float | None = None,
              progress: Callable[[str], None] | None = None, max_seconds: float | None = None,
              workers: int | None = None, ray: bool | str | None = None, **options: Any) -> Construction:
    """Build a network for ``ds`` and certify it with :func:`memcap.verify`.

    ``method=None`` (the default) returns the registered method's network with the fewest stored
    parameters that is certified to memorize when evaluated at ``precision`` (default ``"float32"``:
    weights and inputs rounded to float32, any summation order — what PyTorch and onnxruntime do);
    see :func:`memcap.select.choose_method`. ``c.info["attempts"]`` says why smaller methods were
    passed over. With ``method`` and ``precision`` both given, only that method is tried at that
    precision.

    With ``method`` alone, that method's network is certified in exact arithmetic of its stored
    weights (:func:`memcap.build.construct_one`): ``arithmetic="auto"`` builds in float64 first and
    rebuilds in exact rational arithmetic when needed; whether float64 / float32 evaluation
    memorizes is stated in the certificate notes and the network's stored verification. Options are
    validated against the method's declaration before any work (:class:`~memcap.errors.OptionError`).
    ``max_seconds`` bounds the call (with ``method`` alone: build and certification; adaptive also
    gets it as its search budget); ``workers`` / ``ray`` go to :func:`memcap.verify`. A network that
    is not certified to memorize is never returned: :class:`~memcap.errors.ConstructionError` is
    raised with the numbers.
    """
    if method is None or precision is not None:
        from memcap.select import choose_method

        if max_seconds is not None:
            options.setdefault("max_seconds", max_seconds)  # the adaptive candidate's search budget
        c, _, attempts = choose_method(ds, precision or "float32", tol=tol,
                                       methods=None if method is None else [method],
                                       progress=progress, **options)
        c.info["attempts"] = [
            {"method": a.method, "options": a.options, "parameters": a.parameters,
             "certified": a.certified, "reason": a.reason} for a in attempts]
        return c
    return construct_one(ds, method, arithmetic=arithmetic, tol=tol, progress=progress,
                         max_seconds=max_seconds, workers=workers, ray=ray, **options)


# the trained-and-certified method sits above certification; importing it registers it
import memcap.adaptive  # noqa: E402, F401
