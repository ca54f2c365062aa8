"""Calibration metrics against independent computations: the `uncertainty-calibration` package
(Kumar, Liang and Ma 2019's own code) for the binned errors, scikit-learn for NLL and Brier,
hand-worked cases, and a known temperature recovered from labels drawn at it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from calibration import utils as reference  # the uncertainty-calibration package
from sklearn.metrics import brier_score_loss, log_loss

from lpft.calibration import COLUMNS, METRICS, calibration, fit_temperature, log_softmax, restrict, scores


def _logits(n: int, k: int, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * scale
    y = rng.integers(0, k, n)
    z[np.arange(n), y] += 1.5  # better than chance, so bins hold both right and wrong answers
    return z, y


@pytest.mark.parametrize(("n", "k", "scale", "seed"), [(1000, 10, 3.0, 0), (257, 3, 1.0, 1), (50, 2, 5.0, 2),
                                                       (3000, 100, 2.0, 3), (30, 5, 0.1, 4), (7, 4, 1.0, 5)])
def test_every_metric_matches_the_reference_implementations(n, k, scale, seed):
    z, y = _logits(n, k, scale, seed)
    p = np.exp(log_softmax(z))
    ours = scores(z, y)
    expected = {
        "ece": reference.get_ece(p, y, num_bins=15),  # Guo et al.: 15 equal-width bins
        "ece_mass": reference.get_ece_em(p, y, num_bins=100),  # Minderer et al.: 100 equal-mass bins
        "ce_l2": reference.lower_bound_scaling_top_ce(p, y, p=2, debias=True, num_bins=15),
        "nll": log_loss(y, p, labels=range(k)),
        "brier": brier_score_loss(y, p, labels=range(k), scale_by_half=False),
    }
    assert set(ours) == set(METRICS)
    for name in METRICS:
        assert ours[name] == pytest.approx(float(expected[name]), rel=1e-9, abs=1e-12), name


def test_ece_by_hand():
    # Confidences 0.9, 0.9 (one right), 0.6 (right), 0.3 over 3 classes (wrong): equal-width bins
    # of 1/15 put them in three bins: |0.9 - 0.5| * 2/4 + |0.6 - 1| * 1/4 + |0.3 - 0| * 1/4.
    probs = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]])
    probs[3] = [0.3, 0.35, 0.35]  # top 0.35 (class 1, the first of two maxima), label 2: wrong
    y = np.array([0, 1, 1, 2])
    z = np.log(probs)
    expected = 0.4 * 2 / 4 + 0.4 / 4 + 0.35 / 4
    assert scores(z, y)["ece"] == pytest.approx(expected)
    # Brier: per example sum of squared gaps to the one-hot label.
    brier = np.mean([0.01 + 0.0025 * 2, 0.81 + 0.95 ** 2 + 0.0025, 0.04 * 2 + 0.16, 0.09 + 0.35 ** 2 + 0.65 ** 2])
    assert scores(z, y)["brier"] == pytest.approx(brier)
    assert scores(z, y)["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.05, 0.6, 0.35])))


def test_debiased_l2_subtracts_each_bins_sampling_variance():
    # 100 examples all at confidence 0.7, 70 right: perfectly calibrated. The plug-in L2 error is 0,
    # and the debiased estimate floors its negative value (0 - 0.7 * 0.3 / 99 per bin) at 0.
    z = np.log(np.tile([0.7, 0.3], (100, 1)))
    y = np.array([0] * 70 + [1] * 30)
    assert scores(z, y)["ce_l2"] == 0.0
    assert scores(z, y)["ece"] == pytest.approx(0.0, abs=1e-12)
    # 90 right at 0.7: gap 0.2, variance 0.9 * 0.1 / 99 per bin, every bin alike.
    y = np.array([0] * 90 + [1] * 10)
    rng = np.random.default_rng(0)
    y = rng.permutation(y)
    expected = reference.lower_bound_scaling_top_ce(np.exp(log_softmax(z)), y, p=2, debias=True, num_bins=15)
    assert scores(z, y)["ce_l2"] == pytest.approx(float(expected))


@pytest.mark.parametrize("t0", [0.5, 1.0, 2.5])
def test_temperature_scaling_recovers_the_temperature_labels_were_drawn_at(t0):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(20_000, 5)) * 3
    p = np.exp(log_softmax(z / t0))
    y = (rng.random(len(p))[:, None] > p.cumsum(axis=1)).sum(axis=1)  # one draw per row
    fitted = fit_temperature(z, y)
    assert fitted is not None and fitted == pytest.approx(t0, rel=0.05)
    # The minimum of the NLL: a little either side is worse.
    nll = {t: scores(z / t, y)["nll"] for t in (fitted * 0.9, fitted, fitted * 1.1)}
    assert nll[fitted] < nll[fitted * 0.9] and nll[fitted] < nll[fitted * 1.1]


def test_scaling_changes_calibration_never_the_predictions():
    z, y = _logits(2000, 10, 4.0, 7)
    t = fit_temperature(z, y)
    assert t is not None and t > 1  # scale 4 logits are overconfident
    out = calibration(restrict(z, y, None), t)
    assert out["temperature"] == t
    assert out["nll_ts"] < out["nll"] and out["ece_ts"] < out["ece"]
    assert (np.argmax(z / t, axis=1) == np.argmax(z, axis=1)).all()


def test_a_fit_that_cannot_be_made_is_no_temperature():
    z = np.array([[0.0, 10.0], [0.0, 0.1]])  # every example right: NLL falls as T -> 0, no minimum
    assert fit_temperature(z, np.array([1, 1])) is None
    assert fit_temperature(z, np.array([1, 0])) is not None  # one wrong: a minimum exists
    assert fit_temperature(np.array([[np.inf, 0.0]]), np.array([0])) is None
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) is None


def test_logits_that_are_not_all_finite_give_empty_values_not_an_error():
    z, y = _logits(20, 3, 1.0, 0)
    z[4, 1] = np.nan
    out = calibration(restrict(z, y, None), 1.5)
    assert set(out) == set(COLUMNS) and all(v is None for v in out.values())


def test_a_set_scored_on_some_classes_is_calibrated_over_those_classes():
    z, y = _logits(300, 6, 2.0, 3)
    classes = np.array([1, 3, 4])
    keep = np.isin(y, classes)
    z, y = z[keep], y[keep]
    out = calibration(restrict(z, y, classes), None)
    by_hand = scores(z[:, classes], np.searchsorted(classes, y))
    assert {k: out[k] for k in METRICS} == by_hand
    assert out["ece_ts"] is None and out["temperature"] is None
    # Softmax over the subset, not over all six classes: the probabilities differ.
    assert not math.isclose(by_hand["nll"], scores(z, y)["nll"])
