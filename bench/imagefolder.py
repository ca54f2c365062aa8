"""imagefolder over 10,000 small image files: the time to build the benchmark (list, check every
header, hold out val/test), and training images/s through lpft's loader (workers=auto) against
a plain torchvision ImageFolder + DataLoader reading the same files in the same run.

    python bench/imagefolder.py [--images 10000] [--size 32] [--batch 64] [--epochs 2]

Both arms use the same transform (RandomResizedCrop + flip at --size, normalise), batch size,
worker count and a small conv net's training step, so the ratio is the loader's own cost.
Target: lpft / torchvision >= 0.9.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn


def write_images(root: Path, n: int, classes: int = 10, size: int = 40) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        c = i % classes
        folder = root / "train" / f"class{c:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(rng.normal(25 * c, 30, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.{'jpg' if i % 2 else 'png'}")


def net(classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, classes))


def train_epochs(batches, epochs: int) -> float:
    """Images per second over `epochs` passes of `batches()` with one SGD step per batch."""
    torch.manual_seed(0)
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    seen, start = 0, time.perf_counter()
    for epoch in range(epochs):
        for x, y in batches(epoch):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(y)
    return seen / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()

    from torchvision import datasets
    from torchvision import transforms as T

    from lpft.data import load_benchmark
    from lpft.data.loading import Inputs, batches
    from lpft.trial import resolve_workers

    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        t = time.perf_counter()
        write_images(root, args.images)
        print(f"wrote {args.images:,} images in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        bench = load_benchmark("imagefolder", root=str(root), image_size=args.size, n_val=500, n_test=500)
        build_s = time.perf_counter() - t
        workers = resolve_workers("auto", bench)
        print(f"imagefolder built in {build_s:.2f} s ({len(bench.train):,} train images, {bench.num_classes} "
              f"classes; every header read); workers=auto -> {workers} on {torch.get_num_threads()} threads")

        train = bench.train
        inputs = Inputs(mean, std)
        gen = torch.Generator().manual_seed(0)
        ours = train_epochs(lambda _: batches(train, inputs, bench, args.batch, train=True, generator=gen,
                                              workers=workers), args.epochs)

        tf = T.Compose([T.RandomResizedCrop(args.size), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
        folder = datasets.ImageFolder(str(root / "train"), transform=tf)
        keep = torch.utils.data.Subset(folder, range(len(train)))  # as many images as lpft trains on
        loader = torch.utils.data.DataLoader(keep, batch_size=args.batch, shuffle=True, num_workers=workers,
                                             generator=torch.Generator().manual_seed(0))
        theirs = train_epochs(lambda _: loader, args.epochs)
    print(f"training images/s over {args.epochs} epochs: lpft {ours:,.0f}, torchvision ImageFolder + DataLoader "
          f"{theirs:,.0f}; ratio {ours / theirs:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
