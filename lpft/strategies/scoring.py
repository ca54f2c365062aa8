"""An evaluation from an eval set's logits: its accuracy and calibration at one step, with the
temperature fit on ID val (`lpft.calibration`). Every strategy scores through here, whatever made
its logits (a torch model, LP's head on cached features, an interpolated model), so every row
carries the same metrics, computed the same way. One set's logits at a time: ID val's first,
for the temperature the others are scored with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lpft.calibration import calibrated, fit_temperature, restrict
from lpft.data.base import predict
from lpft.results import CONFUSION_MAX, PER_CLASS, PLAIN, Evaluation


@dataclass(frozen=True)
class EvalSet:
    """What scoring an eval set needs besides its logits: its name, role, labels and, for a set
    scored on some of the classes only, those classes."""

    name: str
    role: str
    labels: np.ndarray
    classes: np.ndarray | None = None


def temperature_of(logits: np.ndarray, s: EvalSet) -> float | None:
    """The temperature fit on this (ID val) set's logits; None when none can be fit."""
    scored = restrict(logits, s.labels, s.classes)
    return fit_temperature(scored.logits, scored.labels)


def score(step: int, logits: np.ndarray, s: EvalSet, temperature: float | None, adapt: str = PLAIN,
          calibrate: bool = True) -> Evaluation:
    """`s` scored from its `logits` (examples x classes): accuracy (the argmax over the classes it
    is scored on), and with `calibrate` every calibration metric raw and at `temperature`."""
    predicted = predict(logits, s.classes)
    correct = predicted == s.labels
    cal, bins = calibrated(restrict(logits, s.labels, s.classes), temperature) if calibrate else ({}, {})
    return Evaluation(step, s.name, s.role, float(correct.mean()) if len(correct) else 0.0, adapt=adapt,
                      n=len(s.labels), calibration=cal, reliability=bins,
                      per_class=per_class(s.labels, predicted, logits.shape[1] if logits.ndim == 2 else 0))


def per_class(labels: np.ndarray, predicted: np.ndarray, classes: int) -> dict[str, list[int] | None]:
    """PER_CLASS's counts: examples and correct ones per true class, and the confusion counts
    (true x predicted, row-major) for up to CONFUSION_MAX classes; all None when a label or a
    prediction is not one of the `classes`."""
    labels, predicted = np.asarray(labels, np.int64), np.asarray(predicted, np.int64)
    if classes < 1 or any(((a < 0) | (a >= classes)).any() for a in (labels, predicted) if len(a)):
        return dict.fromkeys(PER_CLASS)
    count = np.bincount(labels, minlength=classes)
    right = np.bincount(labels[labels == predicted], minlength=classes)
    confusion = np.bincount(labels * classes + predicted, minlength=classes * classes) \
        if classes <= CONFUSION_MAX else None
    return {"class_count": count.tolist(), "class_correct": right.tolist(),
            "confusion": None if confusion is None else confusion.tolist()}
