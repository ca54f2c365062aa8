"""Packing trials on one GPU: the same FT trials at 1, 2 and 4 per GPU, as a sweep's
`resources: {gpu: 0.5}` (or 0.25) lets Ray run them, and the sweep throughput each gives.

Ray packs fractional-GPU trials as separate processes on one device; so does this bench
(spawned processes, Ray not needed): k processes each build the same model (timm, random
weights) and synthetic in-memory data as `bench/ft_throughput.py`, wait at a barrier, then
train `--epochs` epochs with lpft's own loop (`sgd_train`, lpft's defaults: bf16 autocast,
channels-last). Printed per k: wall time from the barrier to the last trial's end, trial-epochs
per GPU-hour (k x epochs x 3600 / wall) and images/s in all; last line: the best k and its gain
over one trial per GPU.

    python bench/gpu_packing.py --model resnet50 --size 224 --batch 64 --images 2048 --epochs 2
    python bench/gpu_packing.py --model test_resnet --size 32 --images 128 --epochs 1 --device cpu   # smoke
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path


def trial(args: argparse.Namespace, barrier, done) -> None:  # one packed trial, in its own process
    sys.path.insert(0, str(Path(__file__).parent))
    import torch
    from ft_throughput import make_benchmark

    from lpft.models.backbone import build_backbone
    from lpft.models.classifier import Classifier
    from lpft.strategies.ft import FTParams
    from lpft.strategies.training import sgd_train

    torch.set_num_threads(max(1, args.threads))
    bench = make_benchmark(args.images, args.size)
    backbone = build_backbone(args.model, "none", bench)
    model = Classifier.for_backbone(backbone, bench.num_classes)
    hp = FTParams(lr=0.01, epochs=args.epochs, batch_size=args.batch, eval_every=args.epochs)
    if args.device.startswith("cuda"):
        torch.zeros(1, device=args.device)  # the CUDA context, before the clock starts
    barrier.wait()
    log = sgd_train(model, backbone, bench, hp, args.device)
    done.put((log.status, time.perf_counter()))


def packed(args: argparse.Namespace, k: int) -> float:
    """Seconds from the barrier to the last of k trials' end."""
    ctx = mp.get_context("spawn")  # CUDA cannot be forked
    barrier, done = ctx.Barrier(k + 1), ctx.Queue()
    procs = [ctx.Process(target=trial, args=(args, barrier, done)) for _ in range(k)]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    ends = [done.get(timeout=3600) for _ in range(k)]
    for p in procs:
        p.join()
    bad = [s for s, _ in ends if s != "completed"]
    if bad:
        raise SystemExit(f"gpu_packing: a trial ended {bad[0]}")
    return max(t for _, t in ends) - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--packs", type=int, nargs="+", default=[1, 2, 4], help="trials per GPU")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads per trial")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    rates = {}
    print(f"{args.model} {args.size}px batch {args.batch}, {args.images} images x {args.epochs} epochs per trial "
          f"on {args.device}")
    for k in args.packs:
        wall = packed(args, k)
        rates[k] = k * args.epochs * 3600 / wall
        print(f"{k} per GPU: {wall:7.1f} s, {rates[k]:8.0f} trial-epochs per GPU-hour, "
              f"{k * args.epochs * args.images / wall:7.0f} images/s in all", flush=True)
    best = max(rates, key=rates.__getitem__)
    base = rates.get(1, rates[min(rates)])
    print(f"gpu_packing: best {best} trials per GPU, {rates[best]:.0f} trial-epochs per GPU-hour, "
          f"gain {rates[best] / base:.2f}x over {min(rates)} per GPU")


if __name__ == "__main__":
    main()
