"""What a run that repeats costs: the demo's sweeps with Optuna asked and told in trial order
(`deterministic_search: true`, the default) against the asynchronous search (told as trials
end, asked whenever a slot is free), two trials at a time as the demo runs them.

Each arm runs the demo's `synthetic` and `digits-quick` sweeps (full size unless --quick) on one
local Ray instance; the arms alternate, --repeat times, so load on the machine hits both alike.
Prints each arm's median and range, whether the deterministic arm's runs all selected the
same configs, and, last, `... ratio X` = deterministic ÷ asynchronous median wall time
(target at most 1.15).

    python bench/deterministic_search.py [--repeat 3] [--specs synthetic,digits-quick] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time

from lpft.demo import quick
from lpft.sweeps import load_spec
from lpft.sweeps.launch import run_sweep
from lpft.sweeps.outcome import selection
from lpft.sweeps.ray_start import init_ray


def arm(specs: list, deterministic: bool) -> tuple[float, list]:
    """Both sweeps in turn; (wall seconds, each strategy's selected trial and lr)."""
    chosen = []
    with tempfile.TemporaryDirectory() as storage:
        t = time.perf_counter()
        for spec in specs:
            s = dataclasses.replace(spec.with_storage(storage), deterministic_search=deterministic)
            outcome = run_sweep(s, progress_every=3600)
            for name in s.strategies:
                picked = selection(outcome.trials, name, s.metric[0])
                chosen.append((s.name, name, picked and picked["trial_id"], picked and picked["params"].get("lr")))
        return time.perf_counter() - t, chosen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--specs", default="synthetic,digits-quick")
    ap.add_argument("--quick", action="store_true", help="the demo's --quick sizes (a smoke run)")
    args = ap.parse_args()
    specs = [load_spec(name) for name in args.specs.split(",")]
    specs = [quick(s) for s in specs] if args.quick else specs
    init_ray(None)
    times: dict[str, list[float]] = {"async": [], "deterministic": []}
    picks: dict[str, list] = {"async": [], "deterministic": []}
    for r in range(args.repeat):
        for label in (("async", "deterministic") if r % 2 == 0 else ("deterministic", "async")):
            seconds, chosen = arm(specs, label == "deterministic")
            times[label].append(seconds)
            picks[label].append(chosen)
            shown = ", ".join(f"{sweep}/{name} {trial}" + (f" lr {lr:.3g}" if lr else "")
                              for sweep, name, trial, lr in chosen)
            print(f"run {r + 1} {label}: {seconds:.1f} s; selected {shown}", flush=True)
    for label, spent in times.items():
        same = all(p == picks[label][0] for p in picks[label])
        print(f"{label}: median {statistics.median(spent):.1f} s (range {min(spent):.1f}-"
              f"{max(spent):.1f}); the same selections in every run: {same}")
    ratio = statistics.median(times["deterministic"]) / statistics.median(times["async"])
    print(f"deterministic vs async search, demo sweeps ({args.specs}), {args.repeat} runs each: ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
