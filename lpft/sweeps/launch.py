"""SweepSpec -> one Ray Tune `Tuner` for the whole sweep -> Arrow results.

One Tuner with a conditional space (`lpft.sweeps.searcher.SweepSearcher`): the strategy
is the top-level branch, each branch has its own Optuna study and trial budget, and the
searcher itself queues each strategy's best config (by ID val) on the `replicate` seeds
once that strategy's search is done, as the paper reports means over seeds. One Tuner,
not one per strategy, because a Tuner costs a fresh trial actor (~2 s here) and actors
are reused only within one.

A sweep holds its storage's lock while it runs (`lpft.sweeps.lock`) and records every trial
in its own ledger (`lpft.sweeps.ledger`); `--resume` starts a new Tuner whose searcher
continues from that ledger, so a kill at any instant loses and duplicates nothing. SIGINT and
SIGTERM stop it gracefully (`lpft.sweeps.interrupt`): the trials table is written with the
cut-off trials as `interrupted`, and the outcome says which signal came. Ray's experiment
folders (`ray/<name>-<k>`, one per run of the sweep) keep trial logs and tracebacks.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lpft.results import ENDED, INTERRUPTED, RUNNING
from lpft.search_spaces import Kind
from lpft.storage import Location, locate, outside
from lpft.strategies import STRATEGIES
from lpft.sweeps.ledger import Ledger
from lpft.sweeps.lock import SweepLock
from lpft.sweeps.outcome import SweepOutcome, selection
from lpft.sweeps.preflight import check_resources, check_state, preflight, ray_nodes, stored_spec
from lpft.sweeps.progress import Progress
from lpft.sweeps.ray_start import init_ray
from lpft.sweeps.rows import trial_row, unfinished_row
from lpft.sweeps.spec import StrategySpec, SweepSpec
from lpft.sweeps.stages import SEARCH
from lpft.sweeps.stragglers import end_stragglers
from lpft.sweeps.study import journal, release_dead_journal_lock
from lpft.sweeps.trackers import tracker_callbacks, tracker_env, trial_name
from lpft.text import pct
from lpft.trainables import TrialContext, sweep_trainable

if TYPE_CHECKING:
    from lpft.sweeps.interrupt import Interrupt


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


def _branch(spec: SweepSpec, strat: StrategySpec, storage: Any) -> Any:
    """A strategy's search: its paper grid in order, or an Optuna study over its space."""
    from lpft.sweeps.searcher import OptunaBranch, grid_configs

    constants = {"strategy": strat.name, "seed": spec.seeds[0],
                 **{k: p.value for k, p in strat.space.items() if p.kind == Kind.CONSTANT}}
    if strat.grid:
        return grid_configs(strat.grid, constants)
    searched = {k: p for k, p in strat.space.items() if p.kind != Kind.CONSTANT}
    return OptunaBranch(f"{spec.name}.{strat.name}", searched, constants, list(spec.metric), spec.seeds[0],
                        storage, budget=strat.search_trials)


def _searched_by_optuna(strat: StrategySpec) -> bool:
    return not strat.sources and not strat.grid


def _scheduler(spec: SweepSpec) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    from lpft.sweeps.scheduler import PerStrategyASHA

    return PerStrategyASHA(spec.metric[0]) if spec.scheduler == "asha" else FIFOScheduler()


def _callbacks(root: Location, ledger: Ledger, searcher: Any, progress: Progress, interrupt: Interrupt) -> list[Any]:
    from ray.tune import Callback

    class Record(Callback):
        """Each trial's end into the ledger (the trials table's row), and one line for it (above
        the progress view) instead of Ray's tables."""

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            progress.started(trial.trial_id, trial.config.get("strategy", "?"))

        def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            progress.paused(trial.trial_id)  # retried after a failure: it starts again

        def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
            progress.tick()

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._ended(trial, error=False)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._ended(trial, error=True)

        def _ended(self, trial: Any, error: bool) -> None:
            if error and interrupt.signum is not None:
                # Failing as the sweep stops (a SIGTERM to the whole process group reaches Ray's
                # own processes too): cut off, not ended, so --resume runs it again.
                progress.paused(trial.trial_id)
                return
            row = trial_row(trial, root, error)
            entry = searcher.entries.get(row.trial_id)
            if entry is not None:
                ledger.ended(entry, row)
                discard_checkpoints(root, entry.trial)  # an ended trial is never resumed
            shown = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in sorted(row.hparams.items()))
            if error:
                line = f"  [{_label(trial.config)}] {row.trial_id} error: {row.error}"
            else:
                scores = f"id_val {pct(row.id_val or 0)} ood_avg {pct(row.ood_avg or 0)}"
                line = f"  [{_label(trial.config)}] {row.trial_id} {row.status}: {scores}" + \
                    (f"  ({shown})" if shown else "")
            progress.ended(trial.trial_id, str(row.strategy), row, line)

    return [Record()]


def _label(config: dict[str, Any]) -> str:
    stage = config.get("stage", SEARCH)
    return config.get("strategy", "?") + ("" if stage == SEARCH else f" {stage}")


def trial_budgets(spec: SweepSpec) -> dict[str, int]:
    """How many trials each strategy will run: its search (grid points or samples) and its best
    config's replicate seeds; a derived strategy one per source strategy (wise), or one over
    all of them (a soup)."""
    seeds = len(spec.replicate_seeds())
    return {name: (1 if STRATEGIES[name].pooled else len(s.sources)) if s.sources else s.search_trials + seeds
            for name, s in spec.strategies.items()}


def _tuner(spec: SweepSpec, trainable: Any, root: Location, ledger: Ledger, progress: Progress,
           interrupt: Interrupt) -> Any:
    from ray import tune

    from lpft.sweeps.interrupt import StopOnSignal
    from lpft.sweeps.searcher import SweepSearcher

    searched = {name: s for name, s in spec.strategies.items() if not s.sources}
    storage = journal(root / "optuna.journal")  # live, for optuna-dashboard (None: in memory)
    branches = {name: _branch(spec, strat, storage) for name, strat in searched.items()}
    budgets = {name: s.search_trials for name, s in searched.items()}
    derived: dict[str, list[dict[str, Any]]] = {}
    pooled: list[tuple[dict[str, Any], tuple[str, ...]]] = []
    for name, s in spec.strategies.items():
        template = {"strategy": name, **{k: p.value for k, p in s.space.items() if p.kind == Kind.CONSTANT}}
        if STRATEGIES[name].pooled:
            pooled.append((template, s.sources))
            continue
        for source in s.sources:
            derived.setdefault(source, []).append(template)
    searcher = SweepSearcher(branches, budgets, spec.replicate_seeds(), spec.metric[0], ledger, derived,
                             (root / "models").uri, on_deterministic=progress.deterministic,
                             window=spec.max_concurrent if spec.deterministic_search else 0, pooled=pooled,
                             on_skipped=progress.skipped)
    searcher.restore_from(ledger.entries())
    ray_dir = root / "ray"
    fs = None if root.is_local else root.fs  # Ray takes an explicit pyarrow filesystem for URIs
    # Each run of the sweep (the first, each --resume) is its own Ray experiment.
    runs = {Path(p).parent.name for p in (ray_dir).files("tuner.pkl")}
    name = next(f"{spec.name}-{k}" for k in itertools.count(1) if f"{spec.name}-{k}" not in runs)
    tune_config = tune.TuneConfig(search_alg=searcher, scheduler=_scheduler(spec), num_samples=-1,
                                  max_concurrent_trials=spec.max_concurrent, reuse_actors=True,
                                  trial_name_creator=trial_name, trial_dirname_creator=trial_name)
    run_config = tune.RunConfig(name=name, storage_path=ray_dir.path, storage_filesystem=fs, verbose=0,
                                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                                stop=StopOnSignal(interrupt),
                                callbacks=[*_callbacks(root, ledger, searcher, progress, interrupt),
                                           *tracker_callbacks(spec.name, root, spec.loggers)])
    return tune.Tuner(trainable, tune_config=tune_config, run_config=run_config)


def run_sweep(spec: SweepSpec, address: str | None = None, resume: bool = False,
              progress_every: float = 30.0, dashboard: bool = False, announce: tuple[str, ...] = ()) -> SweepOutcome:
    """Runs (or with `resume` continues) the sweep; a progress view while it runs
    (`lpft.sweeps.progress`: redrawn on a terminal, else a line every `progress_every` s);
    with `dashboard`, a local sweep serves Ray's dashboard while it runs. SIGINT or SIGTERM while
    it runs (in the main thread) stops it gracefully: the outcome's `interrupted` names the signal.
    The `announce` lines are printed once the spec passed its checks: bad input is one line alone."""
    from lpft.sweeps.interrupt import Interrupt

    with Interrupt() as interrupt:
        return _run_sweep(spec, address, resume, progress_every, dashboard, interrupt, announce)


def _run_sweep(spec: SweepSpec, address: str | None, resume: bool, progress_every: float, dashboard: bool,
               interrupt: Interrupt, announce: tuple[str, ...]) -> SweepOutcome:
    import optuna

    start = time.perf_counter()
    notes = spec.check_files()
    root = sweep_root(spec)
    local = address is None
    preflight(spec, root, resume, local)  # bad input: one line before Ray starts, nothing written
    for line in [*announce, *(f"  note: {note}" for note in notes)]:
        print(line, flush=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    init_ray(address, dashboard)
    interrupt.install()  # after ray.init: it installs SIGTERM handlers of its own
    for note in check_resources(spec, ray_nodes(), local):  # a cluster's nodes, known only now
        print(f"  note: {note}", flush=True)
    with SweepLock(root, spec.name):  # a second sweep of this name and storage is refused here
        check_state(root, spec, resume)  # again: another run may have written meanwhile
        release_dead_journal_lock(root / "optuna.journal")  # a killed run's, else the journal waits 30 s
        if resume:  # the driver that ran them is gone (its lock was free): no trial runs twice at once
            for note in end_stragglers(root):
                print(f"  note: {note}", flush=True)
        else:  # a journal left without results: not this sweep's trials to learn from
            (root / "optuna.journal").discard()
        return _run(spec, root, Ledger(root), start, progress_every, interrupt)


def discard_checkpoints(root: Location, trial: str) -> None:
    """An ended trial's checkpoints, removed: it is never resumed."""
    done = root / "checkpoints" / trial
    if outside(done, root) is None:  # a link made meanwhile: its target is not ours to delete
        done.discard()


def _run(spec: SweepSpec, root: Location, ledger: Ledger, start: float, progress_every: float,
         interrupt: Interrupt) -> SweepOutcome:
    from ray import tune

    from lpft.sweeps.interrupt import RayGone, supervise
    from lpft.sweeps.outcome import write_trials_table
    from lpft.sweeps.study import export_studies

    context = TrialContext(spec.name, spec.benchmark, spec.benchmark_params, spec.backbone, spec.weights,
                           (root / "results").uri, threads=max(1, int(spec.cpu)),
                           feature_cache=None if spec.feature_cache == "node" else spec.feature_cache,
                           cache_max_size=spec.cache_max_size, prepared_images=spec.prepared_images,
                           save_models=spec.saved_strategies(), models_dir=(root / "models").uri,
                           checkpoints_dir=(root / "checkpoints").uri, keep_checkpoints=spec.keep_checkpoints,
                           resample_split=spec.resample_split)
    if spec.file is not None:  # the spec beside its results: `lpft wise RESULTS` rebuilds the benchmark from it
        with (root / "spec.yaml").open_write() as f:  # never a credential at rest
            f.write(yaml.safe_dump(stored_spec(spec), sort_keys=False).encode())
    by_strategy = {s: spec.resources_of(s) for s in spec.strategies}
    # Ray types a resources callable as returning a PlacementGroupFactory, yet converts a dict it returns (Trial)
    trainable = tune.with_resources(sweep_trainable(context),
                                    StrategyResources(by_strategy))  # type: ignore[arg-type]  # Ray stub: see above
    outcome = SweepOutcome(spec, root, budgets=trial_budgets(spec))
    progress = Progress(outcome.budgets, every=progress_every, metric=spec.metric[0])
    # A kill between the ledger's record of a trial's end and the removal of its checkpoints left
    # them: one listing finds those, not a lookup per ended trial (each a request on an object store).
    left = {Path(p).parent.name for p in (root / "checkpoints").files()}
    for entry in ledger.entries().values():
        if entry.row is not None:  # entry.ended
            progress.restored(entry.row)
            if entry.trial in left:
                discard_checkpoints(root, entry.trial)
    interrupt.say = progress.say
    try:
        if interrupt.signum is None:  # else signalled while starting: no trial is begun
            with tracker_env():
                supervise(_tuner(spec, trainable, root, ledger, progress, interrupt).fit, interrupt)
    except RayGone:
        progress.say("  the signal ended this sweep's local Ray too (it went to the whole process group): "
                     "its trials are cut off where they were")
    finally:
        if interrupt.signum is not None:
            progress.cut_off()
        progress.close()
    # Read once: a signal during the (quick) writes below changes nothing.
    outcome.interrupted = interrupt.signum
    # The budgets as they now stand: a deterministic strategy runs no replicates (the searcher
    # told the progress view, which counts down to them).
    outcome.budgets = {name: progress.tallies[name].budget for name in outcome.budgets}
    cut_off = INTERRUPTED if outcome.interrupted is not None else RUNNING
    rows = [e.row if e.row is not None else unfinished_row(e, cut_off) for e in ledger.entries().values()]
    outcome.trials = sorted(rows, key=lambda t: (list(spec.strategies).index(str(t.strategy)), t.stage != SEARCH))
    live = root.is_local  # the Optuna searches' studies are in the journal already (lpft.sweeps.study)
    chosen = {f"{spec.name}.{name}": selection(outcome.trials, name, spec.metric[0]) for name in spec.strategies}
    export_studies(root / "optuna.journal", [
        (f"{spec.name}.{name}", strat.full_space(),
         [t for t in outcome.trials if t.strategy == name and t.stage == SEARCH and t.status in ENDED])
        for name, strat in spec.strategies.items() if not (live and _searched_by_optuna(strat))], spec.metric,
        {k: v for k, v in chosen.items() if v is not None})
    write_trials_table(root / "trials.parquet", outcome.trials, outcome.budgets, outcome.signal_name)
    outcome.wall_time_s = time.perf_counter() - start
    return outcome
