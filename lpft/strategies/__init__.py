"""Strategy registry: plain functions `fn(benchmark, backbone, hparams, device, on_epoch) -> RunResult`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lpft.registry import Registry
from lpft.results import RunResult
from lpft.strategies.ft import ft
from lpft.strategies.l2sp import l2sp
from lpft.strategies.lp import lp
from lpft.strategies.lpft import lpft
from lpft.strategies.params import FTParams, L2SPParams, LPFTParams, LPParams, PartialParams, WiseParams
from lpft.strategies.partial import ft_partial
from lpft.strategies.wise import wise


@dataclass(frozen=True)
class Strategy:
    name: str
    params: type
    run: Callable[..., RunResult]
    description: str

    @property
    def fine_tunes(self) -> bool:
        """Trains the backbone with SGD (FT and its variants): has FT's hyperparameters and a model to save."""
        return issubclass(self.params, FTParams)


STRATEGIES: Registry[Strategy] = Registry("strategy")
for _s in (
    Strategy("lp", LPParams, lp, "linear probe: logistic regression on frozen features over a C path"),
    Strategy("ft", FTParams, ft, "full fine-tuning from a fresh head"),
    Strategy("lpft", LPFTParams, lpft, "linear probe, then full fine-tuning from that head"),
    Strategy("l2sp", L2SPParams, l2sp, "fine-tuning pulled toward the pretrained weights (L2-SP)"),
    Strategy("ft-partial", PartialParams, ft_partial, "fine-tuning of the top k blocks (or one block) only"),
    Strategy("wise", WiseParams, wise, "weight-space interpolation of the LP model and a fine-tuned one"),
):
    STRATEGIES.register(_s.name)(_s)

__all__ = ["STRATEGIES", "Strategy", "FTParams", "L2SPParams", "LPFTParams", "LPParams", "PartialParams", "WiseParams"]
