"""`lpft wise RESULTS`: WiSE curves for a finished sweep's best fine-tuned models, without Ray.

Reads the sweep's `spec.yaml` (benchmark, backbone) and `trials.parquet`, takes each source
strategy's best search trial (`lpft.best`, on the sweep's ranking metric, as its searcher did),
interpolates its saved model (`models/<trial>.pt`, kept when the sweep ran with `save_models:
true` or a `wise` stage) with the LP model, and adds the evaluations to the sweep's results as
strategy `wise`, trial `<trial>-wise`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lpft.dataset import write_trial
from lpft.errors import InputError, clip, quote
from lpft.results import RunResult
from lpft.storage import locate, outside
from lpft.sweeps.outcome import best_runs
from lpft.sweeps.paths import import_plugins
from lpft.sweeps.preflight import check_links, read_stored_spec
from lpft.sweeps.spec import NAME, parse_spec
from lpft.sweeps.trial_row import TrialRow


@dataclass
class WiseCurve:
    source: str  # the fine-tuning strategy
    source_trial: str
    result: RunResult


def wise_on_sweep(results: str, sources: list[str] | None = None, num_alphas: int = 11) -> list[WiseCurve]:
    from lpft.strategies import STRATEGIES, hparam_columns
    from lpft.trial import run_trial

    root = locate(results)
    if root.name == "results":  # the results folder itself was given
        root = root.parent
    for needed in ("spec.yaml", "trials.parquet"):
        if not (root / needed).exists():
            raise InputError(f"{root}: no {needed} (give a sweep folder written by lpft sweep)")
    check_links(root)  # results/ is written below, models/ read
    raw = read_stored_spec(root)
    import_plugins(raw, Path.cwd())  # the sweep's own plugins (its paths are already absolute)
    spec = parse_spec(raw, str(root / "spec.yaml"))
    try:
        records = pq.read_table((root / "trials.parquet").path, filesystem=root.fs).to_pylist()
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{root / 'trials.parquet'}: not a trials table lpft wrote "
                         f"({clip(str(e).splitlines()[0] if str(e) else type(e).__name__)})") from None
    trials = [TrialRow.from_record(r) for r in records]
    sources = sources or [s for s in spec.strategies if STRATEGIES[s].fine_tunes]
    curves = []
    for source in sources:
        runs = best_runs(trials, source, spec.metric[0])
        if not runs:
            raise InputError(f"{root}: no completed {source} trial to interpolate")
        best = runs[0]
        # read back from a file: a path component only once it is one (no '..', no separators)
        if not re.fullmatch(NAME, str(best.trial_id)):
            raise InputError(f"{root / 'trials.parquet'}: trial id {best.trial_id!r} is not a plain name")
        model = root / "models" / f"{best.trial_id}.pt"
        target = outside(model, root)
        if target is not None:  # models/ or the file, a link: a model lpft did not save
            raise InputError(f"{model}: a symbolic link out of the sweep folder (to {quote(target)}); refused: "
                             "a sweep reads its own saved models only")
        if not model.exists():
            raise InputError(f"{root}: no saved model for {source}'s best trial {best.trial_id} "
                             f"(expected {model}); rerun the sweep with save_models: true")
        settings = {**spec.benchmark_params, "model": model.uri, "source_trial": best.trial_id,
                    "num_alphas": num_alphas, "seed": int(best.seed or 0)}
        settings.update({k: v for k, v in (("backbone", spec.backbone), ("weights", spec.weights)) if v})
        trial = run_trial(spec.benchmark, "wise", settings)
        trial_id = f"{best.trial_id}-wise"
        rows = trial.result.rows(sweep=spec.name, trial_id=trial_id, seed=settings["seed"],
                                 benchmark=spec.benchmark, node="local")
        write_trial(root / "results", "wise", trial_id, rows, hparam_columns())
        curves.append(WiseCurve(source, best.trial_id, trial.result))
    return curves
