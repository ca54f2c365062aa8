"""SweepSpec -> one Ray Tune `Tuner` per strategy (OptunaSearch + scheduler) -> Arrow results.

One Tuner per strategy rather than one with a conditional space: each strategy gets
its own Optuna study (they share no hyperparameter semantics: LP-FT's best lr is
orders of magnitude below FT's), its own trial budget, and its own experiment folder
to restore, so a resumed sweep restarts exactly the strategies that had not finished.
After the search, each strategy's best config (by ID val) is re-run on `replicate`
more seeds, as the paper reports means over seeds.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpft.errors import InputError
from lpft.search_spaces import define_by_run, grid_size
from lpft.sweeps.spec import StrategySpec, SweepSpec
from lpft.trainables import TrialContext, lpft_trainable


@dataclass
class SweepOutcome:
    spec: SweepSpec
    root: Path
    trials: list[dict[str, Any]] = field(default_factory=list)  # the per-trial table's rows
    wall_time_s: float = 0.0

    @property
    def results_dir(self) -> Path:
        return self.root / "results"


def sweep_root(spec: SweepSpec) -> Path:
    return Path(spec.storage).expanduser().resolve() / spec.name


def _searcher(spec: SweepSpec, strat: StrategySpec, root: Path) -> Any:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    from lpft.search_spaces import Param

    constants = {"strategy": Param("constant", value=strat.name), "seed": Param("constant", value=spec.seeds[0])}
    if strat.grid:
        space = {**strat.space, **{k: Param("categorical", choices=tuple(v)) for k, v in strat.grid.items()}}
        sampler = optuna.samplers.GridSampler(strat.grid, seed=spec.seeds[0])
    else:
        space, sampler = strat.space, optuna.samplers.TPESampler(seed=spec.seeds[0])
    metric = list(spec.metric) if spec.multi_objective else spec.metric[0]
    mode = ["max"] * len(spec.metric) if spec.multi_objective else "max"
    # In memory: Ray pickles it into the experiment checkpoint for --resume (see sweeps.study).
    return OptunaSearch(space=define_by_run({**space, **constants}), metric=metric, mode=mode, sampler=sampler)


def _scheduler(spec: SweepSpec) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if spec.scheduler == "asha":
        return ASHAScheduler(metric=spec.metric[0], mode="max", grace_period=1, reduction_factor=2)
    return FIFOScheduler()


def _progress_callback(prefix: str) -> Any:
    from ray.tune import Callback

    class Progress(Callback):
        """One line per finished trial instead of Ray's tables."""

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            m = trial.last_result or {}
            hp = {k: v for k, v in trial.config.items() if k not in ("strategy",)}
            shown = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(hp.items()))
            print(f"  [{prefix}] {trial.trial_id} {m.get('status', '?')}: id_val {100 * m.get('id_val', 0):.1f} "
                  f"ood_avg {100 * m.get('ood_avg', 0):.1f}  ({shown})", flush=True)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            print(f"  [{prefix}] {trial.trial_id} error (retried up to max_failures)", flush=True)

    return Progress()


def _tuner(spec: SweepSpec, name: str, trainable: Any, root: Path, resume: bool, *, search: StrategySpec | None,
           param_space: dict[str, Any] | None = None) -> Any:
    from ray import tune

    path = root / "ray" / name
    if resume and tune.Tuner.can_restore(str(path)):
        return tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True, resume_errored=True)
    single = not spec.multi_objective
    if search is not None:
        num_samples = grid_size(search.grid) if search.grid else search.num_samples
        tune_config = tune.TuneConfig(
            search_alg=_searcher(spec, search, root), scheduler=_scheduler(spec), num_samples=num_samples,
            max_concurrent_trials=spec.max_concurrent, reuse_actors=True,
            metric=spec.metric[0] if single else None, mode="max" if single else None)
    else:
        tune_config = tune.TuneConfig(num_samples=1, max_concurrent_trials=spec.max_concurrent, reuse_actors=True)
    run_config = tune.RunConfig(name=name, storage_path=str(root / "ray"), verbose=0,
                                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                                callbacks=[_progress_callback(name)])
    return tune.Tuner(trainable, param_space=param_space or {}, tune_config=tune_config, run_config=run_config)


def _trial_rows(grid: Any, stage: str) -> list[dict[str, Any]]:
    rows = []
    for r in grid:
        m = r.metrics or {}
        status = m.get("status") if m.get("done") else ("error" if r.error else "stopped")
        rows.append({
            "trial_id": m.get("trial_id") or Path(r.path).name, "strategy": r.config.get("strategy"),
            "stage": stage, "seed": r.config.get("seed"), "status": status, "node": m.get("node"),
            "wall_time_s": m.get("time_total_s"), "id_val": m.get("id_val"), "id_test": m.get("id_test"),
            "ood_avg": m.get("ood_avg"),
            **{f"hp.{k}": v for k, v in r.config.items() if k not in ("strategy", "seed")},
        })
    return rows


def _best_config(grid: Any) -> dict[str, Any] | None:
    done = [r for r in grid if (r.metrics or {}).get("status") == "completed"]
    if not done:
        return None
    return dict(max(done, key=lambda r: r.metrics.get("id_val", 0.0)).config)


def init_ray(address: str | None) -> None:
    # Readable output: our one line per trial, not Ray's boxes and tables.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no TensorBoard/CSV/JSON per trial
    import ray

    if ray.is_initialized():
        return
    kwargs = dict(log_to_driver=False, logging_level=logging.ERROR, configure_logging=True,
                  runtime_env={"worker_process_setup_hook": "lpft.trainables.warm.import_heavy"})
    if address:
        ray.init(address=address, **kwargs)
    else:  # a local instance sized to this machine
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **kwargs)


def run_sweep(spec: SweepSpec, address: str | None = None, resume: bool = False) -> SweepOutcome:
    import optuna
    from ray import tune

    from lpft.search_spaces import Param
    from lpft.sweeps.study import export_study
    from lpft.sweeps.trials import write_trials_table

    start = time.perf_counter()
    root = sweep_root(spec)
    if not resume and (root / "results").exists() and any((root / "results").rglob("*.parquet")):
        raise InputError(f"{root} already holds results of sweep {spec.name!r}: pass --resume to continue it, "
                         "or choose another --storage")
    root.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    init_ray(address)
    context = TrialContext(spec.name, spec.benchmark, spec.benchmark_params, spec.backbone, spec.weights,
                           str(root / "results"), threads=max(1, int(spec.cpu)))
    trainable = tune.with_resources(tune.with_parameters(lpft_trainable, context=context),
                                    {"cpu": spec.cpu, "gpu": spec.gpu})
    outcome = SweepOutcome(spec, root)
    replicate_seeds = spec.replicate_seeds()
    for name, strat in spec.strategies.items():
        t = time.perf_counter()
        grid = _tuner(spec, name, trainable, root, resume, search=strat).fit()
        print(f"  [{name}] {len(grid)} trials in {time.perf_counter() - t:.1f} s", flush=True)
        searched = _trial_rows(grid, "search")
        outcome.trials += searched
        space = {**strat.space, **{k: Param("categorical", choices=tuple(v)) for k, v in strat.grid.items()}}
        export_study(root / "optuna.journal", f"{spec.name}.{name}", space, searched, spec.metric)
        best = _best_config(grid)
        if replicate_seeds and best is not None:
            seeds = {**best, "seed": tune.grid_search(replicate_seeds)}
            t = time.perf_counter()
            rep = _tuner(spec, f"{name}-replicate", trainable, root, resume, search=None, param_space=seeds).fit()
            print(f"  [{name}-replicate] {len(rep)} trials in {time.perf_counter() - t:.1f} s", flush=True)
            outcome.trials += _trial_rows(rep, "replicate")
    write_trials_table(root / "trials.parquet", outcome.trials)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome
