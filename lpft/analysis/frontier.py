"""Pareto frontiers of (ID, OOD) accuracy, vectorised in O(n log n)."""

from __future__ import annotations

import numpy as np


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where no other point is >= in both coordinates and > in one (duplicates: one kept)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    order = np.lexsort((-y, -x))  # by x descending, then y descending
    ys = y[order]
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(ys)[:-1]])
    mask = np.zeros(len(x), bool)
    mask[order] = ys > best_before
    return mask


def ownership(strategy: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[tuple[str, float, float]]:
    """Which strategy owns which stretch of the overall frontier: (strategy, lowest ID, highest ID),
    in order of increasing ID accuracy, one entry per run of consecutive frontier points."""
    mask = pareto_mask(x, y)
    order = np.argsort(np.asarray(x, float)[mask], kind="stable")
    s, xs = np.asarray(strategy)[mask][order], np.asarray(x, float)[mask][order]
    runs: list[tuple[str, float, float]] = []
    for name, value in zip(s, xs):
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1], float(value))
        else:
            runs.append((str(name), float(value), float(value)))
    return runs
