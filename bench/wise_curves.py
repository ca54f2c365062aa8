"""WiSE curves: ID test and mean OOD accuracy per alpha, from the LP model (alpha 0) to FT (alpha 1).

Fine-tunes once per benchmark with the benchmark's FT defaults (synthetic: eps 0.1, lr 0.5,
300 full-batch epochs; digits: the packaged Lite0, 3 epochs), saves the model, then runs the
`wise` strategy on it. Prints one row per alpha.

    python bench/wise_curves.py [--benchmarks synthetic digits]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from lpft.models.saved import save_model
from lpft.trial import run_trial

SETTINGS = {"synthetic": ({"eps": 0.1}, {"lr": 0.5, "epochs": 300}), "digits": ({}, {})}


def curve(benchmark: str) -> None:
    params, ft_hp = SETTINGS[benchmark]
    ft = run_trial(benchmark, "ft", {**params, **ft_hp}).result
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "ft.pt")
        save_model(ft.model, path)
        wise = run_trial(benchmark, "wise", {**params, "model": path}).result
    print(f"\n{benchmark}: alpha, ID test %, mean OOD %")
    for step in sorted({e.step for e in wise.evaluations}):
        m = wise.metrics(step)
        print(f"  {wise.step_hparams[step]['alpha']:.1f}  {100 * m['id_test']:5.1f}  {100 * m['ood_avg']:5.1f}",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--benchmarks", nargs="+", default=["synthetic", "digits"])
    for name in ap.parse_args().benchmarks:
        curve(name)


if __name__ == "__main__":
    main()
