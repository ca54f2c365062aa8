"""Regenerates the golden results dataset and its expected analysis outputs (DomainBed's pattern).

Real strategies on the synthetic benchmark (tiny: 200 training points, 60 epochs), two
learning rates x two seeds for FT and LP-FT, LP on two seeds; written as a sweep writes them (lpft.dataset).
Run from the repository root:  python tests/golden/make_golden.py
Then review the diff of tests/golden/expected_* before committing it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lpft.analysis.report import analyze
from lpft.dataset import write_trial
from lpft.strategies import hparam_columns
from lpft.trial import run_trial

HERE = Path(__file__).parent
BENCH = {"eps": 0.1, "n_train": 200, "n_val": 200, "n_test": 200, "n_ood": 200}
RUNS = [("lp", {}), ("ft", {"lr": 0.3}), ("ft", {"lr": 1.0}), ("lpft", {"lr": 0.003}), ("lpft", {"lr": 0.03})]


def build() -> None:
    results = HERE / "results"
    shutil.rmtree(results, ignore_errors=True)
    for strategy, hp in RUNS:
        extra = {"num_cs": 10} if strategy == "lp" else {"epochs": 60, "eval_every": 20}
        for seed in (0, 1):
            trial = run_trial("synthetic", strategy, {**BENCH, **hp, **extra, "seed": seed})
            trial_id = f"{strategy}-{'-'.join(f'{k}{v}' for k, v in hp.items()) or 'path'}-s{seed}"
            rows = trial.result.rows(sweep="golden", trial_id=trial_id, seed=seed, benchmark="synthetic", node="n0")
            write_trial(results, strategy, trial_id, rows, hparam_columns())


def expected() -> tuple[str, str]:
    report = analyze([HERE])
    front = report.frontier[report.frontier["frontier.ood_avg"]]
    cols = ["strategy", "trial_id", "step", "id_test", "ood_avg"]
    return report.tables["text"], front.sort_values(["id_test", "trial_id"])[cols].to_csv(index=False,
                                                                                        float_format="%.4f")


if __name__ == "__main__":
    build()
    table, frontier = expected()
    (HERE / "expected_table.txt").write_text(table)
    (HERE / "expected_frontier.csv").write_text(frontier)
    print(table)
    print(frontier)
