"""LP-FT: initialise the head by linear probing, then fine-tune everything.

The head comes from `lp` (sklearn on cached features, computed once and cached)
or, with probe_epochs > 0, from head-only SGD on the cached features, which is
head-only training with the backbone frozen in eval mode.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from lpft.data.base import Benchmark
from lpft.errors import require
from lpft.looks import Look
from lpft.results import DIVERGED, RunResult
from lpft.search_spaces import hparam, log_float
from lpft.strategies.base import EpochCallback, sgd_seed_controls, strategy
from lpft.strategies.lp import LPHeadParams, lp_head
from lpft.strategies.sgd_params import MAX_EPOCHS, SGDParams

if TYPE_CHECKING:  # torch and the models load when a trial runs, not when a spec names LP-FT
    from torch import nn

    from lpft.models.backbone import Backbone


@dataclass(frozen=True)
class LPFTParams(SGDParams, LPHeadParams):
    # LP-FT's best rates sit orders of magnitude below FT's (the paper's grid: 1e-7 .. 1e-3).
    lr: float = hparam(0.01, search=log_float(1e-7, 1e-3), grid=(1e-7, 1e-6, 1e-5, 1e-4, 1e-3))
    probe_epochs: int = 0  # 0: the head is LP's (sklearn, cached); > 0: head-only SGD epochs
    probe_lr: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.probe_epochs <= MAX_EPOCHS,
                f"probe_epochs must be in [0, {MAX_EPOCHS}], got {self.probe_epochs}")
        require(self.probe_lr > 0, f"probe_lr must be > 0, got {self.probe_lr}")
        self.lp()


def probe_head(benchmark: Benchmark, backbone: Backbone, hp: LPFTParams, device: str,
               workers: int = 0) -> nn.Linear | None:
    """Head-only SGD for probe_epochs on cached features; None if it diverged."""
    import torch
    from torch import nn

    from lpft.models.features import cached_features

    feats = cached_features(backbone, benchmark, device=device, workers=workers)
    x, y = torch.from_numpy(feats["id_train"]).to(backbone.dtype), torch.from_numpy(benchmark.train.y)
    head = nn.Linear(backbone.num_features, benchmark.num_classes, bias=benchmark.head_bias).to(backbone.dtype)
    opt = torch.optim.SGD(head.parameters(), lr=hp.probe_lr, momentum=hp.momentum, weight_decay=hp.wd)
    gen = torch.Generator().manual_seed(hp.seed)
    bs = hp.batch_size or len(y)
    for _ in range(hp.probe_epochs):
        for idx in torch.randperm(len(y), generator=gen).split(bs):
            loss = nn.functional.cross_entropy(head(x[idx]), y[idx])
            if not torch.isfinite(loss):
                return None
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return head


@strategy("lpft", LPFTParams, "linear probe, then full fine-tuning from that head", seed_controls=sgd_seed_controls,
          look=Look("LP-FT", colour="#009E73", order=2, shown="lr"))
def lp_ft(benchmark: Benchmark, backbone: Backbone, hp: LPFTParams, device: str = "cpu",
          on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    from lpft.models.classifier import Classifier
    from lpft.strategies.training import seed_everything, sgd_train

    seed_everything(hp.seed)
    model = Classifier.for_backbone(backbone, benchmark.num_classes, bias=benchmark.head_bias)
    diagnostics: dict = {}
    if resume is not None:
        pass  # the checkpoint holds the whole model, head included
    elif hp.probe_epochs == 0:
        head = lp_head(benchmark, backbone, hp.lp(), device, workers=workers)
        head.copy_into(model.head)
        diagnostics = {"C": head.C, "head_norm": float(np.linalg.norm(head.weight))}
    else:
        probed = probe_head(benchmark, backbone, hp, device, workers)
        if probed is None:
            return RunResult(DIVERGED, [], asdict(hp))
        model.head.load_state_dict(probed.state_dict())
    log = sgd_train(model, backbone, benchmark, hp, device, on_epoch, resume, workers)
    return RunResult(log.status, log.evaluations, asdict(hp), model=model,
                     diagnostics={**diagnostics, **log.diagnostics()})
