"""LP's C path in torch (`lpft.strategies.lp_torch`) against scikit-learn's, on probe-like
feature sets the test builds: the same selected C, and every accuracy on the path within 0.1
points, multinomial and binary, with and without an intercept (the same driver on the same
objective: the same iterates, so the same stopping points)."""

from __future__ import annotations

import numpy as np
import pytest

from lpft.strategies.lp import TORCH_FROM, LPParams, fit_path, solver_for
from lpft.trial import run_trial


def probe_features(classes: int, seed: int, n_train: int = 2000, d: int = 128):
    """Class means in a low-dimensional subspace plus isotropic noise (as a frozen backbone's
    features are); an OOD set with the means shifted."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(8, d))
    means = rng.normal(size=(classes, 8)) @ basis * (0.15 if classes > 2 else 0.04)
    shift = rng.normal(size=d) * 0.5

    def draw(n, ood=False):
        y = rng.integers(0, classes, n)
        return means[y] + rng.normal(size=(n, d)) + (shift if ood else 0) + 3.0, y  # an offset: centring matters

    sets = {"id_train": draw(n_train), "id_val": draw(1000), "id_test": draw(1000), "ood": draw(1000, ood=True)}
    roles = {"id_train": "id_train", "id_val": "id_val", "id_test": "id_test", "ood": "ood"}
    return {k: v[0] for k, v in sets.items()}, {k: v[1] for k, v in sets.items()}, roles


@pytest.mark.parametrize("classes, seed, intercept", [(10, 0, True), (2, 1, True), (5, 2, False)])
def test_the_torch_path_selects_scikit_learns_c_with_the_same_accuracies(classes, seed, intercept):
    feats, labels, roles = probe_features(classes, seed)
    runs = {}
    for solver in ("sklearn", "torch"):
        # lpft's path (1e-7 to 1e2), solved to tol 1e-5: at the default 1e-4 the two stop within
        # that tolerance of the optimum but not at the same point (their sums round differently),
        # up to 0.5 points apart at one C of these sets
        hp = LPParams(num_cs=15, solver=solver, tol=1e-5)
        runs[solver] = fit_path(feats, labels, roles, hp, classes, fit_intercept=intercept)
    (sk, sk_head), (tp, tp_head) = runs["sklearn"], runs["torch"]
    assert tp_head.step == sk_head.step and tp_head.C == sk_head.C
    assert len(sk) == len(tp) == 15 * 3
    worst = max(abs(a.accuracy - b.accuracy) for a, b in zip(sk, tp))
    assert worst <= 0.001 + 1e-12, worst
    accuracies = {e.accuracy for e in sk}
    assert len(accuracies) > 5  # a path that moves: from chance to a fitted probe
    np.testing.assert_allclose(tp_head.weight, sk_head.weight, atol=0.05 * np.abs(sk_head.weight).max())


def test_auto_chooses_torch_on_a_gpu_or_for_a_large_feature_matrix():
    hp = LPParams()
    assert solver_for(hp, 1000, 1280, "cpu") == "sklearn"
    assert solver_for(hp, TORCH_FROM // 2048 + 1, 2048, "cpu") == "torch"
    assert solver_for(hp, 100, 10, "cuda:0") == "torch"
    assert solver_for(LPParams(solver="sklearn"), 10**6, 2048, "cuda") == "sklearn"


def test_an_lp_trial_on_torch_matches_scikit_learn_and_says_which_ran():
    trials = {s: run_trial("synthetic", "lp", {"eps": 0.1, "num_cs": 20, "solver": s}).result
              for s in ("sklearn", "torch")}
    assert trials["torch"].diagnostics["solver"] == "torch"
    assert trials["sklearn"].diagnostics["solver"] == "sklearn"
    assert trials["torch"].selected_step == trials["sklearn"].selected_step
    for name, acc in trials["sklearn"].final.items():
        assert abs(trials["torch"].final[name] - acc) <= 0.001 + 1e-12, name
