"""Calibration of a classifier's probabilities, from its logits: ECE (equal-width and equal-mass
bins), the debiased L2 calibration error, NLL and Brier score, raw and after temperature scaling.

Definitions (tested against the `uncertainty-calibration` package, Kumar, Liang and Ma 2019, and
scikit-learn):

- `ece`: top-label L1 calibration error over 15 equal-width confidence bins (Guo et al. 2017;
  a confidence on a bin's upper edge falls in that bin);
- `ece_mass`: the same over 100 equal-mass bins (Minderer et al. 2021): bin edges halfway
  between the sorted confidences' consecutive chunks, as the package makes them;
- `ce_l2`: the debiased top-label L2 calibration error over 15 equal-mass bins (Kumar et al. 2019:
  each bin's squared gap minus its accuracy's sampling variance, floored at 0 before the root);
- `nll`: mean negative log-likelihood of the true class; `brier`: mean over examples of the
  squared distance between the probability vector and the one-hot label (range [0, 2]).

`*_ts`: the same after dividing the logits by one temperature, fit on ID val by minimising NLL
(L-BFGS over log T). Accuracy does not change: argmax is unchanged by a positive scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WIDTH_BINS = 15
MASS_BINS = 100
L2_BINS = 15
METRICS = ("ece", "ece_mass", "ce_l2", "nll", "brier")
TS = "_ts"
COLUMNS = (*METRICS, *(m + TS for m in METRICS), "temperature")
# The reliability diagram's data, per evaluation: the WIDTH_BINS equal-width bins' example counts,
# sums of top-label confidence and counts of correct top labels (sums, so that seeds pool exactly).
RELIABILITY = ("rel_count", "rel_conf_sum", "rel_correct")
# log T is searched in [-LOG_T_BOUND, LOG_T_BOUND]: a temperature of 1e-3 or 1e3 is a fit gone wrong.
LOG_T_BOUND = math.log(1e3)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def top_label(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each example's top probability and whether its top class is the label (1.0 or 0.0);
    the top class is the first of equal maxima, as argmax (the accuracy) takes it."""
    pred = probs.argmax(axis=1)
    return probs[np.arange(len(probs)), pred], (pred == labels).astype(float)


def binned_gaps(conf: np.ndarray, correct: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                np.ndarray]:
    """Per bin (upper `edges`, the last 1.0): count, mean confidence, mean correctness (0 where empty)."""
    idx = bin_of(conf, edges)
    count = np.bincount(idx, minlength=len(edges)).astype(float)
    safe = np.maximum(count, 1)
    return (count, np.bincount(idx, conf, len(edges)) / safe, np.bincount(idx, correct, len(edges)) / safe)


def bin_of(conf: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each confidence's bin: the first upper edge at or above it (the last bin's edge is 1.0)."""
    return np.minimum(np.searchsorted(edges, conf, side="left"), len(edges) - 1)


def width_edges(bins: int) -> np.ndarray:
    return np.arange(1, bins + 1) / bins


def mass_edges(conf: np.ndarray, bins: int, presorted: bool = False) -> np.ndarray:
    """Edges putting about as many confidences in each bin: halfway between consecutive chunks of
    the sorted confidences (np.array_split's chunks), then 1.0, duplicates merged."""
    s = conf if presorted else np.sort(conf)
    bins = min(bins, len(s))
    size, extra = divmod(len(s), bins)  # np.array_split: the first `extra` chunks one longer
    ends = np.cumsum([size + 1] * extra + [size] * (bins - extra))[:-1]
    return np.unique(np.append((s[ends - 1] + s[ends]) / 2, 1.0))


def ece(conf: np.ndarray, correct: np.ndarray, edges: np.ndarray) -> float:
    count, mean_conf, acc = binned_gaps(conf, correct, edges)
    return float(np.dot(count / count.sum(), np.abs(mean_conf - acc)))


def debiased_l2(conf: np.ndarray, correct: np.ndarray, edges: np.ndarray) -> float:
    """Kumar et al. 2019: sum over bins of weight * (gap^2 - acc(1 - acc)/(n - 1)), bins with one
    example counting 0; the root of that, floored at 0."""
    count, mean_conf, acc = binned_gaps(conf, correct, edges)
    var = np.where(count >= 2, acc * (1 - acc) / np.maximum(count - 1, 1), 0.0)
    per_bin = np.where(count >= 2, (mean_conf - acc) ** 2 - var, 0.0)
    return float(max(np.dot(count / count.sum(), per_bin), 0.0) ** 0.5)


def scores(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The five metrics of METRICS for `logits` (n, classes) and integer `labels` (n,)."""
    return _scores_and_bins(logits, labels)[0]


def _scores_and_bins(logits: np.ndarray, labels: np.ndarray) -> tuple[dict[str, float], dict[str, list | None]]:
    """`scores`, and RELIABILITY's lists from the same softmax and equal-width binning as `ece`."""
    logp = log_softmax(logits.astype(np.float64, copy=False))
    probs = np.exp(logp)
    rows = np.arange(len(labels))
    conf, correct = top_label(probs, labels)
    ordered = np.sort(conf)  # one sort for both equal-mass binnings
    onehot_gap = probs.copy()
    onehot_gap[rows, labels] -= 1.0
    idx = bin_of(conf, width_edges(WIDTH_BINS))
    bins: dict[str, list | None] = {"rel_count": np.bincount(idx, minlength=WIDTH_BINS).tolist(),
            "rel_conf_sum": np.bincount(idx, conf, WIDTH_BINS).tolist(),
            "rel_correct": np.bincount(idx, correct, WIDTH_BINS).round().astype(int).tolist()}
    return {
        "ece": ece(conf, correct, width_edges(WIDTH_BINS)),
        "ece_mass": ece(conf, correct, mass_edges(ordered, MASS_BINS, presorted=True)),
        "ce_l2": debiased_l2(conf, correct, mass_edges(ordered, L2_BINS, presorted=True)),
        "nll": float(-logp[rows, labels].mean()),
        "brier": float((onehot_gap ** 2).sum(axis=1).mean()),
    }, bins


def _nll_and_grad(log_t: np.ndarray, logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean NLL of logits / exp(log_t), and its derivative in log_t: mean(s_y - E_p[s]), s = z/T."""
    s = logits * math.exp(-float(log_t[0]))
    logp = log_softmax(s)
    rows = np.arange(len(labels))
    expected = (np.exp(logp) * s).sum(axis=1)
    return float(-logp[rows, labels].mean()), np.array([float((s[rows, labels] - expected).mean())])


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float | None:
    """The temperature minimising NLL on (`logits`, `labels`), by L-BFGS over log T from T = 1.
    None when there is no such temperature: every example right (NLL then falls all the way to
    T -> 0), a fit that does not converge or ends on a bound (1e-3, 1e3), logits not all finite
    or a label outside the classes scored."""
    from scipy.optimize import minimize

    z = logits.astype(np.float64, copy=False)
    if not _usable(z, labels) or (z.argmax(axis=1) == labels).all():
        return None
    res = minimize(_nll_and_grad, np.zeros(1), args=(z, labels), jac=True, method="L-BFGS-B",
                   bounds=[(-LOG_T_BOUND, LOG_T_BOUND)])
    log_t = float(res.x[0])
    if not res.success or not math.isfinite(log_t) or abs(log_t) >= LOG_T_BOUND - 1e-6:
        return None
    return math.exp(log_t)


@dataclass(frozen=True)
class Scored:
    """One eval set's logits as calibration needs them: restricted to the classes scored, labels
    as positions in them."""

    logits: np.ndarray
    labels: np.ndarray


def restrict(logits: np.ndarray, labels: np.ndarray, classes: np.ndarray | None) -> Scored:
    """Logits over `classes` only (an eval set scored on a subset of the classes, as `predict`
    does), labels mapped to their positions; everything when `classes` is None."""
    if classes is None:
        return Scored(logits, labels.astype(np.int64))
    position = np.full(int(max(classes.max(), labels.max())) + 1, -1)
    position[classes] = np.arange(len(classes))
    return Scored(logits[:, classes], position[labels])


def _usable(z: np.ndarray, y: np.ndarray) -> bool:
    return bool(len(y) and z.ndim == 2 and np.isfinite(z).all() and y.min() >= 0 and y.max() < z.shape[1])


def calibration(scored: Scored, temperature: float | None) -> dict[str, float | None]:
    """Every column of COLUMNS for one eval set: raw, and with `temperature` (None: the `_ts`
    columns and the temperature are empty). Empty too when the logits are not all finite or a
    label is outside the classes scored."""
    return calibrated(scored, temperature)[0]


def calibrated(scored: Scored, temperature: float | None) -> tuple[dict[str, float | None], dict[str, list | None]]:
    """`calibration`, and RELIABILITY's three lists for the raw probabilities (None where the
    calibration is empty), from one softmax of the raw logits."""
    out: dict[str, float | None] = dict.fromkeys(COLUMNS)
    z, y = scored.logits, scored.labels
    if not _usable(z, y):
        return out, dict.fromkeys(RELIABILITY)
    raw, bins = _scores_and_bins(z, y)
    out.update(raw)
    if temperature is not None:
        out.update({k + TS: v for k, v in scores(z / temperature, y).items()})
        out["temperature"] = temperature
    return out, bins
