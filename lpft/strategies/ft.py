"""Full fine-tuning from a fresh (randomly initialised, seeded) head."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from lpft.data.base import Benchmark
from lpft.looks import Look
from lpft.results import RunResult
from lpft.strategies.base import EpochCallback, sgd_seed_controls, strategy
from lpft.strategies.sgd_params import SGDParams

if TYPE_CHECKING:  # torch and the models load when a trial runs, not when a spec names FT
    from lpft.models.backbone import Backbone


@dataclass(frozen=True)
class FTParams(SGDParams):
    """FT has exactly the SGD loop's hyperparameters."""


@strategy("ft", FTParams, "full fine-tuning from a fresh head", seed_controls=sgd_seed_controls,
          look=Look("FT", colour="#D55E00", order=1, shown="lr"))
def ft(benchmark: Benchmark, backbone: Backbone, hp: FTParams, device: str = "cpu",
       on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    from lpft.models.classifier import Classifier
    from lpft.strategies.training import seed_everything, sgd_train

    seed_everything(hp.seed)
    model = Classifier.for_backbone(backbone, benchmark.num_classes, bias=benchmark.head_bias)
    log = sgd_train(model, backbone, benchmark, hp, device, on_epoch, resume, workers)
    return RunResult(log.status, log.evaluations, asdict(hp), model=model, diagnostics=log.diagnostics())
