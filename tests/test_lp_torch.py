"""LP's C path in torch (`lpft.strategies.lp_torch`) against scikit-learn's, on probe-like
feature sets the test builds: the same selected C with the same accuracies (within 0.1 points),
multinomial and binary, with and without an intercept, float32 features (a backbone's) and float64
(the same driver on the same objective: the same iterates up to rounding, so the same stopping
points)."""

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


@pytest.mark.parametrize("classes, seed, intercept, dtype", [(10, 0, True, np.float64), (10, 0, True, np.float32),
                                                          (2, 1, True, np.float32), (5, 2, False, np.float64)])
def test_the_torch_path_selects_scikit_learns_c_with_the_same_accuracies(classes, seed, intercept, dtype):
    feats, labels, roles = probe_features(classes, seed)
    feats = {name: x.astype(dtype) for name, x in feats.items()}
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
    differences = [(abs(a.accuracy - b.accuracy), a.step) for a, b in zip(sk, tp)]
    assert max(d for d, step in differences if step == sk_head.step) <= 0.001 + 1e-12
    # Anywhere on the path within 0.2 points: at the nearly unregularised end (C 10 to 100, past
    # the selected C) the optimum is flat and the two stop at different points within tol, one or
    # two examples of 1,000 apart (float64 products by another BLAS did so too, at tol 1e-6)
    assert max(differences)[0] <= 0.002 + 1e-12, max(differences)
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


# The CPU's products run in the features' dtype: float32 features give float32 products, whose
# rounding (float32's unit roundoff, 6e-8, on each product) reaches the loss and gradient; all else
# is float64
@pytest.mark.parametrize("backend, dtype, rel", [("threads", np.float64, 1e-12), ("threads", np.float32, 1e-7),
                                                 ("torch", np.float32, 1e-12)])
@pytest.mark.parametrize("classes, intercept", [(4, True), (4, False), (2, True), (2, False)])
def test_the_loss_and_gradient_are_scikit_learns_at_any_point(classes, intercept, backend, dtype, rel):
    """Against scikit-learn's own LinearModelLoss (what its lbfgs minimises) on the standardised
    features, at random points far from and near the optimum, large logits included (where
    softplus would linearise); the objective gets the raw features (float32 as a backbone's, or
    float64) with the scalar mean and scale, as lpft's path passes them, in blocks of 64 rows on
    three threads (the last block short)."""
    from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    from lpft.strategies.lp_torch import Objective

    rng = np.random.default_rng(classes)
    raw, y = (rng.normal(size=(300, 7)) * 2.0 + 5.0).astype(dtype), rng.integers(0, classes, 300)
    mean, scale = float(raw.mean(dtype=np.float64)), 2.1
    x = (raw.astype(np.float64) - mean) / scale
    rows = 1 if classes == 2 else classes
    f = Objective(raw, y, rows, intercept, "cpu", mean=mean, scale=scale, threads=3, backend=backend, block_rows=64)
    base = HalfBinomialLoss() if classes == 2 else HalfMultinomialLoss(n_classes=classes)
    reference = LinearModelLoss(base_loss=base, fit_intercept=intercept)
    for scale in (0.01, 1.0, 30.0):
        w = rng.normal(size=(rows, 7 + int(intercept))) * scale
        strength = 1.0 / (0.37 * len(y))
        value, grad = f(w.ravel(), strength)
        # scikit-learn's layout: binomial a flat vector, multinomial (classes, features+1) F-ravelled
        coef = w[0] if classes == 2 else w.ravel(order="F")
        want_value, want_grad = reference.loss_gradient(coef, x, y.astype(np.float64), l2_reg_strength=strength)
        want_grad = want_grad.reshape(w.shape, order="F") if classes > 2 else want_grad.reshape(w.shape)
        assert value == pytest.approx(want_value, rel=rel)
        # float32 products' rounding is on the scale of the gradient's largest entries, not of each
        atol = 1e-14 if rel == 1e-12 else rel * np.abs(want_grad).max()
        np.testing.assert_allclose(grad.reshape(w.shape), want_grad, rtol=100 * rel, atol=atol)


def test_one_class_is_refused_as_scikit_learn_refuses_it():
    from lpft.strategies.lp_torch import lbfgs_path

    with pytest.raises(ValueError, match="at least 2 classes"):
        next(lbfgs_path(np.ones((5, 2)), np.zeros(5, int), np.array([1.0])))


def test_the_binomial_loss_stays_exact_where_every_example_is_fit_with_a_margin_of_20_to_30():
    """A separable probe near its optimum at large C: every log-loss term is e^-z, from 2e-9 to
    1e-13; a loss that dropped them (torch's softplus does above z = 20) would be 0 and stop the
    line search elsewhere than scikit-learn's."""
    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    from lpft.strategies.lp_torch import Objective

    margins = np.linspace(20, 30, 50)
    x = np.concatenate([margins, -margins])[:, None]
    y = np.concatenate([np.ones(50, int), np.zeros(50, int)])
    value, _ = Objective(x, y, 1, False, "cpu")(np.array([1.0]), 0.0)
    want, _ = LinearModelLoss(HalfBinomialLoss(), fit_intercept=False).loss_gradient(
        np.array([1.0]), x, y.astype(np.float64))
    assert want > 0 and value == pytest.approx(want, rel=1e-9)


def test_a_path_is_the_same_bit_for_bit_on_one_thread_or_three():
    """Blocks are summed in the same order whatever the thread count: a path repeats exactly on a
    machine with other CPUs (and the loss is the mean over every row: a block left out or counted
    twice moves it)."""
    from lpft.strategies.lp_torch import Objective, lbfgs_path

    feats, labels, _ = probe_features(5, 3, n_train=1500, d=40)
    paths = [list(lbfgs_path(feats["id_train"], labels["id_train"], np.logspace(-3, 1, 4), threads=t,
                             mean=3.0, scale=1.1, block_rows=8)) for t in (1, 3)]  # 47 units of 32 rows
    for (w1, b1, _), (w3, b3, _) in zip(*paths):
        assert np.array_equal(w1, w3) and np.array_equal(b1, b3)
    x, y = feats["id_train"], labels["id_train"]
    w = np.random.default_rng(0).normal(size=5 * 41) * 0.1
    whole = Objective(x, y, 5, True, threads=1, block_rows=len(x))(w, 0.0)[0]
    blocks = Objective(x, y, 5, True, threads=3, block_rows=7)(w, 0.0)[0]
    assert blocks == pytest.approx(whole, rel=1e-12)


def test_an_evaluation_holds_a_few_partial_sums_whatever_the_rows():
    """Partial gradients (classes x features each) are added up as they finish: held all at once,
    1,000 classes on ImageNet's 1.28M rows would take ~5 GB. Here 800 units of 50 x 64: a list of
    them would be 800 x 25.6 KB."""
    import tracemalloc

    from lpft.strategies.lp_torch import Objective

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200 * 16 * 8, 64)).astype(np.float32), np.arange(200 * 16 * 8) % 50
    f = Objective(x, y, 50, True, threads=2, block_rows=8)  # units of 4 blocks of 8 rows
    w = rng.normal(size=50 * 65) * 0.01
    f(w, 0.0)
    tracemalloc.start()
    f(w + 0.001, 0.0)  # a new point: the blocks run (at the same one, the last evaluation's terms stand)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    f.impl.close()
    partial = 50 * 64 * 8
    # ~8 partials when alone; tracemalloc also counts other threads of a busy test process
    assert peak < 60 * partial, peak / partial


def test_a_new_cs_first_evaluation_reuses_the_data_terms_of_the_last():
    """Each C starts where the last C stopped, the point of the last evaluation: only the penalty
    differs, so the products are not made again; any other point is evaluated anew."""
    from lpft.strategies.lp_torch import Objective

    feats, labels, _ = probe_features(5, 4, n_train=300, d=20)
    x, y = feats["id_train"], labels["id_train"]
    f, fresh = Objective(x, y, 5, True, threads=2), Objective(x, y, 5, True, threads=2)
    calls, impl = [], f.impl
    f.impl = lambda W, b: calls.append(1) or impl(W, b)  # type: ignore[assignment]
    w = np.random.default_rng(0).normal(size=5 * 21) * 0.1
    f(w, 0.1)
    value, grad = f(w, 0.3)
    assert len(calls) == 1
    want_value, want_grad = fresh(w, 0.3)
    assert value == want_value and np.array_equal(grad, want_grad)
    moved = w.copy()
    moved[3] += 1e-12
    f(moved, 0.3)
    assert len(calls) == 2


def test_the_pools_one_blas_thread_leaves_the_trials_thread_count_alone():
    """Each pool thread multiplies on one BLAS thread; torch.set_num_threads there also sets the
    count every thread touching torch later starts with: the trial's other threads (a data
    loader's, a tracker's) must keep theirs while the path runs and after."""
    import threading

    import torch

    from lpft.strategies.lp_torch import Objective

    def in_a_new_thread() -> int:
        seen: list[int] = []
        t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        t.start()
        t.join()
        return seen[0]

    suite = torch.get_num_threads()
    torch.set_num_threads(3)  # the suite's torch runs on one thread (OMP_NUM_THREADS): a trial's on several
    try:
        x, y = np.random.default_rng(0).normal(size=(512, 16)).astype(np.float32), np.arange(512) % 3
        f = Objective(x, y, 3, True, threads=2, block_rows=16)
        try:
            f(np.zeros(3 * 17), 0.1)
            assert list(f.impl.pool.map(lambda _: torch.get_num_threads(), range(4))) == [1] * 4
            assert torch.get_num_threads() == 3 and in_a_new_thread() == 3
        finally:
            f.impl.close()
        assert in_a_new_thread() == 3
    finally:
        torch.set_num_threads(suite)
