"""FT from a JPEG folder end to end against the same FT on images already in memory, in one run:
is the input pipeline (the node's prepared copy, `workers` loader processes) still what the GPU
waits for?

The folder is `bench/input_pipeline.py`'s (ImageNet-size JPEGs, written here); the JPEG arm is
an `imagefolder` benchmark over it trained by lpft's `sgd_train` (what an `ft` trial runs) with
`--workers` loader processes, the first epoch building the prepared copy; the in-memory arm is
`bench/ft_throughput.py`'s lpft loop on uint8 tensors of the same size and count. Both with
lpft's defaults (bf16 autocast and channels-last on a GPU), the same model, batch and epochs;
each keeps its best epoch after the first. Last line: `... ratio X`, X = JPEG images/s /
in-memory images/s (target >= 0.9).

    python bench/jpeg_end_to_end.py --model resnet50 --images 4000 --workers 12          # GPU
    python bench/jpeg_end_to_end.py --model test_resnet --size 32 --images 64 --device cpu --workers 0   # smoke
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    from ft_throughput import Setup, lpft_loop, make_benchmark
    from input_pipeline import write_folder

    from lpft.data import load_benchmark
    from lpft.models.backbone import build_backbone
    from lpft.models.classifier import Classifier
    from lpft.strategies.ft import FTParams
    from lpft.strategies.training import sgd_train

    tmp = Path(tempfile.mkdtemp(prefix="lpft-e2e-"))
    os.environ["LPFT_CACHE"] = str(tmp / "cache")
    try:
        start = time.perf_counter()
        write_folder(tmp / "jpegs", args.images)
        print(f"wrote {args.images} JPEGs in {time.perf_counter() - start:.0f} s", flush=True)
        bench = load_benchmark("imagefolder", root=str(tmp / "jpegs"), image_size=args.size, n_val=1, n_test=1)
        backbone = build_backbone(args.model, "none", bench)
        model = Classifier.for_backbone(backbone, bench.num_classes)
        hp = FTParams(lr=0.01, epochs=args.epochs, batch_size=args.batch, eval_every=args.epochs)
        log = sgd_train(model, backbone, bench, hp, args.device, workers=args.workers)
        n = len(bench.train)
        jpeg = n / min(log.epoch_seconds[1:] or log.epoch_seconds)
        print(f"JPEG folder: epochs {', '.join(f'{t:.1f}' for t in log.epoch_seconds)} s -> {jpeg:.0f} images/s "
              f"(the first epoch builds the prepared copy)", flush=True)
        times = lpft_loop(make_benchmark(n, args.size), args.model, args.batch, args.epochs,
                          Setup(amp=True, channels_last=True, compile=False), args.device)
        memory = n / min(times[1:] or times)
        print(f"in memory:   epochs {', '.join(f'{t:.1f}' for t in times)} s -> {memory:.0f} images/s")
        print(f"jpeg_end_to_end: {args.model} {args.size}px batch {args.batch}, {args.workers} workers on "
              f"{args.device} ({torch.cuda.get_device_name() if args.device.startswith('cuda') else 'CPU'}): "
              f"JPEG {jpeg:.0f} vs in-memory {memory:.0f} images/s, ratio {jpeg / memory:.3f} (target >= 0.9)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
