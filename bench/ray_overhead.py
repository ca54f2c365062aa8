"""Ray's overhead per trial: the same trials through `lpft sweep` and through a plain loop, in one run.

Runs the built-in `synthetic` sweep (replicate stage included) on a local Ray instance,
one trial at a time (max_concurrent 1, so both sides do the same sequential work), then
re-runs every trial it ran, with the same hyperparameters, through `lpft.trial.run_trial`
in a plain loop. Prints (sweep - loop) / trials: target under 0.5 s per trial.

    python bench/ray_overhead.py [--spec synthetic] [--concurrent 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time

from lpft.sweeps import load_spec
from lpft.sweeps.launch import init_ray, run_sweep
from lpft.trial import run_trial


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="synthetic")
    ap.add_argument("--concurrent", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as storage:
        spec = dataclasses.replace(load_spec(args.spec).with_storage(storage), max_concurrent=args.concurrent)
        t = time.perf_counter()
        init_ray(None)
        ray_init = time.perf_counter() - t
        run_trial(spec.benchmark, "lp", dict(spec.benchmark_params))  # warm this process's imports too
        t = time.perf_counter()
        outcome = run_sweep(spec)
        sweep_s = time.perf_counter() - t
    t = time.perf_counter()
    for trial in outcome.trials:
        hp = {k[3:]: v for k, v in trial.items()
              if k.startswith("hp.") and v is not None and not (isinstance(v, float) and math.isnan(v))}
        run_trial(spec.benchmark, trial["strategy"], {**spec.benchmark_params, **hp, "seed": trial["seed"]})
    loop_s = time.perf_counter() - t
    n = len(outcome.trials)
    print(f"{args.spec}: {n} trials, max_concurrent {args.concurrent}")
    print(f"ray.init (once per sweep): {ray_init:.2f} s")
    print(f"lpft sweep: {sweep_s:.2f} s   plain loop: {loop_s:.2f} s")
    print(f"overhead per trial: {(sweep_s - loop_s) / n:.3f} s  (target < 0.5 s)")


if __name__ == "__main__":
    main()
