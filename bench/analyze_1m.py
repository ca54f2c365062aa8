"""Time to analyze a synthetic dataset of one million evaluation rows, with a pandas-groupby baseline.

Writes ~1M rows as one Parquet file per trial (the layout lpft.dataset writes), then times in one run:
  lpft: load_results (polars scan, schema/range/duplicate checks) -> (trial, step) points ->
        id_val selection -> table -> Pareto frontiers (every OOD set)
  baseline: pandas read_parquet -> groupby/idxmax selection -> groupby mean table
Each arm runs --repeat times, interleaved; the medians' ratio is the figure (target <= 0.5).
Then the whole `lpft analyze` (figures, CSVs, HTML) in a
child process: its time, peak memory and report size (issue 13's targets at a million rows:
under 1 GB and under 20 MB).

    python bench/analyze_1m.py [--trials 1430] [--steps 100]     # 1.0M rows; --trials 4290: 3.0M
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lpft.allocator import configure

configure()  # as the `lpft` command does, before polars is imported (bench/README.md: the allocator)

from lpft.analysis.calibration import calibration_summary
from lpft.analysis.report import frontier_points
from lpft.analysis.selection import SELECTIONS, wide
from lpft.analysis.tables import render
from lpft.calibration import COLUMNS, RELIABILITY
from lpft.dataset import HparamColumns, load_results, step_hparams, write_trial
from lpft.results import PLAIN

# As a sweep writes them: the node that ran each trial (56 hex characters), the benchmark.
NODES = [f"{n:056x}" for n in range(8)]
HPARAMS = HparamColumns({"lr": float, "seed": int})

SETS = (("id_val", "id_val"), ("id_test", "id_test"), ("a", "ood"), ("b", "ood"), ("c", "ood"), ("d", "ood"),
        ("e", "ood"))


def make(root: Path, trials: int, steps: int) -> int:
    rng = np.random.default_rng(0)
    n = 0
    for t in range(trials):
        strategy = ("lp", "ft", "lpft")[t % 3]
        lr = float(10 ** rng.uniform(-5, -1))
        seed = t % 3
        acc = np.clip(rng.uniform(0.5, 0.9) + rng.normal(0, 0.02, (steps, len(SETS))), 0, 1)
        # Every evaluation's calibration, as results schema 2 records it: 11 float columns.
        cal = rng.uniform(0, 1, (steps, len(SETS), len(COLUMNS)))
        counts = rng.integers(0, 50, (steps, len(SETS), 15))  # and its reliability bins: 3 lists of 15
        rows = [{"sweep": "bench", "strategy": strategy, "trial_id": f"t{t}", "seed": seed, "step": s,
                 "eval_set": name, "role": role, "accuracy": float(acc[s, j]), "hp.lr": lr, "hp.seed": seed,
                 "benchmark": "bench", "node": NODES[t % len(NODES)], "adapt": PLAIN,
                 **dict(zip(COLUMNS, cal[s, j].tolist())), "rel_count": counts[s, j].tolist(),
                 "rel_conf_sum": (0.5 * counts[s, j]).tolist(), "rel_correct": (counts[s, j] // 2).tolist()}
                for s in range(steps) for j, (name, role) in enumerate(SETS)]
        write_trial(root, strategy, f"t{t}", rows, HPARAMS)
        n += len(rows)
    return n


def lpft_analysis(root: Path) -> None:
    """What `lpft analyze` computes before drawing: the checked load, the (trial, step) points,
    the id_val selection, the table, and the frontiers of every OOD set and the average."""
    # As lpft.analysis.report loads: the pivot counts evaluations recorded twice (there are none here;
    # with some, the report loads again with load_results' own duplicates check).
    loaded = load_results([root], without=("node", "hp.seed", *RELIABILITY), check_duplicates=False)
    points = wide(loaded.frame, *step_hparams(loaded.metadata))
    assert not points.repeated
    chosen = SELECTIONS["id_val"]().select_points(points)
    render(chosen)
    calibration_summary(loaded.frame, chosen)
    frontier_points(points.frame, [*points.ood_sets, "ood_avg"])


def baseline(root: Path) -> pd.DataFrame:
    df = pd.read_parquet(root)
    val = df[df.role == "id_val"]
    best = val.loc[val.groupby("trial_id").accuracy.idxmax(), ["trial_id", "step"]]
    picked = df.merge(best, on=["trial_id", "step"])
    ood = picked[picked.role == "ood"].groupby("trial_id").accuracy.mean().rename("ood_avg")
    per = picked.pivot_table(index=["strategy", "trial_id", "hp.lr"], columns="eval_set", values="accuracy")
    per = per.join(ood, on="trial_id").reset_index()
    cfg = per.groupby(["strategy", "hp.lr"])["id_val"].mean().reset_index()
    top = cfg.sort_values("id_val").groupby("strategy").tail(1)
    return per.merge(top[["strategy", "hp.lr"]]).groupby("strategy")[["id_test", "ood_avg"]].agg(["mean", "std"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1430)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "results"
        n = make(root, args.trials, args.steps)
        # First, while this process is small: a child's peak memory counts what it shared at fork.
        cli = whole_report(root, Path(d) / "report")
        ours, base = [], []
        for _ in range(args.repeat):  # interleaved, so load on the machine hits both arms alike
            t = time.perf_counter()
            lpft_analysis(root)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            baseline(root)
            base.append(time.perf_counter() - t)
    print(f"{n:,} evaluation rows in {args.trials} trial files")
    mid, spread = statistics.median, (lambda xs: f"{min(xs):.2f}-{max(xs):.2f}")
    print(f"lpft analysis (load, select, table, frontiers): median {mid(ours):.2f} s ({spread(ours)})   "
          f"pandas-groupby baseline (load, select, table): median {mid(base):.2f} s ({spread(base)})   "
          f"ratio {mid(ours) / mid(base):.2f} (target <= 0.5), median of {args.repeat}")
    print(f"lpft analyze (the whole report, a child process): {cli[0]:.1f} s, peak memory {cli[1]:.0f} MB, "
          f"report {cli[2]:.1f} MB (targets at 1M rows: < 1000 MB, < 20 MB)")


def whole_report(root: Path, out: Path) -> tuple[float, float, float]:
    """(seconds, peak MB of the child, MB written) for `lpft analyze root --out out`."""
    import resource
    import subprocess
    import sys

    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lpft.cli", "analyze", str(root), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KB on Linux
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    return seconds, peak, size


if __name__ == "__main__":
    main()
