"""L2-SP: fine-tuning pulled toward the pretrained weights (Li, Grandvalet and Davoine, 2018).

The penalty weight * ||theta - theta0||^2 on the backbone is applied as its proximal step
after each SGD step: theta <- theta0 + (theta - theta0) / (1 + 2 * lr * weight). Unlike a
gradient term, it is stable for any weight: as weight grows the backbone stays at theta0
(LP with a trained head), and weight 0 is exactly `ft` under the same seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from lpft.data.base import Benchmark
from lpft.errors import require
from lpft.looks import Look
from lpft.results import RunResult
from lpft.search_spaces import hparam, log_float
from lpft.strategies.base import EpochCallback, strategy
from lpft.strategies.sgd_params import SGDParams

if TYPE_CHECKING:  # torch and the models load when a trial runs, not when a spec names L2-SP
    from lpft.models.backbone import Backbone


@dataclass(frozen=True)
class L2SPParams(SGDParams):
    # The pull toward the pretrained backbone; 0 is plain FT. Not in the paper: its grid crosses FT's lrs.
    l2sp_weight: float = hparam(0.01, search=log_float(1e-4, 10.0), grid=(1e-3, 1e-2, 1e-1, 1.0))

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.l2sp_weight >= 0, f"l2sp_weight must be >= 0, got {self.l2sp_weight}")


@strategy("l2sp", L2SPParams, "fine-tuning pulled toward the pretrained weights (L2-SP)",
          look=Look("L2-SP", shown="lr"))
def l2sp(benchmark: Benchmark, backbone: Backbone, hp: L2SPParams, device: str = "cpu",
         on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    import torch

    from lpft.models.classifier import Classifier
    from lpft.strategies.training import seed_everything, sgd_train

    seed_everything(hp.seed)
    model = Classifier.for_backbone(backbone, benchmark.num_classes, bias=benchmark.head_bias)
    # The anchor is the pretrained backbone, also when resuming (the checkpoint loads later).
    anchor = [(p, p.detach().clone().to(device)) for p in model.backbone.parameters()]

    @torch.no_grad()
    def pull(opt: torch.optim.Optimizer) -> None:
        if hp.l2sp_weight == 0:
            return
        shrink = 1.0 / (1.0 + 2.0 * opt.param_groups[0]["lr"] * hp.l2sp_weight)  # the backbone group's lr
        for p, p0 in anchor:
            p.sub_(p0).mul_(shrink).add_(p0)

    log = sgd_train(model, backbone, benchmark, hp, device, on_epoch, resume, workers, after_step=pull)
    with torch.no_grad():
        drift = max((float((p - p0).abs().max()) for p, p0 in anchor), default=0.0)
    return RunResult(log.status, log.evaluations, asdict(hp), model=model,
                     diagnostics={**log.diagnostics(), "max_drift": drift})
