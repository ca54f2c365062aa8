"""The paper's Section 3 phenomenon on the synthetic benchmark, with lr chosen by ID val."""

import numpy as np
import pytest

from lpft.data import load_benchmark
from lpft.models import build_backbone
from lpft.strategies import STRATEGIES

SEEDS = (0, 1, 2)
LRS = {"ft": (0.1, 0.3, 1.0), "lpft": (0.003, 0.01, 0.03)}


def run(bench, strategy, **hp):
    strat = STRATEGIES[strategy]
    params = strat.params(**{**bench.strategy_defaults.get(strategy, {}), **hp})
    return strat.run(bench, build_backbone("linear", "benchmark", bench), params)


def mean_point(results):
    """Mean (ID val, ID test, OOD) over seeds, each at its best-ID-val step."""
    return np.mean([[r.final["id_val"], r.final["id_test"], r.final["ood"]] for r in results], axis=0)


def selected(bench, strategy):
    """The lr with the best mean ID val over seeds, and its mean point."""
    points = {lr: mean_point([run(bench, strategy, lr=lr, seed=s) for s in SEEDS]) for lr in LRS[strategy]}
    lr = max(points, key=lambda k: points[k][0])
    return lr, points[lr]


@pytest.fixture(scope="module")
def good():
    bench = load_benchmark("synthetic", eps=0.1)
    lp = mean_point([run(bench, "lp", seed=s) for s in SEEDS])
    return bench, lp, selected(bench, "ft")[1], selected(bench, "lpft")[1]


def test_benchmark_is_the_papers_setting():
    b = load_benchmark("synthetic", eps=0.1)
    assert b.train.x.shape == (1000, 50) and b.num_classes == 5
    b_star, basis = b.truth["b_star"], b.truth["id_basis"]
    np.testing.assert_allclose(b_star @ b_star.T, np.eye(10), atol=1e-12)
    # ID inputs lie in S; OOD inputs do not.
    p_perp = np.eye(50) - basis @ basis.T
    assert np.abs(b.train.x @ p_perp).max() < 1e-12
    assert np.linalg.norm(b.splits["ood"].x @ p_perp) > 0.5 * np.linalg.norm(b.splits["ood"].x)
    np.testing.assert_array_equal(b.train.y, np.argmax(b.train.x @ b_star.T @ b.truth["v_star"].T, axis=1))
    # Deterministic from the split seed, different across split seeds.
    np.testing.assert_array_equal(load_benchmark("synthetic", eps=0.1).train.x, b.train.x)
    assert not np.allclose(load_benchmark("synthetic", eps=0.1, split_seed=1).train.x, b.train.x)


def test_good_features_ft_distorts_ood(good):
    _, lp, ft, lpft = good
    assert ft[1] > lp[1], f"FT ID {ft[1]:.3f} should beat LP ID {lp[1]:.3f}"
    assert ft[2] <= lp[2] - 0.10, f"FT OOD {ft[2]:.3f} should trail LP OOD {lp[2]:.3f} by >= 10 points"
    assert lpft[2] >= ft[2] + 0.10, f"LP-FT OOD {lpft[2]:.3f} should beat FT OOD {ft[2]:.3f} by >= 10 points"


def test_ft_changes_features_only_inside_the_id_subspace():
    bench = load_benchmark("synthetic", eps=0.1)
    backbone = build_backbone("linear", "benchmark", bench)
    b0 = backbone.module.weight.detach().clone().numpy()
    strat = STRATEGIES["ft"]
    result = strat.run(bench, backbone, strat.params(**bench.strategy_defaults["ft"]))
    delta = result.model.backbone.weight.detach().numpy() - b0
    basis = bench.truth["id_basis"]
    p_perp = np.eye(bench.params.d) - basis @ basis.T
    assert np.linalg.norm(delta) > 0.1  # it did train
    assert np.linalg.norm(delta @ p_perp) / np.linalg.norm(delta) < 1e-6


def test_poor_features_ft_wins_everywhere():
    bench = load_benchmark("synthetic", eps=1.0)
    lp = mean_point([run(bench, "lp", seed=s) for s in SEEDS])
    _, ft = selected(bench, "ft")
    assert ft[1] > lp[1] and ft[2] > lp[2], f"FT {ft} should beat LP {lp} in and out of distribution"


def test_runs_are_deterministic_per_seed():
    bench = load_benchmark("synthetic", eps=0.1)
    a, b = run(bench, "ft", seed=3, epochs=20), run(bench, "ft", seed=3, epochs=20)
    c = run(bench, "ft", seed=4, epochs=20)
    assert a.evaluations == b.evaluations
    assert a.evaluations != c.evaluations
