"""Thin Ray Tune wrappers around the strategies (report, checkpoint, resume) and the results sink."""

from lpft.trainables.function import TrialContext, lpft_trainable

__all__ = ["TrialContext", "lpft_trainable"]
