"""What calibration adds to an evaluation: a digits-quick FT trial's evaluation (every eval set,
the packaged EfficientNet-Lite0) with and without calibration, interleaved in one run.

`lpft.strategies.training.evaluate` with `calibrate=False` scores accuracy only, from the same
logits; with it, every calibration metric raw and after temperature scaling fit on ID val. Each
side runs `--repeats` times after a warm-up; the best time of each is compared (the smallest
is the least disturbed by the machine). Target: ratio <= 1.05.

    python bench/calibration_overhead.py            # digits-quick's benchmark, CPU
    python bench/calibration_overhead.py --device cuda
"""

from __future__ import annotations

import argparse
import time

import torch

from lpft.data import load_benchmark
from lpft.models.backbone import build_backbone
from lpft.models.classifier import Classifier
from lpft.strategies.training import evaluate
from lpft.sweeps.files import builtin_specs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(1)  # a trial's one CPU (digits-quick: resources {cpu: 1})
    import yaml

    spec = yaml.safe_load(builtin_specs()["digits-quick"].read_text())
    bench = load_benchmark(spec["benchmark"].pop("name"), **spec["benchmark"])
    backbone = build_backbone(spec["backbone"]["name"], spec["backbone"]["weights"], bench)
    model = Classifier.for_backbone(backbone, bench.num_classes).to(args.device)
    sizes = {name: len(s) for name, s in bench.eval_sets.items()}
    print(f"digits-quick eval sets {sizes}, {bench.num_classes} classes, {backbone.name}, {args.device}")
    best = {False: float("inf"), True: float("inf")}
    for rep in range(args.repeats + 1):
        for calibrate in (False, True):
            start = time.perf_counter()
            evals = evaluate(model, backbone, bench, 1, args.device, calibrate=calibrate)
            took = time.perf_counter() - start
            if rep:  # the first round warms caches and allocators
                best[calibrate] = min(best[calibrate], took)
    assert all(e.calibration.get("ece") is not None for e in evals), "calibration was not computed"
    print(f"evaluation without calibration {best[False]:.3f} s, with {best[True]:.3f} s "
          f"(best of {args.repeats}), ratio {best[True] / best[False]:.3f}")


if __name__ == "__main__":
    main()
