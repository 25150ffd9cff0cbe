"""SGD near a memorizer (Yun et al. 2019, Theorem 5.1): the differentiable certified memorizer and SGD."""

import numpy as np
import pytest

import memcap
from memcap.data import Dataset
from memcap.train.near_memorizer import differentiable_memorizer, kink_distance, sgd_near_memorizer


def _data(N=8, seed=0, top=0.9):
    rng = np.random.default_rng(seed)
    return Dataset(rng.normal(size=(N, 2)), rng.uniform(-top, top, size=N), task="regression")


def test_memorizer_is_certified_and_off_the_kinks():
    ds = _data()
    net, info = differentiable_memorizer(ds)
    rep = memcap.verify(net, ds)
    assert rep.memorized and rep.certified
    assert info["rho_c"] == kink_distance(net, ds.X) > 0


def test_targets_on_the_boundary_are_refused():
    X = np.random.default_rng(0).normal(size=(6, 2))
    ds = Dataset(X, np.array([1.0, -0.5, 0.2, 0.1, -0.3, 0.4]), task="regression")
    with pytest.raises(ValueError, match=r"strictly inside \(-1, 1\)"):
        differentiable_memorizer(ds)
    with pytest.raises(ValueError, match="d_y = 1 regression"):
        differentiable_memorizer(memcap.load_dataset("builtin:iris"))


def test_sgd_from_a_perturbed_memorizer_descends_without_changing_patterns():
    ds = _data()
    net, _ = differentiable_memorizer(ds)
    res = sgd_near_memorizer(net, ds, 1e-3, batch=2, epochs=60, log_every=10)
    assert res["rank_H"] == ds.N  # the nu_i span an N-dimensional space
    assert res["pattern_changes"] == 0
    assert res["risk_end"] < res["risk0"] and res["xi_par_end"] < res["xi_par0"]
    assert res["xi_max"] <= 2 * res["xi0"]
    with pytest.raises(ValueError, match="multiple of the batch"):
        sgd_near_memorizer(net, ds, 1e-3, batch=3, epochs=1)
