"""Linear probing: the warm-started C path, scalar standardisation, heads in raw feature space."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lpft.data import load_benchmark
from lpft.models import build_backbone, cached_features
from lpft.strategies.lp import LPParams, c_path, fit_path, full_head, lp, lp_head


def cold_selected_index(feats, labels, hp, fit_intercept):
    """Independent cold fits over the same grid and scalar standardisation; best ID val index."""
    train = feats["id_train"]
    mean = train.mean() if fit_intercept else 0.0
    scale = np.sqrt(((train - mean) ** 2).mean())
    accs = []
    for c in c_path(hp):
        with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):  # else 10x slower here
            warnings.simplefilter("ignore")
            clf = LogisticRegression(C=c, max_iter=hp.max_iter, fit_intercept=fit_intercept)
            clf.fit((train - mean) / scale, labels["id_train"])
        accs.append(clf.score((feats["id_val"] - mean) / scale, labels["id_val"]))
    return int(np.argmax(accs))


@pytest.mark.parametrize("which", ["synthetic", "digits"])
def test_warm_path_selects_the_cold_c_within_one_step(which, small_digits):
    bench = load_benchmark("synthetic", eps=0.3, n_train=300) if which == "synthetic" else small_digits
    name, weights = bench.default_backbone
    feats = cached_features(build_backbone(name, weights, bench), bench)
    labels = {k: s.y for k, s in bench.splits.items()}
    roles = {k: s.role for k, s in bench.splits.items()}
    hp = LPParams(num_cs=25)
    _, head = fit_path(feats, labels, roles, hp, bench.num_classes, fit_intercept=bench.head_bias)
    assert abs(head.step - cold_selected_index(feats, labels, hp, bench.head_bias)) <= 1


def test_lp_reports_every_c_and_maps_the_head_back(small_digits):
    bench = small_digits
    backbone = build_backbone("tf_efficientnet_lite0", "imagenet", bench)
    result = lp(bench, backbone, LPParams())
    assert sorted({e.step for e in result.evaluations}) == list(range(50))
    assert {e.eval_set for e in result.evaluations} == set(bench.eval_sets)
    assert result.step_hparams[0]["C"] == pytest.approx(1e-7) and result.step_hparams[49]["C"] == pytest.approx(1e2)
    head = result.model
    # The raw-space head reproduces the selected step's accuracies on raw features.
    feats = cached_features(backbone, bench)
    for name, split in bench.eval_sets.items():
        acc = float((np.argmax(feats[name] @ head.weight.T + head.bias, axis=1) == split.y).mean())
        assert acc == pytest.approx(result.final[name])
    # Scalar standardisation keeps the mapped head small (per-dimension scaling gave ~700 here).
    assert np.linalg.norm(head.weight) < 50
    assert result.final["id_val"] > 0.5  # pretrained features separate digits


def test_lp_head_is_cached(small_digits, feature_cache):
    backbone = build_backbone("tf_efficientnet_lite0", "imagenet", small_digits)
    first = lp_head(small_digits, backbone, LPParams(num_cs=5))
    files = sorted((feature_cache / "heads").iterdir())
    # The same files, never rewritten (a write replaces the file: a new inode); a hit only
    # marks its last use (the mtime, `lpft cache`'s LRU order).
    before = [(f.stat().st_ino, f.read_bytes()) for f in files]
    second = lp_head(small_digits, backbone, LPParams(num_cs=5))
    np.testing.assert_array_equal(first.weight, second.weight)
    assert first.C == second.C and first.step == second.step
    assert [(f.stat().st_ino, f.read_bytes()) for f in sorted((feature_cache / "heads").iterdir())] == before


def test_full_head_binary_and_missing_classes():
    w, b = full_head(np.array([[2.0, 0.0]]), np.array([1.0]), np.array([0, 2]), 3)
    x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert list(np.argmax(x @ w.T + b, axis=1)) == [2, 0]  # class 1 never seen: never predicted
    assert np.all(w[1] == 0) and b[1] < min(b[0], b[2])
