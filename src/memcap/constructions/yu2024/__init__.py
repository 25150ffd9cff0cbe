"""Yu, Gao & Zhang (ICLR 2024), "Optimal robust memorization with ReLU neural networks".

One function per theorem, with the paper's symbols (λ_D, μ, C, E_i, c_i, τ, κ, ν, h, A):

* :func:`robust` — ``yu-robust``: Theorem 4.8 (proof App. B.5), any budget μ < λ_D/2 in L∞: width
  3n+1, depth 2N+1, F = y_i *exactly* on every ball B∞(x_i, μ) (strict, Remark 4.9). With
  ``norm=1`` Theorem B.5 (App. B.7) and with an integer ``norm=p >= 2`` Theorem B.6 (App. B.7, with the
  errata YGZ-7/YGZ-8), both exact on the Lp balls, 3 hidden layers per point.
* :func:`lipschitz` — ``yu-lipschitz``: Theorem 5.2 (proof App. C.2): F(x_i) = y_i and
  Lip∞ = 2/λ_D exactly (the optimum), so sign F is right on every open ball of radius λ_D/2.

Modules: :mod:`.common` (norms, exact λ_D, the radius, rounding), :mod:`.robust` (Thms 4.8, B.5,
B.6), :mod:`.lipschitz` (Thm 5.2), :mod:`.hard` (the datasets of the necessary conditions, Prop. 5.5(1)'s
depth-2 network, the E6 counterexample).

Errata: docs/errata.md.; where the paper is wrong the code says so at the spot.

Output convention. The paper's networks are scalar: Thm 4.8 predicts argmin_l |F - l| over labels
l in [L] = {1..L}; Thm 5.2 predicts sign F. memcap classifiers output one score per class (argmax),
so the output affine map is composed with a *linear* score map (no extra layer):

* Thm 4.8 / B.5 / B.6: ``s_l = l·F - l²/2`` (class index l-1). ``s_y - s_l = (y-l)(F - (y+l)/2)``, so
  argmax s = argmin |F - l| with ties counted wrong; at F = y every margin is >= 1/2.
* Thm 5.2 (binary): ``s_+ = F/2, s_- = -F/2`` (class index 1 is y = +1): the margin s_y - s_other
  is y·F, whose Lipschitz constant is the paper's Lip∞(F) = 2/λ_D.

Rounding. With ``arithmetic="exact"`` weights are rationals and every statement is exact. With
float64 weights the construction absorbs the rounding of every data-dependent bias, proved bound
η = 2^-52·(max|x| + C + μ), into its thresholds (the hinges sit at μ + η, not μ; Thm 5.2's slope is
rounded *up* from 2/(λ - 2η)), so the stored float network keeps the theorem's guarantee on the
stated radius. When η eats the whole slack the build asks for exact arithmetic (``memcap.construct``
escalates by itself).
"""

from memcap.constructions.yu2024.common import choose_radius, exact_separation, parse_norm
from memcap.constructions.yu2024.hard import (
    prop46_dataset,
    prop54_dataset,
    prop54_n2_network,
    prop55_dataset,
    prop55_network,
    thm43_dataset,
)
from memcap.constructions.yu2024.lipschitz import lipschitz, lipschitz_sizes
from memcap.constructions.yu2024.robust import knots_for, robust, robust_sizes
from memcap.theory.yu2024 import lipschitz_block_widths

__all__ = ["robust", "robust_sizes", "lipschitz", "lipschitz_sizes", "exact_separation",
           "thm43_dataset", "prop46_dataset", "prop54_dataset", "prop55_dataset", "prop55_network",
           "prop54_n2_network", "choose_radius", "parse_norm", "knots_for", "lipschitz_block_widths"]
