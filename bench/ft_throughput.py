"""FT training throughput: lpft's training loop against a plain PyTorch loop, in one run.

Both train the same timm model (random weights) on the same synthetic uint8 images held
in memory, with the same batch size, SGD with momentum and a cosine schedule, the same
shuffling and the same AMP setting (bfloat16 autocast on a GPU). lpft's side is
`lpft.strategies.training.sgd_train` (what `ft` trials run, Ray aside); the plain side is
the loop one would write by hand. Each side runs twice, interleaved, and keeps its best
epoch after the first (warm-up); prints images/s of both and lpft/plain (target >= 0.95).
Needs only torch, timm and numpy, so it runs on a bare GPU machine.

    python bench/ft_throughput.py --model resnet50 --size 224 --batch 64 --images 4096 --amp   # GPU
    python bench/ft_throughput.py --model test_resnet --size 64 --images 256 --device cpu       # smoke
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lpft.data.base import Benchmark, Split
from lpft.models.backbone import build_backbone
from lpft.models.classifier import Classifier
from lpft.strategies.ft import FTParams
from lpft.strategies.training import autocast, sgd_train


@dataclass(frozen=True)
class Params:
    images: int


def make_benchmark(n: int, size: int, classes: int = 10) -> Benchmark:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
    y = rng.integers(0, classes, n).astype(np.int64)
    tiny = {name: Split(x[:8], y[:8], role) for name, role in
            (("id_val", "id_val"), ("id_test", "id_test"), ("ood", "ood"))}
    return Benchmark("throughput", Params(n), {"id_train": Split(x, y, "id_train"), **tiny}, classes, ("", ""))


def lpft_loop(bench: Benchmark, model_name: str, batch: int, epochs: int, amp: bool, device: str) -> list[float]:
    backbone = build_backbone(model_name, "none", bench)
    model = Classifier.for_backbone(backbone, bench.num_classes)
    hp = FTParams(lr=0.01, epochs=epochs, batch_size=batch, amp=amp, eval_every=epochs)
    log = sgd_train(model, backbone, bench, hp, device)
    assert log.status == "completed", log.status
    return log.epoch_seconds


def plain_loop(bench: Benchmark, model_name: str, batch: int, epochs: int, amp: bool, device: str) -> list[float]:
    import timm

    torch.manual_seed(0)
    model = timm.create_model(model_name, num_classes=bench.num_classes).to(device)
    cfg = timm.data.resolve_data_config({}, model=model)
    mean = torch.tensor(cfg["mean"], device=device).view(1, -1, 1, 1)
    std = torch.tensor(cfg["std"], device=device).view(1, -1, 1, 1)
    x_all, y_all = torch.from_numpy(bench.train.x), torch.from_numpy(bench.train.y)
    steps = math.ceil(len(y_all) / batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(y_all), generator=gen).split(batch):
            x = (x_all[idx].to(device).float() / 255.0 - mean) / std
            with autocast(device, amp):
                loss = nn.functional.cross_entropy(model(x), y_all[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # both sides: fixed input size
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    bench = make_benchmark(args.images, args.size)
    best = {"lpft": 0.0, "plain": 0.0}
    for _ in range(2):
        for name, loop in (("plain", plain_loop), ("lpft", lpft_loop)):
            times = loop(bench, args.model, args.batch, args.epochs, args.amp, args.device)
            rate = args.images / min(times[1:])
            best[name] = max(best[name], rate)
            print(f"{name:5s} epochs {', '.join(f'{t:.2f}' for t in times)} s -> {rate:.1f} images/s", flush=True)
    print(f"{args.model} {args.size}px batch {args.batch} amp={args.amp} on {args.device}: "
          f"lpft {best['lpft']:.1f} images/s, plain {best['plain']:.1f} images/s, "
          f"ratio {best['lpft'] / best['plain']:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
