"""A trial's start-up against its training: where the time goes before the first training step.

Runs `digits-quick`'s FT trial (EfficientNet-Lite0, 1,000 training images, 2 epochs, one thread
as a sweep's trial gets) twice in one process through `lpft.trial.run_trial`, timing each phase:
the benchmark build, the backbone and its weights, the strategy's setup up to the first
training batch, then training and evaluation. The second run shows what a reused worker
would pay. Target (issue 16): start-up under 10% of the trial.

    python bench/startup.py [--threads 1] [--spec digits-quick]
"""

from __future__ import annotations

import argparse
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
    return {"benchmark build": marks["benchmark"] - start, "backbone and weights": marks["backbone"] - marks["benchmark"],
            "setup to the first batch": marks["first_batch"] - marks["backbone"],
            "training and evaluation": end - marks["first_batch"], "total": end - start}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="digits-quick")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    spec = load_spec(args.spec)
    runs = [timed_trial(spec, args.threads) for _ in range(2)]
    print(f"{args.spec}: one FT trial, {args.threads} thread(s); seconds (first run in a fresh process, then again)")
    for phase in runs[0]:
        print(f"  {phase:<26}{runs[0][phase]:8.2f}{runs[1][phase]:8.2f}")
    for i, r in enumerate(runs, 1):
        startup = r["total"] - r["training and evaluation"]
        print(f"run {i}: start-up {startup:.2f} s = {100 * startup / r['total']:.0f}% of the trial (target < 10%)")


if __name__ == "__main__":
    main()
