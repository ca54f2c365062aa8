"""The SGD loop's hyperparameters (`lpft.strategies.training.sgd_train`), which every
fine-tuning strategy has: FT's exactly, and LP-FT, L2-SP and partial FT add their own."""

from __future__ import annotations

from dataclasses import dataclass

from lpft.errors import quote, require
from lpft.search_spaces import hparam, log_float

# More epochs than any run needs (synthetic's full-batch GD uses 300, a test keeps a sweep busy with
# 200,000): a typo like 1e14 is refused here, not left to run for ever behind an ETA computed from
# the first epochs.
MAX_EPOCHS = 1_000_000
# The paper's FT learning rates (Kumar et al. 2022, Appendix), and the range a default sweep searches.
FT_LRS = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


@dataclass(frozen=True)
class SGDParams:
    seed: int = 0
    lr: float = hparam(0.01, search=log_float(3e-5, 1e-2), grid=FT_LRS)
    epochs: int = 10
    batch_size: int = 64  # 0: full batch (gradient descent)
    wd: float = 0.0
    momentum: float = 0.9
    bn: str = "train"  # "eval": BatchNorm keeps its pretrained statistics while training
    eval_every: int = 1  # epochs between evaluations (the last epoch is always evaluated)
    amp: bool = True  # bfloat16 autocast on a GPU (ignored on the CPU)
    channels_last: bool = True  # channels-last memory format for the model and images on a GPU (ignored on the CPU)
    torch_compile: bool = False  # torch.compile the training step's model on a GPU (ignored on the CPU)
    head_lr_mult: float = 1.0  # the head's learning rate is lr * head_lr_mult
    bn_adapt: bool = False  # also score each eval set after re-estimating BatchNorm statistics on it

    def __post_init__(self) -> None:
        require(0 <= self.seed < 2**32, f"seed must be in [0, 2**32), got {self.seed}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(1 <= self.epochs <= MAX_EPOCHS, f"epochs must be in [1, {MAX_EPOCHS}], got {self.epochs}")
        require(self.batch_size >= 0, f"batch_size must be >= 0, got {self.batch_size}")
        require(self.wd >= 0, f"wd must be >= 0, got {self.wd}")
        require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        require(self.bn in ("train", "eval"), f"bn must be 'train' or 'eval', got {quote(self.bn)}")
        require(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}")
        require(self.head_lr_mult > 0, f"head_lr_mult must be > 0, got {self.head_lr_mult}")
