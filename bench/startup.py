"""A trial's start-up against its training: where the time goes before the first training step.

Runs `digits-quick`'s FT trial (EfficientNet-Lite0, 1,000 training images, 2 epochs, one thread
as a sweep's trial gets) through `lpft.trial.run_trial`, timing each phase: the benchmark build,
the backbone and its weights, the strategy's setup up to the first training batch, then
training and evaluation. Three cases, each as a sweep meets it: a node's first trial (an empty
benchmark cache: it builds and caches); a fresh worker on that node (a new process: reads the
node's cache); that worker's next trial (a reused actor: everything in memory). Target (issue
16): start-up under 10% of the trial.

    python bench/startup.py [--threads 1] [--spec digits-quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import lpft.strategies.training as training
import lpft.trial as trial_module
from lpft.sweeps import load_spec


def timed_trial(spec: Any, threads: int) -> dict[str, float]:
    """One FT trial, its phases in seconds (start -> benchmark -> backbone -> first batch -> end)."""
    marks: dict[str, float] = {}
    load, build, batches = trial_module.load_benchmark, trial_module.build_backbone, training.batches

    def load_benchmark(*a: Any, **k: Any) -> Any:
        out = load(*a, **k)
        marks.setdefault("benchmark", time.perf_counter())
        return out

    def build_backbone(*a: Any, **k: Any) -> Any:
        out = build(*a, **k)
        marks.setdefault("backbone", time.perf_counter())
        return out

    def first_batch(*a: Any, **k: Any) -> Any:
        for item in batches(*a, **k):
            if k.get("train"):
                marks.setdefault("first_batch", time.perf_counter())
            yield item

    trial_module.load_benchmark, trial_module.build_backbone, training.batches = \
        load_benchmark, build_backbone, first_batch
    try:
        import torch

        torch.set_num_threads(threads)
        ft = spec.strategies["ft"]
        settings = {**spec.benchmark_params, "backbone": spec.backbone, "weights": spec.weights,
                    **{k: p.value for k, p in ft.space.items() if p.kind == "constant"}, "lr": 0.003}
        start = time.perf_counter()
        trial_module.run_trial(spec.benchmark, "ft", settings)
        end = time.perf_counter()
    finally:
        trial_module.load_benchmark, trial_module.build_backbone, training.batches = load, build, batches
    return {"benchmark build": marks["benchmark"] - start,
            "backbone and weights": marks["backbone"] - marks["benchmark"],
            "setup to the first batch": marks["first_batch"] - marks["backbone"],
            "training and evaluation": end - marks["first_batch"], "total": end - start}


COLUMNS = ("new node", "fresh worker", "reused worker")


def child(spec_name: str, threads: int, runs: int) -> None:
    """In a fresh process (a new Ray worker): `runs` trials, their phases as JSON."""
    spec = load_spec(spec_name)
    print(json.dumps([timed_trial(spec, threads) for _ in range(runs)]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="digits-quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.spec, args.threads, args.child)
    with tempfile.TemporaryDirectory() as cache:  # an empty node cache, as on a node's first trial
        env = {**os.environ, "LPFT_CACHE": cache}
        cmd = [sys.executable, __file__, "--spec", args.spec, "--threads", str(args.threads), "--child"]
        runs = [json.loads(subprocess.run([*cmd, str(n)], env=env, check=True, capture_output=True,
                                          text=True).stdout.splitlines()[-1]) for n in (1, 2)]
    runs = [runs[0][0], *runs[1]]  # new node; then a fresh process on that node, and it again
    print(f"{args.spec}: one FT trial, {args.threads} thread(s); seconds. A new node builds the benchmark "
          "and caches it on disk;\na fresh worker (a new process) reads it back; a reused worker keeps it in memory")
    print(f"  {'':<26}" + "".join(f"{c:>15}" for c in COLUMNS))
    for phase in runs[0]:
        print(f"  {phase:<26}" + "".join(f"{r[phase]:15.2f}" for r in runs))
    for name, r in zip(COLUMNS, runs):
        startup = r["total"] - r["training and evaluation"]
        print(f"{name}: start-up {startup:.2f} s = {100 * startup / r['total']:.1f}% of the trial (target < 10%)")


if __name__ == "__main__":
    main()
