"""Calibration as trials record it: every strategy's evaluations carry it, computed from that
evaluation's own logits, checked here against the reference package, scikit-learn and a
temperature fit by scipy's scalar minimiser (not lpft's L-BFGS)."""

from __future__ import annotations

import numpy as np
import pytest
from calibration import utils as reference  # the uncertainty-calibration package
from scipy.optimize import minimize_scalar
from sklearn.metrics import log_loss

from lpft.calibration import COLUMNS, RELIABILITY, log_softmax
from lpft.dataset import read_results, write_trial
from lpft.results import calibration_gaps
from lpft.strategies.base import hparam_columns
from lpft.trial import run_trial


def _nll_at(z: np.ndarray, y: np.ndarray, t: float) -> float:
    return log_loss(y, np.exp(log_softmax(z / t)), labels=range(z.shape[1]))


def _check(evaluation, z: np.ndarray, y: np.ndarray, temperature: float | None, tol: float = 1e-9) -> None:
    """`tol`: 1e-9 for the evaluation's own logits; LP's head mapped back to raw features gives
    logits equal to its path's within float rounding, so its binned errors move by ~1e-9."""
    p = np.exp(log_softmax(z.astype(np.float64)))
    cal = evaluation.calibration
    assert evaluation.accuracy == pytest.approx(float((p.argmax(axis=1) == y).mean()))
    assert cal["ece"] == pytest.approx(reference.get_ece(p, y, num_bins=15), abs=tol)
    assert cal["ece_mass"] == pytest.approx(reference.get_ece_em(p, y, num_bins=100), abs=tol)
    assert cal["ce_l2"] == pytest.approx(reference.lower_bound_scaling_top_ce(p, y, p=2, num_bins=15), abs=tol)
    assert cal["nll"] == pytest.approx(log_loss(y, p, labels=range(z.shape[1])), rel=1e-6)
    # The reliability bins: the package's own equal-width binning of (confidence, correct).
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    binned = reference.bin(list(zip(conf, correct)), reference.get_equal_prob_bins(conf, 15))
    rel = evaluation.reliability
    assert rel["rel_count"] == [len(b) for b in binned]
    assert rel["rel_correct"] == [round(sum(c for _, c in b)) for b in binned]
    assert rel["rel_conf_sum"] == pytest.approx([sum(q for q, _ in b) for b in binned], abs=tol * 100)
    if temperature is None:
        assert cal["temperature"] is None and cal["nll_ts"] is None
    else:
        assert cal["temperature"] == pytest.approx(temperature, rel=1e-3)
        assert cal["nll_ts"] == pytest.approx(_nll_at(z, y, cal["temperature"]), rel=1e-6)


def _scipy_temperature(z: np.ndarray, y: np.ndarray) -> float:
    res = minimize_scalar(lambda log_t: _nll_at(z, y, float(np.exp(log_t))), bounds=(-5, 5), method="bounded",
                          options={"xatol": 1e-7})
    return float(np.exp(res.x))


def test_an_ft_trials_evaluations_are_calibrated_from_their_own_logits():
    from lpft.strategies.training import outputs

    trial = run_trial("synthetic", "ft", {"epochs": 3, "eval_every": 3, "lr": 0.3})
    r, model = trial.result, trial.result.model
    from lpft.data import load_benchmark
    from lpft.models import build_backbone

    bench = load_benchmark("synthetic")
    backbone = build_backbone(trial.backbone, trial.weights, bench)
    logits = {name: outputs(model, backbone, bench, split, "cpu") for name, split in bench.eval_sets.items()}
    t = _scipy_temperature(*logits["id_val"])
    final = [e for e in r.evaluations if e.step == 3]
    assert {e.eval_set for e in final} == set(bench.eval_sets)
    for e in final:
        _check(e, *logits[e.eval_set], t, tol=1e-6)
    assert r.diagnostics.get("calibration_empty", 0) == 0


def test_lp_is_calibrated_at_every_c_from_its_heads_logits(small_digits):
    from lpft.models import build_backbone
    from lpft.models.features import cached_features
    from lpft.strategies.lp import LPParams, c_path, fit_path

    backbone = build_backbone("tf_efficientnet_lite0", "imagenet", small_digits)
    feats = cached_features(backbone, small_digits)
    labels = {k: s.y for k, s in small_digits.splits.items()}
    roles = {k: s.role for k, s in small_digits.splits.items()}
    hp = LPParams(num_cs=6, c_min=1e-3, c_max=10)
    evaluations, head = fit_path(feats, labels, roles, hp, small_digits.num_classes)
    assert len(c_path(hp)) == 6 and {e.step for e in evaluations} == set(range(6))
    mine = [e for e in evaluations if e.step == head.step]
    logits = {name: (feats[name] @ head.weight.T + head.bias, labels[name]) for name in small_digits.eval_sets}
    # ID val can be all right on digits: then there is no temperature, and the check says so.
    val_z, val_y = logits["id_val"]
    t = None if (val_z.argmax(axis=1) == val_y).all() else _scipy_temperature(val_z, val_y)
    for e in mine:
        _check(e, *logits[e.eval_set], t, tol=1e-6)


def test_rows_carry_every_calibration_column_and_files_read_back(tmp_path):
    r = run_trial("synthetic", "lp", {"num_cs": 3}).result
    rows = r.rows(sweep="s", trial_id="lp-000", seed=0)
    assert all(set(COLUMNS) | set(RELIABILITY) <= set(row) for row in rows)
    write_trial(tmp_path / "results", "lp", "lp-000", rows, hparam_columns())
    table = read_results([tmp_path]).to_pandas()
    assert set(COLUMNS) | set(RELIABILITY) <= set(table.columns)
    assert (table["rel_count"].map(sum) == table["n_examples"]).all()  # every example in one bin
    assert table["ece"].notna().all() and table["ece"].between(0, 1).all()
    assert (table["nll_ts"] <= table["nll"] + 1e-9).all()  # scaling fit on ID val; others can worsen, ID val cannot
    assert calibration_gaps(r.evaluations) == {}


def test_a_model_whose_logits_are_not_finite_is_scored_with_empty_calibration_not_an_error():
    import torch

    from lpft.data import load_benchmark
    from lpft.models import build_backbone
    from lpft.models.classifier import Classifier
    from lpft.strategies.training import evaluate

    bench = load_benchmark("synthetic")
    backbone = build_backbone("linear", "none", bench)
    model = Classifier.for_backbone(backbone, bench.num_classes)
    with torch.no_grad():
        model.head.weight[0, 0] = float("nan")  # one class's logit NaN for every example
    evals = evaluate(model, backbone, bench, 1, "cpu")
    assert {e.eval_set for e in evals} == set(bench.eval_sets)
    assert all(set(e.calibration) == set(COLUMNS) and all(v is None for v in e.calibration.values()) for e in evals)
    assert all(e.reliability == dict.fromkeys(RELIABILITY) for e in evals)
    assert calibration_gaps(evals) == {"calibration_empty": len(evals)}


def test_gaps_are_counted_apart_from_evaluations_that_asked_for_none():
    from lpft.results import Evaluation

    evals = [Evaluation(1, "a", "ood", 0.5, calibration=dict.fromkeys(COLUMNS)),
             Evaluation(1, "b", "ood", 0.5, calibration={**dict.fromkeys(COLUMNS), "ece": 0.1}),
             Evaluation(1, "c", "ood", 0.5)]  # calibration not asked for: not a gap
    assert calibration_gaps(evals) == {"calibration_empty": 1, "temperature_empty": 1}
