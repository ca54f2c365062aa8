"""Ray's overhead per trial, and each experiment tracker's: the same trials through `lpft sweep`
(without and with each tracker) and through a plain loop, in one run.

Runs the built-in `synthetic` sweep (replicate stage included) on a local Ray instance, one
trial at a time (max_concurrent 1, so every arm does the same sequential work), then re-runs
every trial it ran, with the same hyperparameters, through `lpft.trial.run_trial` in a plain
loop under the thread limits a trial gets (torch and BLAS threads = the trial's CPUs). Each
arm runs --repeat times, interleaved, so load on the machine hits every arm alike; prints
each arm's median and spread, and per trial: (sweep - loop) / trials (target under 0.5 s)
and (sweep with tracker - sweep) / trials for each tracker installed.

    python bench/ray_overhead.py [--spec synthetic] [--repeat 3] [--trackers tensorboard,mlflow,wandb]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import os
import statistics
import tempfile
import time
from typing import Any

from lpft.sweeps import load_spec
from lpft.sweeps.launch import run_sweep
from lpft.sweeps.ray_start import init_ray
from lpft.sweeps.trackers import TRACKERS
from lpft.trial import run_trial


def sweep_arm(spec: Any, loggers: list[str]) -> tuple[float, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory() as storage:
        s = spec.with_storage(storage).with_loggers(loggers)
        t = time.perf_counter()
        outcome = run_sweep(s, progress_every=3600)
        return time.perf_counter() - t, outcome.trials


def loop_arm(spec: Any, trials: list[dict[str, Any]]) -> float:
    import torch
    from threadpoolctl import threadpool_limits

    threads = max(1, int(spec.cpu))  # what the trainable gives each trial
    torch.set_num_threads(threads)
    t = time.perf_counter()
    with threadpool_limits(threads):
        for trial in trials:
            hp = {k[3:]: v for k, v in trial.items()
                  if k.startswith("hp.") and v is not None and not (isinstance(v, float) and math.isnan(v))}
            run_trial(spec.benchmark, trial["strategy"], {**spec.benchmark_params, **hp, "seed": trial["seed"]})
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="synthetic")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trackers", default="tensorboard,mlflow,wandb",
                    help="comma-separated; those not installed are skipped ('' for none)")
    args = ap.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")  # no network: W&B writes its run files only
    spec = dataclasses.replace(load_spec(args.spec), max_concurrent=1)
    trackers = [t for t in args.trackers.split(",") if t and importlib.util.find_spec(TRACKERS[t].module)]
    t = time.perf_counter()
    init_ray(None)
    ray_init = time.perf_counter() - t
    run_trial(spec.benchmark, "lp", dict(spec.benchmark_params))  # warm this process's imports too
    times: dict[str, list[float]] = {}
    trials: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        seconds, trials = sweep_arm(spec, [])
        times.setdefault("sweep", []).append(seconds)
        times.setdefault("loop", []).append(loop_arm(spec, trials))
        for tracker in trackers:
            times.setdefault(f"sweep + {tracker}", []).append(sweep_arm(spec, [tracker])[0])
    n = len(trials)
    mid = {arm: statistics.median(xs) for arm, xs in times.items()}
    print(f"{args.spec}: {n} trials, max_concurrent 1, median of {args.repeat} (min-max)")
    print(f"ray.init (once per sweep): {ray_init:.2f} s")
    for arm, xs in times.items():
        print(f"  {arm:<22} {mid[arm]:7.2f} s  ({min(xs):.2f}-{max(xs):.2f})")
    print(f"Ray's overhead per trial: {(mid['sweep'] - mid['loop']) / n:.3f} s  (target < 0.5 s)")
    for tracker in trackers:
        print(f"{tracker} per trial: {(mid[f'sweep + {tracker}'] - mid['sweep']) / n:+.3f} s")


if __name__ == "__main__":
    main()
