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
from lpft.results import PLAIN, Evaluation


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
    correct = predict(logits, s.classes) == s.labels
    cal, bins = calibrated(restrict(logits, s.labels, s.classes), temperature) if calibrate else ({}, {})
    return Evaluation(step, s.name, s.role, float(correct.mean()) if len(correct) else 0.0, adapt=adapt,
                      n=len(s.labels), calibration=cal, reliability=bins)
