"""`lpft demo`: LP, FT and LP-FT on `synthetic` and a small `digits`, one table per benchmark.

Until the sweeps land this is the embedded default end to end: one trial per
strategy with each benchmark's default hyperparameters, selected by ID val.
"""

from __future__ import annotations

import time
from typing import Any

from lpft.cli import format_table
from lpft.trial import Trial, run_trial

STRATEGIES = ("lp", "ft", "lpft")
DEMO = {
    "synthetic": {"eps": 0.1},
    "digits": {"n_train": 1000, "n_val": 500, "n_test": 500, "n_ood": 500},
}
QUICK_DIGITS = {"n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 100, "size": 32, "epochs": 1}


def table(trials: list[Trial]) -> str:
    sets = list(trials[0].result.final) if trials[0].result.final else []
    ood = [s for s in sets if s not in ("id_val", "id_test")]
    header = ["strategy", "status", "step", *sets, "ood avg", "time s"]
    rows = []
    for t in trials:
        final = t.result.final
        avg = sum(final[s] for s in ood) / len(ood) if final and ood else None
        rows.append([t.strategy, t.result.status, t.result.selected_step,
                     *[f"{100 * final[s]:.1f}" if s in final else "-" for s in sets],
                     "-" if avg is None else f"{100 * avg:.1f}", f"{t.wall_time_s:.1f}"])
    return format_table(header, rows)


def summary(trials: list[Trial]) -> str:
    """The paper's comparison in one line: FT vs LP, and LP-FT vs FT (ID test, OOD average)."""
    def point(t: Trial) -> tuple[float, float]:
        f = t.result.final
        ood = [v for k, v in f.items() if k not in ("id_val", "id_test")]
        return f.get("id_test", 0.0), sum(ood) / max(len(ood), 1)

    by = {t.strategy: point(t) for t in trials if t.result.final}
    if not all(s in by for s in STRATEGIES):
        return "(some strategy produced no evaluation)"

    def diff(a: str, b: str) -> str:
        return f"{100 * (by[a][0] - by[b][0]):+.1f} ID, {100 * (by[a][1] - by[b][1]):+.1f} OOD"

    return f"FT vs LP: {diff('ft', 'lp')};  LP-FT vs FT: {diff('lpft', 'ft')}"


def run_demo(quick: bool = False) -> dict[str, list[Trial]]:
    configs: dict[str, dict[str, Any]] = {**DEMO, **({"digits": QUICK_DIGITS} if quick else {})}
    out = {}
    for bench, settings in configs.items():
        start = time.perf_counter()
        trials = []
        for strategy in STRATEGIES:
            keys = {k: v for k, v in settings.items() if k != "epochs" or strategy != "lp"}
            trials.append(run_trial(bench, strategy, keys))
        desc = ", ".join(f"{k}={v}" for k, v in settings.items())
        print(f"\n== {bench} ({desc}; backbone {trials[0].backbone}, weights {trials[0].weights}) "
              f"in {time.perf_counter() - start:.0f} s")
        print(table(trials))
        print(summary(trials))
        out[bench] = trials
    return out
