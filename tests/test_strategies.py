"""All three strategies end to end on the real pretrained backbone; divergence; determinism."""

import pytest
import torch
from conftest import SMALL_DIGITS

from lpft.dataset import REQUIRED
from lpft.models import build_backbone
from lpft.results import COMPLETED, DIVERGED
from lpft.trial import run_trial


@pytest.mark.parametrize("strategy", ["lp", "ft", "lpft"])
def test_digits_end_to_end_on_pretrained_lite0(strategy, small_digits):
    # Tiny data: small batches give enough steps; frozen BN statistics suit 200 images.
    train = {"epochs": 2, "batch_size": 16, "bn": "eval", "lr": 0.01 if strategy == "ft" else 1e-4}
    settings = dict(SMALL_DIGITS) if strategy == "lp" else {**SMALL_DIGITS, **train}
    trial = run_trial("digits", strategy, settings)
    r = trial.result
    assert trial.backbone == "tf_efficientnet_lite0" and trial.weights == "imagenet"
    assert r.status == COMPLETED
    steps = {e.step for e in r.evaluations}
    for step in steps:  # every eval set at every reported step
        assert set(r.accuracies(step)) == set(small_digits.eval_sets)
    assert set(r.final) == {"id_val", "id_test", "uci", "mnistm", "inverted", "noise"}
    # every accuracy is a count over its eval set: k / n, n the set's size, as the row records it
    sizes = {name: len(split) for name, split in small_digits.eval_sets.items()}
    assert all(e.n == sizes[e.eval_set] and abs(e.accuracy * e.n - round(e.accuracy * e.n)) < 1e-6
               and 0 <= round(e.accuracy * e.n) <= e.n for e in r.evaluations)
    if strategy != "lp":
        assert steps == {1, 2}
    assert r.final["id_val"] > 0.25  # well above chance (0.1) after a probe or two epochs


def test_lpft_with_sgd_probe_head(small_digits):
    settings = {**SMALL_DIGITS, "epochs": 1, "probe_epochs": 10, "probe_lr": 1.0, "lr": 1e-4, "bn": "eval"}
    r = run_trial("digits", "lpft", settings).result
    assert r.status == COMPLETED and r.final["id_val"] > 0.5


def test_bn_eval_keeps_pretrained_statistics(small_digits):
    pretrained = build_backbone("tf_efficientnet_lite0", "imagenet", small_digits).module.state_dict()
    for bn, same in (("eval", True), ("train", False)):
        trained = run_trial("digits", "ft", {**SMALL_DIGITS, "n_train": 64, "epochs": 1, "bn": bn}).result.model
        stats = [k for k in pretrained if "running_" in k]
        equal = [bool((trained.backbone.state_dict()[k] == pretrained[k]).all()) for k in stats]
        assert all(equal) if same else not any(equal), bn


def test_absurd_learning_rate_is_recorded_as_diverged():
    r = run_trial("synthetic", "ft", {"lr": 1e12, "epochs": 50}).result
    assert r.status == DIVERGED
    # it stopped at the first evaluation after the loss went non-finite, not after its 50 epochs
    assert r.evaluations and max(e.step for e in r.evaluations) < 50


def test_rows_follow_the_results_schema():
    r = run_trial("synthetic", "lp", {"num_cs": 4}).result
    rows = r.rows(sweep="s", trial_id="t0", seed=0)
    assert len(rows) == 4 * 3
    for row in rows:
        assert set(REQUIRED.names) <= set(row)
        assert row["role"] in ("id_val", "id_test", "ood")
        assert "hp.C" in row and "hp.num_cs" in row
    assert rows[0]["hp.C"] != rows[-1]["hp.C"]  # C varies along the path


def test_digits_runs_are_deterministic():
    settings = {**SMALL_DIGITS, "n_train": 64, "epochs": 1, "lr": 0.01, "seed": 5}
    a = run_trial("digits", "ft", settings).result.evaluations
    b = run_trial("digits", "ft", settings).result.evaluations
    assert a == b


@pytest.mark.parametrize("strategy", ["ft", "lpft"])
def test_resuming_from_a_state_continues_exactly(strategy):
    settings = {"epochs": 40, "eval_every": 10, "seed": 2}
    states = {}

    def keep(step, evals, state, signals=None):
        states[step] = state()

    whole = run_trial("synthetic", strategy, settings, on_epoch=keep).result
    resumed = run_trial("synthetic", strategy, settings, resume=states[20]).result
    assert resumed.evaluations == whole.evaluations
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_training_reports_its_loss_and_learning_rate_at_each_evaluated_step():
    """What trackers plot beside the accuracies: the epoch's mean loss and the cosine schedule."""
    seen = {}
    run_trial("synthetic", "ft", {"epochs": 30, "eval_every": 10, "lr": 0.3, "seed": 1},
              on_epoch=lambda step, evals, state, signals: seen.update({step: signals}))
    assert sorted(seen) == [10, 20, 30]
    losses = [seen[s]["train_loss"] for s in (10, 20, 30)]
    assert all(0 < v < 5 for v in losses) and losses[-1] < losses[0]  # it learns
    lrs = [seen[s]["lr"] for s in (10, 20, 30)]
    assert 0.3 > lrs[0] > lrs[1] > lrs[2] and lrs[2] < 1e-6  # cosine down to zero at the last epoch
