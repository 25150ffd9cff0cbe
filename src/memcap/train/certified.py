"""Train and certify in one call: what ``memcap train`` does before deciding whether to save."""

from __future__ import annotations

from typing import Any

from memcap import meta as mk
from memcap.data.dataset import Dataset

__all__ = ["train_certified"]


def train_certified(ds: Dataset, width: int, regime: str = "zhang21", *, tol: float | None = None,
                    **options: Any) -> tuple[Any, Any]:
    """:func:`memcap.train.train` then :func:`memcap.verify` on the trained network; returns
    ``(TrainResult, MemorizationReport)``. ``network.meta[mk.MEMORIZES]`` records whether the network
    is a certified memorizer of ``ds`` (only such a network should be handed to a user unless they
    ask otherwise)."""
    from memcap.certify import verify
    from memcap.train import train

    res = train(ds, width, regime, **options)
    rep = verify(res.network, ds, tol=tol)
    res.network.meta[mk.MEMORIZES] = bool(rep.memorized and rep.certified)
    return res, rep
