"""`lpft soup SWEEP`: model soups of a finished sweep's saved fine-tuned models, without Ray.

The ingredients are what a sweep's own soup stage would take: every completed search and
replicate trial of the source strategies (default: every fine-tuning strategy of the sweep), in
the order the sweep asked for them (its ledger: ties in the greedy ranking keep that order, so
a soup made here and one made by the stage are the same). A candidate without a saved model is
left out with one line naming it. The soups' rows join the sweep's results as strategies
`soup-uniform` and `soup-greedy` (trial ids the same names), replacing an earlier soup's; a soup
the sweep ran as a stage is made again the same way (same sources and BN setting).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from lpft.dataset import write_trial
from lpft.errors import InputError
from lpft.results import COMPLETED, RunResult
from lpft.sweeps.finished import open_sweep
from lpft.sweeps.ledger import Ledger
from lpft.sweeps.spec import SweepSpec
from lpft.sweeps.stages import REPLICATE, SEARCH

KINDS = ("uniform", "greedy")


@dataclass
class Soup:
    strategy: str  # soup-uniform or soup-greedy
    candidates: list[str]
    result: RunResult


def soup_on_sweep(results: str, kinds: tuple[str, ...] = KINDS, sources: list[str] | None = None,
                  bn_reestimate: bool | None = None) -> list[Soup]:
    """The soups of a finished sweep. A soup the sweep ran as a stage is made again as the stage
    made it (its `of` and `bn_reestimate`; other options are refused rather than replacing its
    rows with another soup's); otherwise `sources` (default: every fine-tuning strategy) and
    `bn_reestimate` (default: true)."""
    from lpft.strategies import hparam_columns
    from lpft.trial import run_trial

    sweep = open_sweep(results)
    root, spec = sweep.root, sweep.spec
    if spec.resample_split:
        raise InputError(f"{root}: ran with resample_split: each seed's models were trained on another split, so "
                         "no one ID val set can rank them for a soup")
    ledger = Ledger(root)
    entries = list(ledger.entries().values()) if ledger.exists() else []
    completed = {t.trial_id for t in sweep.trials if t.status == COMPLETED}
    soups = []
    for kind in kinds:
        strategy = f"soup-{kind}"
        of, bn = _options(spec, strategy, sources, bn_reestimate)
        candidates = [e.trial for e in entries if e.trial in completed and e.config.get("strategy") in of
                      and e.config.get("stage", SEARCH) in (SEARCH, REPLICATE)]
        present = []
        for name in candidates:
            if sweep.model(name).exists():
                present.append(name)
            else:
                print(f"soup: left out {name}: no saved model ({sweep.model(name)})", file=sys.stderr)
        if not present:
            raise InputError(f"{root}: no saved model of a completed {' or '.join(of)} trial to make a soup of; "
                             "rerun the sweep with save_models: true")
        first = next(t for t in sweep.trials if t.trial_id == present[0])
        settings = {**sweep.settings(int(first.seed or 0), strategy), "candidates": ",".join(present),
                    "models": (root / "models").uri, "bn_reestimate": bn}
        trial = run_trial(spec.benchmark, strategy, settings)
        rows = trial.result.rows(sweep=spec.name, trial_id=strategy, seed=settings["seed"],
                                 benchmark=spec.benchmark, node="local", seed_controls=", ".join(trial.seed_controls))
        write_trial(root / "results", strategy, strategy, rows, hparam_columns())
        soups.append(Soup(strategy, present, trial.result))
    return soups


def _options(spec: SweepSpec, strategy: str, sources: list[str] | None,
             bn_reestimate: bool | None) -> tuple[list[str], bool]:
    """The sources and BN setting of `strategy`'s soup: its stage's, if the sweep ran one."""
    from lpft.strategies import STRATEGIES

    stage = spec.strategies.get(strategy)
    if stage is not None:
        param = stage.space.get("bn_reestimate")
        bn = bool(param.value) if param is not None else True
        if (sources and sorted(sources) != sorted(stage.sources)) or (bn_reestimate is not None
                                                                       and bn_reestimate != bn):
            raise InputError(f"sweep {spec.name} made its {strategy} as a stage (of: {', '.join(stage.sources)}; "
                             f"bn_reestimate: {str(bn).lower()}): lpft soup makes it again the same way, "
                             "so leave out --of and --no-bn-reestimate (or copy the sweep folder for another soup)")
        return list(stage.sources), bn
    of = sources or [s for s in spec.strategies if STRATEGIES[s].fine_tunes]
    for s in of:
        if s not in spec.strategies or not STRATEGIES[s].fine_tunes:
            raise InputError(f"--of: {s!r} is not a fine-tuning strategy of sweep {spec.name} "
                             f"(it has {', '.join(spec.strategies)})")
    return of, True if bn_reestimate is None else bn_reestimate
