"""WiSE: weight-space ensembling of the pretrained model and a fine-tuned one (Wortsman et al., 2022).

theta_alpha = (1 - alpha) * theta0 + alpha * theta1, evaluated for alpha on a grid from 0 to 1,
with no retraining. theta0 is the linear probe on the pretrained backbone (the pretrained
weights with LP's head, as LP-FT starts from); theta1 is a fine-tuned model (FT, LP-FT, L2-SP,
partial FT) saved as a state dict. Every floating-point tensor is interpolated, BatchNorm's
running means and variances included (linearly, like the weights); integer buffers (BatchNorm's
num_batches_tracked) are taken from theta1. Each alpha is one step, recorded as `hp.alpha`.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from lpft.data.base import Benchmark
from lpft.errors import InputError, require
from lpft.looks import Look
from lpft.results import COMPLETED, Evaluation, RunResult
from lpft.settings import PATH
from lpft.strategies.base import EpochCallback, strategy
from lpft.strategies.lp import LPHeadParams, lp_head
from lpft.strategies.soups import misfit, shapes

if TYPE_CHECKING:  # torch and the models load when a trial runs, not when a spec names WiSE
    import torch

    from lpft.models.backbone import Backbone
    from lpft.models.classifier import Classifier

    State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class WiseParams(LPHeadParams):  # the C path gives theta0's head
    model: str = field(default="", metadata=PATH)  # the fine-tuned model: a saved state dict's path or URI
    source_trial: str = ""  # the sweep trial that produced `model`, when a sweep ran it
    num_alphas: int = 11  # alpha = 0, 0.1, ..., 1
    bn_adapt: bool = False  # also score each eval set after re-estimating BatchNorm statistics on it

    def __post_init__(self) -> None:
        require(self.num_alphas >= 2, f"num_alphas must be >= 2, got {self.num_alphas}")
        self.lp()


def interpolate(theta0: State, theta1: State, alpha: float) -> State:
    """(1 - alpha) * theta0 + alpha * theta1 for floating tensors; theta1's integer buffers."""
    import torch

    return {k: torch.lerp(theta0[k], theta1[k].to(theta0[k].dtype), alpha) if theta0[k].is_floating_point()
            else theta1[k].clone() for k in theta0}


def alphas(n: int) -> list[float]:
    return [round(float(a), 10) for a in np.linspace(0.0, 1.0, n)]


def pretrained_with_lp_head(model: Classifier, benchmark: Benchmark, backbone: Backbone, hp: WiseParams,
                            device: str, workers: int) -> State:
    """theta0: the pretrained backbone's weights with LP's selected head (cached like LP-FT's)."""
    lp_head(benchmark, backbone, hp.lp(), device, workers=workers).copy_into(model.head)
    return copy.deepcopy(model.state_dict())


@strategy("wise", WiseParams, "weight-space interpolation of the LP model and a fine-tuned one",
          step_hparams={"alpha": float}, path_hparams=("alpha",), derived=True,
          look=Look("WiSE", shown="alpha"))
def wise(benchmark: Benchmark, backbone: Backbone, hp: WiseParams, device: str = "cpu",
         on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    if not hp.model:
        raise InputError("wise: set model=PATH, a fine-tuned model's state dict (lpft run --save-model, "
                         "or a sweep's models/<trial_id>.pt)")
    from lpft.models.classifier import Classifier
    from lpft.models.saved import load_model_state
    from lpft.strategies.training import evaluate

    theta1 = load_model_state(hp.model)
    model = Classifier.for_backbone(backbone, benchmark.num_classes, bias=benchmark.head_bias)
    theta0 = pretrained_with_lp_head(model, benchmark, backbone, hp, device, workers)
    if misfit(shapes(theta0), theta1) is not None:
        raise InputError(f"wise: {hp.model} is not a fine-tuned {backbone.name} for {benchmark.name} "
                         "(its parameters differ from this backbone's)")
    evaluations: list[Evaluation] = []
    grid = alphas(hp.num_alphas)
    for step, alpha in enumerate(grid):
        model.load_state_dict(interpolate(theta0, theta1, alpha))
        evals = evaluate(model, backbone, benchmark, step, device, workers, bn_adapt=hp.bn_adapt)
        evaluations.extend(evals)
        if on_epoch is not None:
            on_epoch(step, evals, None)  # seconds per alpha: rerun rather than resume
    return RunResult(COMPLETED, evaluations, asdict(hp), model=model,
                     step_hparams={i: {"alpha": a} for i, a in enumerate(grid)},
                     diagnostics={"interpolated": "weights and BatchNorm running statistics"})
