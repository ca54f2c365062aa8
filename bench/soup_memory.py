"""A soup's peak memory does not grow with its number of ingredients: the real `soup-uniform` and
`soup-greedy` strategies on ResNet-50-sized ingredients (timm `resnet50`, random weights, one per
seed, a 10-class head: digits), 2, 5 and 20 ingredients.

Each soup runs in a fresh process (peak RSS, `ru_maxrss`, never goes down in a process); the
baseline is the same process after building the backbone and benchmark, before the soup. Printed:
each soup's peak above that baseline, in models (one state dict's bytes), for 2, 5 and 20
ingredients, and the ratio of the 20-ingredient peak to the 5-ingredient one. Target: ratio <=
1.1 (streamed: the soup, the ingredient being read and its bytes while torch decodes them, the
model it is scored in; not the ingredients). Holding all 20 would be ~20 models above the
baseline.

    python bench/soup_memory.py            # ~2 GB of ingredient files in a temporary folder
    python bench/soup_memory.py --ingredients 8
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DIGITS = {"n_train": 100, "n_val": 50, "n_test": 50, "n_ood": 30, "size": 32}
SETTINGS = {**DIGITS, "backbone": "resnet50", "weights": "none", "device": "cpu"}  # RSS: host memory


def make_ingredients(folder: Path, n: int) -> int:
    """n ResNet-50 classifiers for digits (random weights, seed i); returns one's state bytes."""
    import torch

    from lpft.data import load_benchmark
    from lpft.models.backbone import build_backbone
    from lpft.models.classifier import Classifier
    from lpft.models.saved import save_model

    bench = load_benchmark("digits", **DIGITS)
    size = 0
    for i in range(n):
        backbone = build_backbone("resnet50", "none", bench, seed=i)
        model = Classifier.for_backbone(backbone, bench.num_classes, bias=bench.head_bias)
        save_model(model, str(folder / f"r-{i:02d}.pt"))
        size = sum(v.numel() * v.element_size() for v in model.state_dict().values())
        del model, backbone
    torch.cuda.empty_cache()
    return size


def child(strategy: str, folder: str, n: int) -> None:
    """In a fresh process: the baseline, then the soup; prints both peaks (bytes) as JSON."""
    import resource

    import torch

    from lpft.data import load_benchmark
    from lpft.models.backbone import build_backbone
    from lpft.trial import run_trial

    torch.set_num_threads(1)
    bench = load_benchmark("digits", **DIGITS)
    build_backbone("resnet50", "none", bench)  # what run_trial builds, before the soup
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    names = ",".join(f"r-{i:02d}" for i in range(n))
    r = run_trial("digits", strategy, {**SETTINGS, "candidates": names, "models": folder}).result
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"base": base, "peak": peak, "ingredients": r.step_hparams[0]["ingredients"].count(",") + 1}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ingredients", type=int, default=20)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_bytes = make_ingredients(folder, args.ingredients)
        print(f"{args.ingredients} ResNet-50 ingredients for digits, {model_bytes / 2**20:.0f} MiB each")
        for strategy in ("soup-uniform", "soup-greedy"):
            above = {}
            for n in (2, 5, args.ingredients):
                out = subprocess.run([sys.executable, __file__, "--child", strategy, str(folder), str(n)],
                                     capture_output=True, text=True, check=True).stdout
                m = json.loads(out.strip().splitlines()[-1])
                above[n] = m["peak"] - m["base"]
                print(f"{strategy:13s} {n:3d} ingredients ({m['ingredients']} kept): peak "
                      f"{above[n] / model_bytes:5.2f} models above the baseline")
            print(f"{strategy:13s} ratio {args.ingredients} vs 5 ingredients: {above[args.ingredients] / above[5]:.3f}")


if __name__ == "__main__":
    main()
