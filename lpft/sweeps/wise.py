"""`lpft wise RESULTS`: WiSE curves for a finished sweep's best fine-tuned models, without Ray.

Reads the sweep's `spec.yaml` (benchmark, backbone) and `trials.parquet`, takes each source
strategy's best search trial (`lpft.best`, on the sweep's ranking metric, as its searcher did),
interpolates its saved model (`models/<trial>.pt`, kept when the sweep ran with `save_models:
true` or a `wise` stage) with the LP model, and adds the evaluations to the sweep's results as
strategy `wise`, trial `<trial>-wise`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lpft.dataset import write_trial
from lpft.errors import InputError
from lpft.results import RunResult
from lpft.sweeps.finished import open_sweep
from lpft.sweeps.outcome import best_runs


@dataclass
class WiseCurve:
    source: str  # the fine-tuning strategy
    source_trial: str
    result: RunResult


def wise_on_sweep(results: str, sources: list[str] | None = None, num_alphas: int = 11) -> list[WiseCurve]:
    from lpft.strategies import STRATEGIES, hparam_columns
    from lpft.trial import run_trial

    sweep = open_sweep(results)
    root, spec = sweep.root, sweep.spec
    sources = sources or [s for s in spec.strategies if STRATEGIES[s].fine_tunes]
    curves = []
    for source in sources:
        runs = best_runs(sweep.trials, source, spec.metric[0])
        if not runs:
            raise InputError(f"{root}: no completed {source} trial to interpolate")
        best = runs[0]
        model = sweep.model(best.trial_id)
        if not model.exists():
            raise InputError(f"{root}: no saved model for {source}'s best trial {best.trial_id} "
                             f"(expected {model}); rerun the sweep with save_models: true")
        settings = {**sweep.settings(int(best.seed or 0), "wise"), "model": model.uri, "source_trial": best.trial_id,
                    "num_alphas": num_alphas}
        trial = run_trial(spec.benchmark, "wise", settings)
        trial_id = f"{best.trial_id}-wise"
        rows = trial.result.rows(sweep=spec.name, trial_id=trial_id, seed=settings["seed"],
                                 benchmark=spec.benchmark, node="local", seed_controls=", ".join(trial.seed_controls))
        write_trial(root / "results", "wise", trial_id, rows, hparam_columns())
        curves.append(WiseCurve(source, best.trial_id, trial.result))
    return curves
