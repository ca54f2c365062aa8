"""`lpft demo`: the built-in `synthetic` and `digits-quick` sweeps, end to end, on this machine.

Each runs on a local Ray instance into `<storage>/<sweep>/` (the demo's own folder,
replaced on every run), prints its per-strategy table and the paper's comparisons with
their intervals, and writes the `lpft analyze` report (tables, frontier plots, report.html)
beside it.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from lpft.analysis.report import analyze, write_report
from lpft.analysis.tables import owners_line
from lpft.search_spaces import Kind, Param
from lpft.sweeps import SweepSpec, load_spec
from lpft.sweeps.launch import run_sweep, sweep_root
from lpft.sweeps.outcome import SweepOutcome, print_outcome

DEMO_SPECS = ("synthetic", "digits-quick")
# --quick (for tests): a tiny digits subset and fewer, shorter trials, LP's C path (LP's and
# LP-FT's) of 10 values on both benchmarks (the digits subset's 50-value path takes 12 s; the
# 10-value one selects a C of the same accuracies there); PNG figures only.
QUICK_DIGITS = {"n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 60, "size": 32}
QUICK_CS = 10


def quick(spec: SweepSpec) -> SweepSpec:
    from lpft.strategies import STRATEGIES

    strategies = {}
    for name, s in spec.strategies.items():
        space = dict(s.space)
        if "epochs" in space:
            short = 1 if spec.benchmark == "digits" else 60
            space["epochs"] = Param(Kind.CONSTANT, value=short)
            space["eval_every"] = Param(Kind.CONSTANT, value=1 if spec.benchmark == "digits" else 20)
        if "num_cs" in {f.name for f in dataclasses.fields(STRATEGIES[name].params)}:  # LP and LP-FT alike
            space["num_cs"] = Param(Kind.CONSTANT, value=QUICK_CS)
        strategies[name] = dataclasses.replace(s, num_samples=min(s.num_samples, 2), space=space)
    params = {**spec.benchmark_params, **(QUICK_DIGITS if spec.benchmark == "digits" else {})}
    return dataclasses.replace(spec, strategies=strategies, benchmark_params=params, replicate=0)


def run_demo(storage: str = "results/demo", fast: bool = False, address: str | None = None) -> dict[str, SweepOutcome]:
    outcomes = {}
    for name in DEMO_SPECS:
        spec = load_spec(name).with_storage(storage)
        spec = quick(spec) if fast else spec
        root = Path(sweep_root(spec).path)  # the demo writes locally
        if root.exists():  # the demo's own scratch folder: start clean, never mix runs
            shutil.rmtree(root)
        print(f"\n== {name}: {', '.join(spec.strategies)} on {spec.benchmark} "
              f"{spec.benchmark_params or ''}", flush=True)
        outcomes[name] = run_sweep(spec, address=address)
        print_outcome(outcomes[name], resume="lpft demo (its sweeps start over)", sentence=False)
        if outcomes[name].interrupted is not None:  # stopped (SIGINT, SIGTERM): no report of half a sweep
            break
        report = analyze([str(root)])
        write_report(report, root / "report", "png" if fast else "all")  # --quick: the HTML page's figures
        print(report.sentence)  # the comparisons, each with its own interval over seeds
        print(owners_line(report.owners))
        print(f"frontier report: {root / 'report' / 'report.html'}")
    return outcomes
