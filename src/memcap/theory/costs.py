"""A rough cost model: seconds to build and certify a network of a given size (used to budget time)."""

from __future__ import annotations

__all__ = ["PARAM_POINT_SECONDS", "LAYER_POINT_SECONDS", "estimate_seconds"]

#: cost model of build + certification, seconds ≈ PARAM_POINT·parameters·N + LAYER_POINT·depth·N
#: (float tiers evaluate every parameter at every point; deep sparse networks pay per layer). Fitted
#: on digits (N = 600) on a shared 2-core machine: within a factor of ~3 for most methods, park-sublinear
#: (exact lookup weights of hundreds of bits) up to ~9x above it — an estimate, not a promise.
PARAM_POINT_SECONDS = 1e-8
LAYER_POINT_SECONDS = 4e-5


def estimate_seconds(parameters: int, depth: int, N: int) -> float:
    """Rough seconds to build and certify a network of this size on N points (see the constants)."""
    return PARAM_POINT_SECONDS * parameters * N + LAYER_POINT_SECONDS * depth * N
