"""Hyperparameters of each strategy, as dataclasses with explicit checks.

Field names are the `--set` keys and the `hp.<name>` result columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from lpft.errors import InputError


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise InputError(message)


@dataclass(frozen=True)
class LPParams:
    seed: int = 0
    c_min: float = 1e-7  # the official code's path: 50 log-spaced C from 1e-7 to 1e2
    c_max: float = 1e2
    num_cs: int = 50
    max_iter: int = 1000
    bn_adapt: bool = False  # also score each eval set after re-estimating BatchNorm statistics on it

    def __post_init__(self) -> None:
        _check(0 < self.c_min <= self.c_max, "c_min and c_max must satisfy 0 < c_min <= c_max")
        _check(self.num_cs >= 1, "num_cs must be >= 1")
        _check(self.max_iter >= 1, "max_iter must be >= 1")


@dataclass(frozen=True)
class FTParams:
    seed: int = 0
    lr: float = 0.01
    epochs: int = 10
    batch_size: int = 64  # 0: full batch (gradient descent)
    wd: float = 0.0
    momentum: float = 0.9
    bn: str = "train"  # "eval": BatchNorm keeps its pretrained statistics while training
    eval_every: int = 1  # epochs between evaluations (the last epoch is always evaluated)
    amp: bool = False  # bfloat16 autocast on a GPU (ignored on the CPU)
    head_lr_mult: float = 1.0  # the head's learning rate is lr * head_lr_mult
    bn_adapt: bool = False  # also score each eval set after re-estimating BatchNorm statistics on it

    def __post_init__(self) -> None:
        _check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 0, f"batch_size must be >= 0, got {self.batch_size}")
        _check(self.wd >= 0, f"wd must be >= 0, got {self.wd}")
        _check(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        _check(self.bn in ("train", "eval"), f"bn must be 'train' or 'eval', got {self.bn!r}")
        _check(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}")
        _check(self.head_lr_mult > 0, f"head_lr_mult must be > 0, got {self.head_lr_mult}")


@dataclass(frozen=True)
class LPHeadParams:
    """LP's C path, for strategies that start from LP's cached head (LP-FT, WiSE)."""

    seed: int = 0
    c_min: float = 1e-7
    c_max: float = 1e2
    num_cs: int = 50
    max_iter: int = 1000

    def lp(self) -> LPParams:
        """The LP whose head is used; building it validates the C path."""
        return LPParams(seed=self.seed, c_min=self.c_min, c_max=self.c_max, num_cs=self.num_cs,
                        max_iter=self.max_iter)


@dataclass(frozen=True)
class LPFTParams(FTParams, LPHeadParams):
    probe_epochs: int = 0  # 0: the head is LP's (sklearn, cached); > 0: head-only SGD epochs
    probe_lr: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.probe_epochs >= 0, f"probe_epochs must be >= 0, got {self.probe_epochs}")
        _check(self.probe_lr > 0, f"probe_lr must be > 0, got {self.probe_lr}")
        self.lp()


@dataclass(frozen=True)
class L2SPParams(FTParams):
    l2sp_weight: float = 0.01  # the pull toward the pretrained backbone; 0 is plain FT

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.l2sp_weight >= 0, f"l2sp_weight must be >= 0, got {self.l2sp_weight}")


@dataclass(frozen=True)
class PartialParams(FTParams):
    train_blocks: int = 1  # fine-tune the top k blocks of the backbone (the head always trains)
    block: int = -1  # >= 0: fine-tune only this block (surgical fine-tuning); overrides train_blocks

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.train_blocks >= 0, f"train_blocks must be >= 0, got {self.train_blocks}")
        _check(self.block >= -1, f"block must be -1 (use train_blocks) or a block index, got {self.block}")


@dataclass(frozen=True)
class WiseParams(LPHeadParams):  # the C path gives theta0's head
    model: str = ""  # the fine-tuned model: a saved state dict's path or storage URI
    source_trial: str = ""  # the sweep trial that produced `model`, when a sweep ran it
    num_alphas: int = 11  # alpha = 0, 0.1, ..., 1
    bn_adapt: bool = False  # also score each eval set after re-estimating BatchNorm statistics on it

    def __post_init__(self) -> None:
        _check(self.num_alphas >= 2, f"num_alphas must be >= 2, got {self.num_alphas}")
        self.lp()
