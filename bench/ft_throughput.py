"""FT training throughput: lpft's training loop against a plain PyTorch loop, in one run.

Both train the same timm model (random weights) on the same synthetic uint8 images held
in memory, with the same batch size, SGD with momentum and a cosine schedule, the same
shuffling, and the same precision, memory format and compilation: bfloat16 autocast and
channels-last on a GPU as lpft's defaults (`--no-amp`, `--no-channels-last` turn them off on
both sides), `--compile` for torch.compile on both. lpft's side is
`lpft.strategies.training.sgd_train` (what `ft` trials run, Ray aside); the plain side is the
loop one writes well by hand (uint8 to the GPU, normalised there, non-blocking copies). Each
side runs twice, interleaved, and keeps its best epoch after the first (warm-up). Prints
images/s of both, lpft/plain (target >= 0.95), and the fraction of the GPU's dense bf16 peak
that lpft's rate implies: training FLOPs per image (3x the forward pass's, counted by
torch's FlopCounterMode) x images/s / peak (`--peak-tflops`, else from the card's name).
Needs only torch, timm and numpy, so it runs on a bare GPU machine.

    python bench/ft_throughput.py --model resnet50 --size 224 --batch 64 --images 4096          # GPU
    python bench/ft_throughput.py --model resnet50 --size 224 --batch 64 --images 4096 --compile
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


# Dense bfloat16 tensor-core peaks (NVIDIA's data sheets, without sparsity), by a name's part.
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100 PCIe": 756.0, "H100 NVL": 835.5, "H100": 989.4, "GH200": 989.4,
                    "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10G": 70.0, "A10": 125.0}


@dataclass(frozen=True)
class Setup:
    amp: bool
    channels_last: bool
    compile: bool


def peak_tflops(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def train_flops_per_image(model_name: str, size: int, classes: int) -> float:
    """3x the forward pass's FLOPs (the backward pass is about twice the forward)."""
    import timm
    from torch.utils.flop_counter import FlopCounterMode

    model = timm.create_model(model_name, num_classes=classes).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    return 3.0 * counter.get_total_flops()


def lpft_loop(bench: Benchmark, model_name: str, batch: int, epochs: int, setup: Setup, device: str) -> list[float]:
    backbone = build_backbone(model_name, "none", bench)
    model = Classifier.for_backbone(backbone, bench.num_classes)
    hp = FTParams(lr=0.01, epochs=epochs, batch_size=batch, amp=setup.amp, channels_last=setup.channels_last,
                  torch_compile=setup.compile, eval_every=epochs)
    log = sgd_train(model, backbone, bench, hp, device)
    assert log.status == "completed", log.status
    return log.epoch_seconds


def plain_loop(bench: Benchmark, model_name: str, batch: int, epochs: int, setup: Setup, device: str) -> list[float]:
    import timm

    torch.manual_seed(0)
    cuda = device.startswith("cuda")
    layout = torch.channels_last if cuda and setup.channels_last else torch.contiguous_format
    model = timm.create_model(model_name, num_classes=bench.num_classes).to(device, memory_format=layout)
    step_model = torch.compile(model) if cuda and setup.compile else model
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
            x = ((x_all[idx].to(device, non_blocking=True).float() / 255.0 - mean) / std).contiguous(
                memory_format=layout)
            with autocast(device, setup.amp):
                loss = nn.functional.cross_entropy(step_model(x), y_all[idx].to(device, non_blocking=True))
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
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast on a GPU")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--compile", action="store_true", help="torch.compile on both sides (GPU)")
    ap.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak (default: from its name)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    setup = Setup(args.amp, args.channels_last, args.compile)
    peak = args.peak_tflops
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # both sides: fixed input size
        name = torch.cuda.get_device_name()
        peak = peak or peak_tflops(name)
        print(f"device: {name}, torch {torch.__version__}, dense bf16 peak {peak or '?'} TFLOPS")
    bench = make_benchmark(args.images, args.size)
    flops = train_flops_per_image(args.model, args.size, bench.num_classes)
    best = {"lpft": 0.0, "plain": 0.0}
    for _ in range(2):
        for name, loop in (("plain", plain_loop), ("lpft", lpft_loop)):
            times = loop(bench, args.model, args.batch, args.epochs, setup, args.device)
            rate = args.images / min(times[1:])
            best[name] = max(best[name], rate)
            print(f"{name:5s} epochs {', '.join(f'{t:.2f}' for t in times)} s -> {rate:.1f} images/s", flush=True)
    achieved = flops * best["lpft"] / 1e12
    share = f"{achieved:.0f} TFLOPS, {achieved / peak:.0%} of the bf16 peak" if peak else f"{achieved:.2f} TFLOPS"
    print(f"{args.model} {args.size}px batch {args.batch} amp={args.amp} channels_last={args.channels_last} "
          f"compile={args.compile} on {args.device}: {flops / 1e9:.1f} GFLOP per training image; "
          f"lpft {best['lpft']:.1f} images/s ({share}), plain {best['plain']:.1f} images/s, "
          f"ratio {best['lpft'] / best['plain']:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
