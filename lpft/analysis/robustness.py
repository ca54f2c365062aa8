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
    return fit_line(probit(id_acc), probit(ood_acc))


def fit_line(x: np.ndarray, y: np.ndarray) -> ProbitFit:
    """Least squares y = slope·x + intercept on already-probit values (bootstraps transform once)."""
    mx, my = x.mean(), y.mean()
    slope = float(((x - mx) * (y - my)).sum() / ((x - mx) ** 2).sum())
    return ProbitFit(slope, float(my - slope * mx))


def bootstrap_lines(base_id: np.ndarray, base_ood: np.ndarray, n: int, seed: int = 0) -> list[ProbitFit]:
    """The baseline line refit on `n` resamples of its points (those with one distinct ID
    accuracy are skipped). Φ⁻¹ is taken once, not per resample: at a million rows the
    transform inside each refit was most of the analysis's time."""
    rng = np.random.default_rng(seed)
    x, y = probit(base_id), probit(base_ood)
    fits = []
    for _ in range(n):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) > 0:
            fits.append(fit_line(x[idx], y[idx]))
    return fits


def effective_robustness(id_acc: np.ndarray, ood_acc: np.ndarray, fit: ProbitFit) -> np.ndarray:
    return np.asarray(ood_acc, float) - fit.predict(id_acc)


def bootstrap_ci(base_id: np.ndarray, base_ood: np.ndarray, id_acc: float, ood_acc: float,
                 n: int = 1000, seed: int = 0, level: float = 0.9) -> tuple[float, float]:
    """CI of one model's effective robustness, resampling the baseline points the line is fit on."""
    fits = bootstrap_lines(base_id, base_ood, n, seed)
    values = [float(effective_robustness(id_acc, ood_acc, fit)) for fit in fits]
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
