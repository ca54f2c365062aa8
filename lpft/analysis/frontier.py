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
