"""The Ray Tune function trainable: a thin wrapper around `lpft.trial.run_trial`.

It reports every evaluated step with `tune.report(metrics)`, writes the trial's evaluations
to the results dataset (`lpft.dataset`) at each checkpoint and when it ends, and never
raises for a diverged run (it reports `status: diverged`). Its name (`config["trial"]`,
given by the sweep's searcher and kept across `--resume`) names its results file and its
checkpoints, `<sweep>/checkpoints/<trial>/step-<k>.pt`, which lpft writes and reads itself
(not through Ray's checkpoints: a re-issued trial after a driver restart is a new Ray trial
with the same name). Only `ray.tune.*` is used here: `ray.train.report` fails inside Tune trainables.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpft.cachedir import MAX_SIZE_ENV, NODE_CACHE_ENV, PREPARED_ENV
from lpft.results import RUNNING, Evaluation, RunResult, step_metrics

# The trial's name in the sweep (see lpft.sweeps.searcher); config keys that are not hyperparameters.
TRIAL_KEY = "trial"
META_KEYS = ("strategy", "stage", TRIAL_KEY)
WORKER_FILE = "worker.json"  # in a trial's checkpoints folder: the process running it (lpft.processes)


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a sweep shares; in the closure of its trainable (`sweep_trainable`)."""

    sweep: str
    benchmark: str
    benchmark_params: dict[str, Any] = field(default_factory=dict)
    backbone: str | None = None
    weights: str | None = None
    results_dir: str = "results"  # a path or URI (lpft.storage.locate)
    threads: int = 1  # torch threads when Ray assigns no whole CPU
    feature_cache: str | None = None  # a shared path for the feature/head cache; None: each node's own
    cache_max_size: int | None = None  # bytes: the cache's least recently used entries evicted beyond it
    prepared_images: str = "auto"  # the node's prepared image copies: auto, off or a budget (lpft.data.prepared)
    save_models: tuple[str, ...] = ()  # strategies whose trained model is kept (for wise)
    models_dir: str = ""  # where: <models_dir>/<trial_id>.pt (a path or URI)
    checkpoints_dir: str = ""  # where: <checkpoints_dir>/<trial_id>/step-<k>.pt (a path or URI)
    keep_checkpoints: int = 2  # per trial, the latest ones
    resample_split: bool = False  # each seed also draws the benchmark's split (a spec's `resample_split`)


def step_report(step: int, evals: list[Evaluation], signals: dict[str, float] | None = None) -> dict[str, Any]:
    """One evaluated step's metrics for Tune, with training `signals` (train_loss, lr); its
    `timesteps_total` is the step trackers (TensorBoard, MLflow, W&B) plot against."""
    return {**step_metrics(evals), **(signals or {}), "step": step, "timesteps_total": step}


SELECTED_HP = "selected_hp."  # a final report's per-step hyperparameters at its selected step


def final_metrics(result: RunResult) -> dict[str, Any]:
    """The selected (best ID val) step's metrics; zeros when nothing was evaluated, so searchers rank it last."""
    step = result.selected_step
    metrics = {"id_val": 0.0, "id_test": 0.0, "ood_avg": 0.0}
    if step is not None:
        metrics.update(result.metrics(step))
    metrics = {k: (v if isinstance(v, float) and math.isfinite(v) else 0.0) for k, v in metrics.items()}
    # How many ID val examples selection ranked on (0: unknown): the summary warns below 200.
    n_val = max((e.n for e in result.evaluations if e.role == "id_val"), default=0)
    # The selected step's own hyperparameters (LP's C, WiSE's alpha): what a summary shows for it.
    at_step = {f"{SELECTED_HP}{k}": v for k, v in result.step_hparams.get(step, {}).items()} if step is not None else {}
    return {**metrics, "selected_step": -1 if step is None else step, "status": result.status, "final": True,
            "n_id_val": n_val, **at_step}


def load_state(source: Path | bytes, where: str = "") -> dict[str, Any]:
    """A trial's checkpoint: tensors, numbers, strings and containers only (torch's weights_only
    unpickler), so a tampered checkpoint cannot run code on --resume; a damaged one is one line."""
    from lpft.errors import InputError
    from lpft.models.saved import read_torch

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    state = read_torch(data, where or str(source), "a plain lpft checkpoint")
    if not (isinstance(state, dict) and isinstance(state.get("epoch"), int)):
        raise InputError(f"{where or str(source)}: refused: not a plain lpft checkpoint (no epoch); "
                         "delete it to run its trial from the checkpoint before it")
    return state


class Checkpoints:
    """One trial's checkpoints: `step-<k>.pt` files, each written whole, the latest `keep` kept."""

    def __init__(self, folder: Any, keep: int, within: Any = None) -> None:
        from lpft.errors import InputError, quote
        from lpft.storage import outside

        target = None if within is None else outside(folder, within)
        if target is not None:  # never write and prune through a link into another folder
            raise InputError(f"{folder}: a symbolic link out of the sweep's checkpoints (to {quote(target)}); "
                             "refused: remove the link and resume")
        self.folder = folder  # a lpft.storage.Location
        self.keep = max(1, keep)

    def _steps(self) -> list[int]:
        names = (Path(p).name for p in self.folder.files(".pt"))
        return sorted(int(n[5:-3]) for n in names if n.startswith("step-") and n[5:-3].isdigit())

    def _file(self, step: int) -> Any:
        return self.folder / f"step-{step:06d}.pt"

    def latest(self) -> dict[str, Any] | None:
        steps = self._steps()
        if not steps:
            return None
        where = self._file(steps[-1])
        return load_state(where.read_bytes(), str(where))

    def record_worker(self) -> None:
        """Which process runs the trial now: `worker.json` beside its checkpoints (gone with them
        when the trial ends), so the `--resume` after a killed driver can end this process, still
        running, before it runs the trial again (`lpft.sweeps.stragglers`)."""
        import json

        from lpft.processes import this_process

        with (self.folder / WORKER_FILE).open_write() as f:
            f.write(json.dumps(this_process()).encode())

    def save(self, step: int, state: dict[str, Any]) -> None:
        import io

        import torch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        with self._file(step).open_write() as f:
            f.write(buffer.getvalue())
        for old in self._steps()[:-self.keep]:
            self._file(old).discard()


def lpft_trainable(config: dict[str, Any], context: TrialContext) -> None:
    import ray
    import torch
    from ray import tune

    from lpft.dataset import write_trial
    from lpft.storage import join_uri, locate
    from lpft.strategies import hparam_columns
    from lpft.trial import run_trial

    # Torch threads = the CPUs Ray gave this trial, so concurrent trials don't oversubscribe.
    assigned = ray.get_runtime_context().get_assigned_resources()
    torch.set_num_threads(max(1, int(assigned.get("CPU", context.threads))))
    if context.feature_cache:
        from lpft.data.cache import cache_root

        os.environ.setdefault(NODE_CACHE_ENV, str(cache_root()))  # prepared images stay on the node
        os.environ["LPFT_CACHE"] = context.feature_cache
    if context.cache_max_size is not None:
        os.environ[MAX_SIZE_ENV] = str(context.cache_max_size)
    os.environ[PREPARED_ENV] = context.prepared_images
    start = time.perf_counter()
    strategy = config["strategy"]
    hparams = {k: v for k, v in config.items() if k not in META_KEYS}
    settings = {**context.benchmark_params, **hparams}
    if context.backbone:
        settings["backbone"] = context.backbone
    if context.weights:
        settings["weights"] = context.weights
    if context.resample_split:
        settings["resample_split"] = True
    trial_id = str(config.get(TRIAL_KEY) or tune.get_context().get_trial_id())
    node = ray.get_runtime_context().get_node_id()
    results = locate(context.results_dir)  # once: an object store's filesystem costs a lookup to build
    hp_columns = hparam_columns()

    where = locate(context.checkpoints_dir or "checkpoints")
    checkpoints = Checkpoints(where / trial_id, context.keep_checkpoints, within=where)
    checkpoints.record_worker()  # before any write: a --resume after a driver's kill ends this process first
    resume = checkpoints.latest()
    columns = {"sweep": context.sweep, "trial_id": trial_id, "seed": hparams.get("seed", 0),
               "benchmark": context.benchmark, "node": node}
    seen = [Evaluation(**e) for e in resume["evaluations"]] if resume else []
    full = dict(hparams)  # with the strategy's defaults once run_trial has them (a stopped trial keeps these)

    if resume:  # the checkpoint's step again: a kill may have come between its checkpoint and its report
        step = int(resume["epoch"])
        tune.report(step_report(step, [e for e in seen if e.step == step]))

    def on_epoch(step: int, evals: list[Evaluation], state: Any, signals: dict[str, float] | None = None) -> None:
        metrics = step_report(step, evals, signals)
        seen.extend(evals)
        if state is None:
            tune.report(metrics)
            return
        # The evaluations so far, rewritten in place each checkpoint, so a trial that ASHA
        # stops (or that is killed) still has them, with its full hyperparameters.
        # The checkpoint first: once these evaluations are visible, the trial can resume from them.
        checkpoints.save(step, state())
        partial = RunResult(RUNNING, list(seen), full, strategy=strategy).rows(**columns)
        write_trial(results, strategy, trial_id, partial, hp_columns)
        tune.report(metrics)

    trial = run_trial(context.benchmark, strategy, settings, on_epoch=on_epoch, resume=resume, on_hparams=full.update)
    controls = ", ".join(trial.seed_controls)  # "": the seed changed nothing (no replicate is run)
    write_trial(results, strategy, trial_id, trial.result.rows(**columns, seed_controls=controls), hp_columns)
    if strategy in context.save_models and isinstance(trial.result.model, torch.nn.Module):
        from lpft.models.saved import save_model

        save_model(trial.result.model, join_uri(context.models_dir, f"{trial_id}.pt"))
    # resumed_from_step: the checkpoint this run of the trial restarted from (-1: from scratch),
    # so a trial retried after a lost node shows whether it resumed.
    final = final_metrics(trial.result)
    # At the selected step: trackers plot these (that step's own accuracies) where they belong.
    tune.report({**final, "timesteps_total": max(final["selected_step"], 0), "node": node, "seed_controls": controls,
                 "wall_time_s": time.perf_counter() - start,
                 "resumed_from_step": int(resume["epoch"]) if resume else -1,
                 "cpus": float(assigned.get("CPU", 0.0)), "gpus": float(assigned.get("GPU", 0.0))})


def sweep_trainable(context: TrialContext) -> Callable[[dict[str, Any]], None]:
    """`lpft_trainable` with the sweep's `context` in its closure: pickled with the function (Ray
    keeps it in its function table), not put in the object store as `tune.with_parameters` does.
    A driver whose object is in a node's store is ended by Ray (exit 1, "the connection to the
    plasma store is failed") when a signal to the process group kills that node before the
    driver has written its interrupted summary: Ray tries to recover the object there."""

    def trial(config: dict[str, Any]) -> None:
        lpft_trainable(config, context)

    # Tune's name for it, as before; not its __qualname__ too: with that, the quick demo's two
    # sweeps took 46-47 s in three runs, 41-42 s with tune.with_parameters or without it
    trial.__name__ = "lpft_trainable"
    return trial
