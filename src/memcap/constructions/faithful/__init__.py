"""Float-faithful designs beyond the papers: decoupled and zigzag 3-layer nets, two-projection 5-layer."""

from memcap.constructions.faithful import axisgate, three_layer, twoproj  # noqa: F401  (registers the methods)
