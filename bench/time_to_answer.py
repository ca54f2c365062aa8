"""Compute to the answer: the paper-style grid run to the end (FIFO) against lpft's default search
(TPE + ASHA, the same per-strategy trial cap), both through `lpft sweep`, in one run.

The grid has six FT and five LP-FT learning rates, log-spaced over the spec's own search ranges
(the paper's protocol; its absolute values are for ImageNet-scale models); the search samples
those ranges. Both run one trial at a time on seed 0, no replicates, so the ledger's order is
the order trials ran. Per strategy: the grid's best ID-val config and its ID/OOD; the
trial-epochs and wall time the search spent until it first held a config within 0.5 ID-val
points of the grid's best; the ratio to the grid's epochs (target <= 0.4); and whether both
order the strategies alike by ID and by OOD.

    python bench/time_to_answer.py [--spec synthetic] [--tolerance 0.005]     # --spec digits: ~1 h on 2 cores
    python bench/time_to_answer.py --spec digits --storage DIR --reuse-grid      # the search again, the kept grid
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import shutil
import tempfile
import time
from pathlib import Path

from answer import orderings, time_to_answer  # bench/answer.py, beside this script

from lpft.search_spaces import Param
from lpft.storage import locate
from lpft.sweeps import load_spec
from lpft.sweeps.launch import run_sweep
from lpft.sweeps.ray_start import init_ray

GRID_SIZES = {"ft": 6, "lpft": 5}


def log_grid(p: Param, n: int) -> list[float]:
    lo, hi = math.log10(p.low), math.log10(p.high)
    return [float(f"{10 ** (lo + (hi - lo) * i / (n - 1)):.3g}") for i in range(n)]


def arms(spec):
    """(grid spec, search spec): the same strategies, budgets and epochs."""
    grid_strats, search_strats = {}, {}
    for name, s in spec.strategies.items():
        n = GRID_SIZES.get(name)
        lr = s.space.get("lr")
        if n is None or lr is None or lr.kind != "float":
            grid_strats[name] = search_strats[name] = s
            continue
        grid_strats[name] = dataclasses.replace(s, grid={"lr": log_grid(lr, n)}, num_samples=n,
                                                space={k: p for k, p in s.space.items() if k != "lr"})
        search_strats[name] = dataclasses.replace(s, num_samples=n)
    common = {"replicate": 0, "max_concurrent": 1, "seeds": (spec.seeds[0],)}
    grid = dataclasses.replace(spec, name=f"{spec.name}-grid", strategies=grid_strats, search="grid",
                               scheduler="fifo", **common)
    search = dataclasses.replace(spec, name=f"{spec.name}-search", strategies=search_strats, search="optuna",
                                 scheduler="asha", **common)
    return grid, search


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="synthetic")
    ap.add_argument("--tolerance", type=float, default=0.005)
    ap.add_argument("--storage", help="keep both sweeps in this folder (default: a temporary one)")
    ap.add_argument("--reuse-grid", action="store_true",
                    help="with --storage: a finished grid sweep there is read, not run again (the costly arm)")
    args = ap.parse_args()
    grid, search = arms(load_spec(args.spec))
    init_ray(None)
    with contextlib.ExitStack() as stack:
        storage = args.storage or stack.enter_context(tempfile.TemporaryDirectory())
        seconds: dict[str, float | None] = {}
        for spec in (grid, search):
            folder = Path(storage) / spec.name
            if spec is grid and args.reuse_grid and (folder / "results").is_dir():
                seconds[spec.name] = None
                continue
            shutil.rmtree(folder, ignore_errors=True)  # this bench's own folder from an earlier run
            t = time.perf_counter()
            run_sweep(spec.with_storage(storage), progress_every=3600)
            seconds[spec.name] = time.perf_counter() - t
        answers = time_to_answer(locate(storage) / grid.name, locate(storage) / search.name, args.tolerance)
    print(f"\n{args.spec}: grid (FIFO, every point to its last epoch) vs search (TPE + ASHA), "
          f"one trial at a time; within {100 * args.tolerance:.1f} ID-val points of the grid's best")
    grid_wall = "reused" if seconds[grid.name] is None else f"{seconds[grid.name]:.0f} s"
    print(f"wall: grid {grid_wall}, search {seconds[search.name]:.0f} s")
    print(f"{'strategy':<9}{'grid best':<16}{'ID val':>7}{'ID test':>8}{'OOD':>6}{'grid ep':>9}"
          f"{'search ep':>10}{'search s':>9}{'ratio':>7}")
    searched = [a for a in answers if a.strategy in GRID_SIZES]  # LP's C path is one trial: nothing to search
    for a in answers:
        best = " ".join(f"{k}={v:.3g}" for k, v in a.grid_best.items() if k == "lr") or "-"
        if a in searched:
            reached = "never" if a.search_epochs is None else str(a.search_epochs)
            spent = "-" if a.search_seconds is None else f"{a.search_seconds:.0f}"
            grid_ep, ratio = str(a.grid_epochs), "-" if a.ratio is None else f"{a.ratio:.2f}"
        else:
            reached = spent = grid_ep = ratio = "-"
        print(f"{a.strategy:<9}{best:<16}{100 * a.grid_id_val:7.1f}{100 * a.grid_id_test:8.1f}{100 * a.grid_ood:6.1f}"
              f"{grid_ep:>9}{reached:>10}{spent:>9}{ratio:>7}")
    (grid_id, search_id), (grid_ood, search_ood) = orderings(answers)
    print(f"ordering by ID:  grid {' > '.join(grid_id)};  search {' > '.join(search_id)}"
          f"  {'same' if grid_id == search_id else 'DIFFERENT'}")
    print(f"ordering by OOD: grid {' > '.join(grid_ood)};  search {' > '.join(search_ood)}"
          f"  {'same' if grid_ood == search_ood else 'DIFFERENT'}")
    if searched and all(a.search_epochs is not None for a in searched):
        ratio = sum(a.search_epochs for a in searched) / sum(a.grid_epochs for a in searched)
        print(f"FT and LP-FT together: {ratio:.2f} of the grid's trial-epochs (target <= 0.4)")


if __name__ == "__main__":
    main()
