"""SweepSpec -> one Ray Tune `Tuner` for the whole sweep -> Arrow results.

One Tuner with a conditional space (`lpft.sweeps.searcher.SweepSearcher`): the strategy
is the top-level branch, each branch has its own Optuna study and trial budget, and the
searcher itself queues each strategy's best config (by ID val) on the `replicate` seeds
once that strategy's search is done, as the paper reports means over seeds. One Tuner,
not one per strategy, because a Tuner costs a fresh trial actor (~2 s here) and actors
are reused only within one; it also gives `--resume` a single experiment to restore.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lpft.errors import InputError
from lpft.results import ERROR, STOPPED
from lpft.search_spaces import Param, define_by_run, grid_size
from lpft.storage import Location, locate
from lpft.sweeps.outcome import SweepOutcome
from lpft.sweeps.preflight import check_resources, check_same_spec, check_storage, stored_spec
from lpft.sweeps.spec import StrategySpec, SweepSpec
from lpft.sweeps.stages import SEARCH
from lpft.trainables import TrialContext, lpft_trainable
from lpft.trainables.trainable import META_KEYS


def sweep_root(spec: SweepSpec) -> Location:
    """<storage>/<name>: a local or shared path, or an object-store URI (lpft.storage)."""
    return locate(spec.storage) / spec.name


@dataclass(frozen=True)
class StrategyResources:
    """Per-trial resources by the trial's strategy (LP can take a fraction of a GPU, FT a whole one).

    A class, not a closure: Ray pickles it into the experiment for --resume.
    """

    by_strategy: dict[str, dict[str, float]]

    def __call__(self, config: dict[str, Any]) -> dict[str, float]:
        return self.by_strategy[config["strategy"]]


def _searcher(spec: SweepSpec, strat: StrategySpec) -> Any:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    constants = {"strategy": Param("constant", value=strat.name), "seed": Param("constant", value=spec.seeds[0])}
    if strat.grid:
        sampler = optuna.samplers.GridSampler(strat.grid, seed=spec.seeds[0])
    else:
        sampler = optuna.samplers.TPESampler(seed=spec.seeds[0])
    metric = list(spec.metric) if spec.multi_objective else spec.metric[0]
    mode = ["max"] * len(spec.metric) if spec.multi_objective else "max"
    # In memory: Ray pickles it into the experiment checkpoint for --resume (see sweeps.study).
    return OptunaSearch(space=define_by_run({**strat.full_space(), **constants}), metric=metric, mode=mode,
                        sampler=sampler)


def _scheduler(spec: SweepSpec) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    from lpft.sweeps.scheduler import PerStrategyASHA

    return PerStrategyASHA(spec.metric[0]) if spec.scheduler == "asha" else FIFOScheduler()


def _progress_callback() -> Any:
    from ray.tune import Callback

    class Progress(Callback):
        """One line per finished trial instead of Ray's tables."""

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            m = trial.last_result or {}
            hp = {k: v for k, v in trial.config.items() if k not in META_KEYS}
            shown = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(hp.items()))
            status = m.get("status", "?") if m.get("final") else STOPPED
            print(f"  [{_label(trial.config)}] {trial.trial_id} {status}: id_val {100 * m.get('id_val', 0):.1f} "
                  f"ood_avg {100 * m.get('ood_avg', 0):.1f}  ({shown})", flush=True)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            print(f"  [{_label(trial.config)}] {trial.trial_id} error (retried up to max_failures)", flush=True)

    return Progress()


def _label(config: dict[str, Any]) -> str:
    stage = config.get("stage", SEARCH)
    return config.get("strategy", "?") + ("" if stage == SEARCH else f" {stage}")


def _tuner(spec: SweepSpec, trainable: Any, root: Location, resume: bool) -> Any:
    from ray import tune

    from lpft.sweeps.searcher import SweepSearcher

    ray_dir = root / "ray"
    fs = None if root.is_local else root.fs  # Ray takes an explicit pyarrow filesystem for URIs
    path = (ray_dir / spec.name).path
    if resume and tune.Tuner.can_restore(path, storage_filesystem=fs):
        return tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True, resume_errored=True,
                                  storage_filesystem=fs)
    searched = {name: s for name, s in spec.strategies.items() if not s.sources}
    searchers = {name: _searcher(spec, strat) for name, strat in searched.items()}
    budgets = {name: grid_size(s.grid) if s.grid else s.num_samples for name, s in searched.items()}
    derived: dict[str, list[dict[str, Any]]] = {}
    for name, s in spec.strategies.items():
        template = {"strategy": name, **{k: p.value for k, p in s.space.items() if p.kind == "constant"}}
        for source in s.sources:
            derived.setdefault(source, []).append(template)
    searcher = SweepSearcher(searchers, budgets, spec.replicate_seeds(), spec.metric[0], derived,
                             (root / "models").uri)
    tune_config = tune.TuneConfig(search_alg=searcher, scheduler=_scheduler(spec), num_samples=-1,
                                  max_concurrent_trials=spec.max_concurrent, reuse_actors=True)
    run_config = tune.RunConfig(name=spec.name, storage_path=ray_dir.path, storage_filesystem=fs, verbose=0,
                                checkpoint_config=tune.CheckpointConfig(num_to_keep=spec.keep_checkpoints),
                                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                                callbacks=[_progress_callback()])
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def _trial_rows(grid: Any, root: Location) -> list[dict[str, Any]]:
    rows = []
    for r in grid:
        m = r.metrics or {}
        status = m.get("status") if m.get("final") else (ERROR if r.error else STOPPED)
        rows.append({
            "trial_id": m.get("trial_id") or Path(r.path).name, "strategy": r.config.get("strategy"),
            "stage": r.config.get("stage"), "seed": r.config.get("seed"), "status": status, "node": m.get("node"),
            "wall_time_s": m.get("time_total_s"), "resumed_from_step": m.get("resumed_from_step"),
            "cpus": m.get("cpus"), "gpus": m.get("gpus"),
            "id_val": m.get("id_val"), "id_test": m.get("id_test"),
            "ood_avg": m.get("ood_avg"),
            # an errored trial's first line, and where Ray kept its whole traceback
            "error": error_line(r.error) if status == ERROR else None,
            "traceback": _uri(root, f"{r.path}/error.txt") if status == ERROR else None,
            **{f"hp.{k}": v for k, v in r.config.items() if k not in (*META_KEYS, "seed")},
        })
    return rows


def _uri(root: Location, path: str) -> str:
    """A path on the sweep's file system as the user names it (s3://bucket/... on an object store)."""
    return path if root.is_local else f"{root.scheme}://{path}"


def error_line(error: BaseException | None) -> str:
    """`Type: first line` of the trial's own exception (Ray wraps it in a RayTaskError)."""
    cause = getattr(error, "cause", None) or error
    lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__


def init_ray(address: str | None) -> None:
    # Readable output: our one line per trial, not Ray's boxes and tables.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no TensorBoard/CSV/JSON per trial
    import ray

    # A failed trial's traceback goes to its error.txt; the summary names each failed trial once
    # with its first line and that file, instead of Tune logging every traceback here (only
    # these two loggers: Tune's other messages stay as they were).
    for name in ("ray.tune.execution.tune_controller", "ray.tune.tune"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if ray.is_initialized():
        return
    from lpft import plugins

    kwargs: dict[str, Any] = dict(log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
    # Every worker loads the plugins this driver loaded; inside `lpft submit`'s job the job's
    # runtime_env already does (a second one for the same fields is a conflict for Ray).
    if plugins.worker_env() and "RAY_JOB_CONFIG_JSON_ENV_VAR" not in os.environ:
        kwargs["runtime_env"] = plugins.worker_env()
    if address:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ray.exceptions.AuthenticationError) as e:  # a wrong address or token
            raise InputError(f"--address {address}: {str(e).strip().splitlines()[0]}") from None
    else:  # a new local instance sized to this machine, even if a `ray start` cluster runs here
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **kwargs)


def run_sweep(spec: SweepSpec, address: str | None = None, resume: bool = False) -> SweepOutcome:
    import optuna
    from ray import tune

    from lpft.sweeps.outcome import write_trials_table
    from lpft.sweeps.study import export_studies

    start = time.perf_counter()
    for note in spec.check_files():
        print(f"  note: {note}", flush=True)
    root = sweep_root(spec)
    if not resume and (root / "results").files(".parquet"):
        raise InputError(f"{root} already holds results of sweep {spec.name!r}: pass --resume to continue it, "
                         "or choose another --storage")
    if resume and spec.raw:
        check_same_spec(root, spec)  # before Ray starts, and before spec.yaml is rewritten
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    init_ray(address)
    for note in check_resources(spec, local=address is None):  # before any folder is made
        print(f"  note: {note}", flush=True)
    check_storage(root)
    context = TrialContext(spec.name, spec.benchmark, spec.benchmark_params, spec.backbone, spec.weights,
                           (root / "results").uri, threads=max(1, int(spec.cpu)),
                           feature_cache=None if spec.feature_cache == "node" else spec.feature_cache,
                           save_models=spec.saved_strategies(), models_dir=(root / "models").uri)
    if spec.raw:  # the spec beside its results: `lpft wise RESULTS` rebuilds the benchmark from it
        with (root / "spec.yaml").open_write() as f:  # never a credential at rest
            f.write(yaml.safe_dump(stored_spec(spec), sort_keys=False).encode())
    trainable = tune.with_resources(tune.with_parameters(lpft_trainable, context=context),
                                    StrategyResources({s: spec.resources_of(s) for s in spec.strategies}))
    outcome = SweepOutcome(spec, root)
    grid = _tuner(spec, trainable, root, resume).fit()
    outcome.trials = sorted(_trial_rows(grid, root), key=lambda t: (list(spec.strategies).index(t["strategy"]),
                                                                t["stage"] != SEARCH))
    export_studies(root / "optuna.journal", [
        (f"{spec.name}.{name}", strat.full_space(),
         [t for t in outcome.trials if t["strategy"] == name and t["stage"] == SEARCH])
        for name, strat in spec.strategies.items()], spec.metric)
    write_trials_table(root / "trials.parquet", outcome.trials)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome
