"""The thin Ray Tune wrapper around one trial: report, checkpoint, resume, write its results."""

from lpft.trainables.trainable import TrialContext, lpft_trainable, sweep_trainable

__all__ = ["TrialContext", "lpft_trainable", "sweep_trainable"]
