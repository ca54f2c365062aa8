"""Effective robustness (imagenet-testbed): OOD − Φ(a·Φ⁻¹(ID) + b), a line fit on probit axes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

EPS = 1e-4  # accuracies of exactly 0 or 1 are clipped to [EPS, 1 - EPS] before Φ⁻¹


def probit(acc: np.ndarray) -> np.ndarray:
    return norm.ppf(np.clip(np.asarray(acc, float), EPS, 1 - EPS))


def clipped(acc: np.ndarray) -> int:
    """How many accuracies the probit transform had to clip."""
    a = np.asarray(acc, float)
    return int(((a < EPS) | (a > 1 - EPS)).sum())


@dataclass(frozen=True)
class ProbitFit:
    slope: float
    intercept: float

    def predict(self, id_acc: np.ndarray) -> np.ndarray:
        return norm.cdf(self.slope * probit(id_acc) + self.intercept)


def fit_baseline(id_acc: np.ndarray, ood_acc: np.ndarray) -> ProbitFit:
    slope, intercept = np.polyfit(probit(id_acc), probit(ood_acc), 1)
    return ProbitFit(float(slope), float(intercept))


def effective_robustness(id_acc: np.ndarray, ood_acc: np.ndarray, fit: ProbitFit) -> np.ndarray:
    return np.asarray(ood_acc, float) - fit.predict(id_acc)


def bootstrap_ci(base_id: np.ndarray, base_ood: np.ndarray, id_acc: float, ood_acc: float,
                 n: int = 1000, seed: int = 0, level: float = 0.9) -> tuple[float, float]:
    """CI of one model's effective robustness, resampling the baseline points the line is fit on."""
    rng = np.random.default_rng(seed)
    base_id, base_ood = np.asarray(base_id, float), np.asarray(base_ood, float)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(base_id), len(base_id))
        if np.ptp(base_id[idx]) == 0:
            continue
        values.append(float(effective_robustness(id_acc, ood_acc, fit_baseline(base_id[idx], base_ood[idx]))))
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
