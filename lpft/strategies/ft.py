"""Full fine-tuning from a fresh (randomly initialised, seeded) head."""

from __future__ import annotations

from dataclasses import asdict

from lpft.data.base import Benchmark
from lpft.models.backbone import Backbone
from lpft.models.classifier import Classifier
from lpft.results import RunResult
from lpft.strategies.params import FTParams
from lpft.strategies.training import EpochCallback, seed_everything, sgd_train


def ft(benchmark: Benchmark, backbone: Backbone, hp: FTParams, device: str = "cpu",
       on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    seed_everything(hp.seed)
    model = Classifier.for_backbone(backbone, benchmark.num_classes, bias=benchmark.head_bias)
    log = sgd_train(model, backbone, benchmark, hp, device, on_epoch, resume, workers)
    return RunResult("ft", log.status, log.evaluations, asdict(hp), model=model, extra=log.extra())
