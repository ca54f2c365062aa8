"""Training-input throughput on an ImageNet-like JPEG folder: lpft's path before issue 28 (each
JPEG decoded, RandomResizedCrop at full resolution, ToTensor, Normalize, every epoch; kept here
as `before_epoch`) against the node's prepared copy (`lpft.data.prepared`: decoded and resized
once; crops from uint8, normalised as a batch) through lpft's own `batches`, in one run, on one
core (one thread, no loader workers); and lpft with the copy off (`prepared_images: off`: the
same pixels decoded and resized on demand).

The bench writes the folder: --images JPEGs (default 10,000) of 400-500 px a side at quality
90 in 10 classes, each a smooth random field with edges and grain, so a file is about the size
of an ImageNet JPEG (the mean is printed). Printed: the preparation's one-off cost and the
copy's size; per path the time per image of one training epoch's input (shuffled, augmented),
handed to a device that does the rest as a GPU trial's is (`device="meta"`: the prepared path's
normalisation then runs on the GPU, today's ran in the workers), and as float batches for a
CPU trial, and of an eval pass; last line `... ratio X`, X = the prepared path's time per
training image of a GPU trial's input / today's (target <= 0.2).

    python bench/input_pipeline.py [--images 10000] [--size 224] [--batch 64] [--folder DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def write_folder(root: Path, n: int, classes: int = 10) -> float:
    """ROOT/train/class<k>/<i>.jpg; the mean file size in KiB."""
    rng = np.random.default_rng(0)
    total = 0
    for i in range(n):
        w, h = (int(v) for v in rng.integers(400, 501, 2))
        field = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
        pixels = np.asarray(field, dtype=np.int16)
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        pixels[y0:y0 + h // 3, x0:x0 + w // 3] += int(rng.integers(-80, 80))  # an object's edges
        pixels += rng.normal(0, 14, (h, w, 3)).astype(np.int16)  # grain, as a photo has
        img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        folder = root / "train" / f"class{i % classes:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:06d}.jpg"
        img.save(path, quality=90)
        total += path.stat().st_size
    return total / n / 1024


def before_epoch(bench, split, inputs, batch: int, train: bool, device: str = "cpu") -> float:
    """Seconds for one pass of lpft's input path before issue 28, kept here as the baseline: each
    file decoded, torchvision's RandomResizedCrop + flip at full resolution (or Resize +
    CenterCrop), ToTensor and Normalize per image, seeded per batch, the batch stacked."""
    from torchvision import transforms as T

    from lpft.data.loading import order

    crop, resize = bench.transforms.sizes()
    head = [T.RandomResizedCrop(crop), T.RandomHorizontalFlip()] if train else [T.Resize(resize), T.CenterCrop(crop)]
    tf = T.Compose([*head, T.ToTensor(), T.Normalize(inputs.mean, inputs.std)])
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    seen = 0
    for k, idx in enumerate(order(len(split), batch, gen if train else None)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(k)
            x = torch.stack([tf(split.x.load(int(i))) for i in idx])
        seen += len(x.to(device))
    assert seen == len(split)
    return time.perf_counter() - start


def epoch(bench, split, inputs, batch: int, train: bool, device: str = "cpu") -> float:
    """Seconds for one pass of `batches` over the split. `device="meta"`: the batches are handed
    to a device that does the rest (as a GPU normalises the prepared path's uint8 batch), so
    what is timed is the CPU's part of a GPU trial's input."""
    from lpft.data.loading import batches

    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    seen = 0
    for x, _ in batches(split, inputs, bench, batch, train=train, generator=gen if train else None, device=device):
        seen += len(x)
    assert seen == len(split)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--folder", help="write (or reuse) the JPEG folder here instead of a temp folder")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="lpft-input-"))
    root = Path(args.folder) if args.folder else tmp / "jpegs"
    os.environ["LPFT_CACHE"] = str(tmp / "cache")
    try:
        if not (root / "train").is_dir():
            start = time.perf_counter()
            kib = write_folder(root, args.images)
            print(f"wrote {args.images:,} JPEGs ({kib:.0f} KiB each on average) in {time.perf_counter() - start:.0f} s")
        from lpft.data import load_benchmark
        from lpft.data.loading import Inputs
        from lpft.data.prepared import folder

        bench = load_benchmark("imagefolder", root=str(root), image_size=args.size, n_val=1, n_test=1)
        split = bench.train
        inputs = Inputs((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        n = len(split)
        from lpft.data.base import Split

        warm = np.arange(min(n, 500))
        warmup = Split(split.x.subset(warm), split.y[warm], split.role)  # imports, first touches: untimed
        before_epoch(bench, warmup, inputs, args.batch, train=True)
        today = before_epoch(bench, split, inputs, args.batch, train=True)
        today_gpu = before_epoch(bench, split, inputs, args.batch, train=True, device="meta")
        today_eval = before_epoch(bench, split, inputs, args.batch, train=False)
        os.environ["LPFT_PREPARED_IMAGES"] = "off"  # the same pixels decoded on demand: no copy
        epoch(bench, warmup, inputs, args.batch, train=True)
        off_gpu = epoch(bench, split, inputs, args.batch, train=True, device="meta")
        os.environ["LPFT_PREPARED_IMAGES"] = "auto"
        start = time.perf_counter()
        from lpft.data.prepared import prepared

        prepared(split.x, bench.transforms.sizes()[1], bench.name, bench.fingerprint)
        prep_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in folder().glob("*.img"))
        epoch(bench, warmup, inputs, args.batch, train=True)
        ours = epoch(bench, split, inputs, args.batch, train=True)
        ours_gpu = epoch(bench, split, inputs, args.batch, train=True, device="meta")
        ours_eval = epoch(bench, split, inputs, args.batch, train=False)
        print(f"preparation, once per node: {prep_s:.1f} s ({prep_s / n * 1e3:.2f} ms an image, one core), "
              f"copy {size / 2**20:.0f} MiB ({size / n / 1024:.0f} KiB an image)")
        print("ms per image, one core: a training epoch's input handed to a GPU (the CPU's part), the same as")
        print("float batches for a CPU trial, and an evaluation pass's float batches")
        print(f"{'path':<22} {'train, GPU':>11} {'train, CPU':>11} {'eval, CPU':>10}")
        arms = (("files (before)", today_gpu, today, today_eval), ("prepared copy", ours_gpu, ours, ours_eval))
        for name, g, t, e in arms:
            print(f"{name:<22} {g / n * 1e3:>11.2f} {t / n * 1e3:>11.2f} {e / n * 1e3:>10.2f}")
        print(f"{'ratio':<22} {ours_gpu / today_gpu:>11.3f} {ours / today:>11.3f} {ours_eval / today_eval:>10.3f}")
        print(f"{'no copy (off), ratio':<22} {off_gpu / today_gpu:>11.3f}   (decoded and resized on demand)")
        print(f"input_pipeline: {n:,} images at {args.size} px, one core, a GPU trial's training input: prepared "
              f"{ours_gpu / n * 1e3:.2f} ms/img vs files {today_gpu / n * 1e3:.2f} (a CPU trial's: ratio "
              f"{ours / today:.3f}); the copy pays for itself after {prep_s / max(today_gpu - ours_gpu, 1e-9):.1f} "
              f"epochs; ratio {ours_gpu / today_gpu:.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
