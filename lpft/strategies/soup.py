"""Model soups as strategies: `soup-uniform` and `soup-greedy` (Wortsman et al., ICML 2022), over
a sweep's saved fine-tuned models (`lpft.strategies.soups` does the averaging).

The ingredients are the candidates (trial ids; their models `<models>/<trial>.pt`) that share the
architecture and head shape of this backbone and benchmark: one that does not is left out with
one line naming it. Each is scored alone on ID val (accuracy, its own BatchNorm statistics), and
they are ranked by it (ties: the given order). Uniform: the mean of all; greedy: from the best,
each next one kept only if the soup's ID val accuracy strictly rises.

BatchNorm: where the ingredients' running statistics differ (trained with `bn: train`), their
average belongs to no model, so it is re-estimated on ID train (in order, the eval transform; a
cumulative mean) after each averaging, the greedy rule's candidates included; `bn_reestimate:
false` keeps the average. Where they are the same in every ingredient (BN frozen in training,
`bn: eval`), they are the soup's as they are: the statistics its weights were trained with.

The soup is then evaluated like any model (every eval set, calibration included). Its rows record
the candidates (`hp.candidates`) and the ingredients it holds (`hp.ingredients`: greedy's kept
ones, in the order they were added).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lpft.data.base import Benchmark
from lpft.errors import InputError, quote, require
from lpft.looks import Look
from lpft.names import is_name
from lpft.results import COMPLETED, RunResult
from lpft.settings import PATH
from lpft.storage import join_uri, locate, outside
from lpft.strategies.base import EpochCallback, SeedContext, strategy
from lpft.strategies.soups import misfit, shapes

if TYPE_CHECKING:  # torch loads when a soup is made, not when the strategies are listed
    import torch

    from lpft.models.backbone import Backbone
    from lpft.models.classifier import Classifier

    State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class SoupParams:
    candidates: str = ""  # the saved models' trial ids, comma-separated (a sweep fills it)
    models: str = field(default="", metadata=PATH)  # the folder holding <trial>.pt (a sweep's models/)
    bn_reestimate: bool = True  # re-estimate BatchNorm statistics on ID train after averaging
    seed: int = 0  # builds the backbone only, whose weights the ingredients replace

    def __post_init__(self) -> None:
        require(0 <= self.seed < 2**32, f"seed must be in [0, 2**32), got {self.seed}")

    def names(self) -> list[str]:
        names = [n.strip() for n in self.candidates.split(",") if n.strip()]
        bad = next((n for n in names if not is_name(n)), None)
        if bad is not None:
            raise InputError(f"candidates: {bad!r} is not a trial id (a saved model's file name)")
        if not names or not self.models:
            raise InputError("a soup needs candidates=TRIAL,TRIAL,... and models=FOLDER (a sweep's saved "
                             "models: `save_models: true`, or `lpft soup SWEEP`)")
        return list(dict.fromkeys(names))


def soup_seed_controls(hp: Any, context: SeedContext) -> tuple[str, ...]:
    """Averaging, ranking and re-estimating BN in order draw nothing at random, but a soup is one
    draw all the same: its ingredients were trained on their own seeds. Not `()`: the tables
    would call one soup exact ("deterministic") and compare it to other strategies as if it were."""
    return ("its ingredients (each trained on its own seed)",)


class Kitchen:
    """What a soup is made with: the model it is evaluated in, ID val, ID train for BatchNorm."""

    def __init__(self, benchmark: Benchmark, backbone: Backbone, hp: SoupParams, device: str, workers: int) -> None:
        from torch import nn

        from lpft.models.bn_adapt import has_batchnorm
        from lpft.models.classifier import Classifier

        self.benchmark, self.backbone, self.hp, self.device, self.workers = benchmark, backbone, hp, device, workers
        self.model: Classifier = Classifier.for_backbone(backbone, benchmark.num_classes,
                                                         bias=benchmark.head_bias).to(device)
        self.reference = shapes(self.model.state_dict())
        self.val = next((s for s in benchmark.eval_sets.values() if s.role == "id_val"), None)
        if self.val is None:
            raise InputError(f"soup: benchmark {benchmark.name} has no ID val set to rank ingredients on")
        # BatchNorm running statistics: (name, first fitting ingredient's value), to see whether the
        # ingredients' differ (trained with `bn: train`) or are all the same (BN frozen: `bn: eval`)
        self.stats = [k for k, m in self.model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                      for k in (f"{k}.running_mean", f"{k}.running_var") if k in self.reference]
        self.first_stats: dict[str, torch.Tensor] = {}
        self.stats_differ = False
        self.has_bn = has_batchnorm(self.model)
        self.rebatch = hp.bn_reestimate and self.has_bn  # until the ingredients are read

    def bn_note(self, ingredients: int) -> str:
        """What the soup's BatchNorm statistics are (its `bn` diagnostic)."""
        if not self.has_bn:
            return "none (no BatchNorm)"
        if ingredients == 1:
            return "its one ingredient's"
        if not self.stats_differ:
            return "the ingredients' own (the same in all: BatchNorm frozen in training)"
        return "re-estimated on ID train" if self.rebatch else "averaged (bn_reestimate: false)"

    def _unreadable(self, name: str) -> str | None:
        """Why candidate `name`'s file is not read (None: it is): absent, or a link out of `models`."""
        loc, folder = locate(self._file(name)), locate(self.hp.models)
        if not loc.exists():
            return f"no saved model ({loc})"
        target = outside(loc, folder)
        return None if target is None else f"{loc} is a link out of the models folder (to {quote(target)})"

    def _file(self, name: str) -> str:
        return join_uri(self.hp.models, f"{name}.pt")

    def load(self, name: str) -> State:
        from lpft.models.saved import load_model_state

        return {k: v.to(self.device) for k, v in load_model_state(self._file(name)).items()}

    def serve(self, state: State, averaged: bool) -> None:
        """Puts `state` into the model as it is (its tensors, no copy); with `averaged`, its
        BatchNorm statistics are re-estimated on ID train (in `state`'s own tensors)."""
        from lpft.models.bn_adapt import reestimate_bn

        self.model.load_state_dict(state, assign=True)
        if averaged and self.rebatch:
            reestimate_bn(self.model, self.backbone, self.benchmark, self.benchmark.train, self.device, self.workers)

    def settle(self, state: State) -> None:
        """The model holds `state` (no copy): it lets go of whatever it held before."""
        self.model.load_state_dict(state, assign=True)

    def held_out(self, state: State, averaged: bool) -> float:
        """ID val accuracy of `state`, served as `serve` does."""
        from lpft.strategies.training import outputs

        assert self.val is not None  # checked when made
        self.serve(state, averaged)
        z, y = outputs(self.model, self.backbone, self.benchmark, self.val, self.device, workers=self.workers)
        return float((z.argmax(axis=1) == y).mean()) if len(y) else 0.0

    def ingredients(self) -> tuple[list[str], dict[str, float]]:
        """The fitting candidates ranked by ID val accuracy (best first), and those accuracies;
        one model in memory at a time."""
        scores: dict[str, float] = {}
        for name in self.hp.names():
            why = self._unreadable(name)
            if why is None:
                state = self.load(name)
                unfit = misfit(self.reference, state)
                if unfit is not None:
                    why = f"it does not fit backbone {self.backbone.name} on {self.benchmark.name}: {unfit[1]}"
            if why is not None:
                print(f"soup: left out {name}: {why}", file=sys.stderr)
                continue
            self._compare_stats(state)
            scores[name] = self.held_out(state, averaged=False)
            del state
        if not scores:
            raise InputError(f"soup: none of the {len(self.hp.names())} candidates is a saved {self.backbone.name} "
                             f"for {self.benchmark.name} (each is named above)")
        ranked = sorted(scores, key=lambda n: -scores[n])  # stable: ties keep the given order
        # Statistics the same in every ingredient are the soup's exactly, and the ones its weights
        # were trained with: re-estimating them (on ID train, with the eval transform) would not be.
        self.rebatch = self.rebatch and self.stats_differ
        return ranked, scores

    def _compare_stats(self, state: State) -> None:
        import torch

        if not self.first_stats:
            self.first_stats = {k: state[k].clone() for k in self.stats}
        elif not self.stats_differ:
            self.stats_differ = any(not torch.equal(state[k], self.first_stats[k]) for k in self.stats)


def _cook(benchmark: Benchmark, backbone: Backbone, hp: SoupParams, device: str, workers: int,
          greedy: bool) -> RunResult:
    """The ingredients ranked, averaged (uniformly, or by the greedy rule), evaluated."""
    import time

    from lpft.strategies.soups import greedy_soup, uniform_soup
    from lpft.strategies.training import evaluate

    started = time.perf_counter()
    kitchen = Kitchen(benchmark, backbone, hp, device, workers)
    ranked, scores = kitchen.ingredients()
    loaders = [functools.partial(kitchen.load, n) for n in ranked]
    if greedy:
        soup, positions = greedy_soup(loaders, lambda state: kitchen.held_out(state, averaged=True), ranked,
                                      first=scores[ranked[0]], settle=kitchen.settle)
        kept = [ranked[i] for i in positions]
        kitchen.settle(soup)  # its BN statistics were re-estimated when it was measured with its last ingredient
    else:
        soup, kept = uniform_soup(loaders, ranked), ranked
        kitchen.serve(soup, averaged=len(kept) > 1)
    evaluations = evaluate(kitchen.model, backbone, benchmark, 0, device, workers)
    diagnostics = {"ingredients": len(kept), "candidates_fitting": len(ranked),
                   "best_ingredient": ranked[0], "best_ingredient_id_val": scores[ranked[0]],
                   "soup_s": round(time.perf_counter() - started, 1), "bn": kitchen.bn_note(len(kept))}
    return RunResult(COMPLETED, evaluations, asdict(hp), model=kitchen.model,
                     step_hparams={0: {"ingredients": ",".join(kept)}}, diagnostics=diagnostics)


STEP_HPARAMS: dict[str, type] = {"ingredients": str}  # per step: the soup's ingredients


@strategy("soup-uniform", SoupParams, "the mean of a sweep's fine-tuned models (uniform model soup)",
          step_hparams=STEP_HPARAMS, pooled=True, seed_controls=soup_seed_controls, look=Look("uniform soup", order=10))
def soup_uniform(benchmark: Benchmark, backbone: Backbone, hp: SoupParams, device: str = "cpu",
                 on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    return _cook(benchmark, backbone, hp, device, workers, greedy=False)


@strategy("soup-greedy", SoupParams, "a sweep's fine-tuned models averaged while ID val rises (greedy model soup)",
          step_hparams=STEP_HPARAMS, pooled=True, seed_controls=soup_seed_controls, look=Look("greedy soup", order=11))
def soup_greedy(benchmark: Benchmark, backbone: Backbone, hp: SoupParams, device: str = "cpu",
                on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    return _cook(benchmark, backbone, hp, device, workers, greedy=True)
