"""Batches of (inputs, labels) tensors from any split: the one way models see data.

Array splits (synthetic, digits) are indexed in memory and normalised as the model's `Inputs` say.
ImageSource splits go through a torch DataLoader, pinned memory when the target is a GPU: images
resized as the eval transform's first step (`Resize(resize)`) come from the node's prepared
copy of the files (`lpft.data.prepared`, decoded and resized once) or, when that is off or does
not fit, are decoded and resized in worker processes: the same pixels either way; then uint8
crops (`lpft.data.crops`), normalised as a batch on the device. Training order and
augmentation come from the caller's generator only, so a run is the same for any number of
workers, with or without the copy, and resumes exactly: each batch's random crops are seeded
from (epoch seed, its position).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from lpft.data.base import Benchmark, Split
from lpft.data.crops import PreparedImages
from lpft.data.images import FileSource
from lpft.data.prepared import Decoded, prepared
from lpft.errors import InputError


@dataclass(frozen=True)
class Inputs:
    """What a model wants its inputs to be: image normalisation (None for vector inputs) and dtype.
    A backbone gives its own (`Backbone.inputs`); the data side needs nothing else of it."""

    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    dtype: torch.dtype = torch.float32
    size: int | None = None  # the image size the model needs, when not the benchmark's image_size

    def tensor(self, x: np.ndarray | torch.Tensor, device: str = "cpu") -> torch.Tensor:
        """uint8 images -> normalised float tensor on `device`; float vectors pass through.

        The uint8 batch moves first, so a GPU gets a quarter of the bytes and normalises it.
        """
        t = torch.as_tensor(x).to(device, non_blocking=True)
        if self.mean is None:
            return t.to(self.dtype)
        mean = torch.tensor(self.mean, device=t.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=t.device).view(1, -1, 1, 1)
        # (x / 255 - mean) / std, ToTensor's and Normalize's arithmetic, in place: a third of the
        # memory traffic of the expression (a CPU batch of 64 at 224 px: 13 ms, not 60)
        return t.to(torch.float32, copy=True).div_(255.0).sub_(mean).div_(std)


def order(n: int, batch_size: int, generator: torch.Generator | None) -> list[np.ndarray]:
    """Index batches: shuffled by `generator` (training) or in order; batch_size 0 = one batch."""
    if batch_size == 0 or batch_size >= n:
        return [np.arange(n)]  # full batch: the order within it does not matter
    idx = torch.randperm(n, generator=generator).numpy() if generator is not None else np.arange(n)
    return [idx[i:i + batch_size] for i in range(0, n, batch_size)]


def batches(split: Split, inputs: Inputs, benchmark: Benchmark, batch_size: int, *,
            train: bool = False, generator: torch.Generator | None = None, device: str = "cpu",
            workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yields (x, y) on `device`. With `train`, shuffles and augments from `generator`."""
    gen = generator if train else None
    if isinstance(split.x, np.ndarray):  # split.is_array
        y_all = torch.from_numpy(split.y)
        for idx in order(len(split), batch_size, gen):
            yield inputs.tensor(split.x[idx], device), y_all[idx].to(device)
        return
    if benchmark.transforms is None or inputs.mean is None:
        raise InputError(f"benchmark {benchmark.name!r} has image files but no transforms or image backbone")
    assert inputs.std is not None  # set with mean (Backbone.inputs)
    idx_batches = order(len(split), batch_size or len(split), gen)
    if train and benchmark.transforms.augment:
        base = int(torch.randint(0, 2**62, (1,), generator=gen))
        starts = np.cumsum([0] + [len(b) for b in idx_batches])
        items = [[(int(i), base + int(start) + j) for j, i in enumerate(b)] for b, start in zip(idx_batches, starts)]
    else:
        items = [[(int(i), -1) for i in b] for b in idx_batches]
    cuda = device.startswith("cuda")
    crop, resize = benchmark.transforms.sizes(inputs.size)
    copy = prepared(split.x, resize, benchmark.name, benchmark.fingerprint, workers) \
        if isinstance(split.x, FileSource) else None
    # The node's decoded copy, or the same pixels decoded on demand: uint8 crops either way,
    # normalised as a batch on the device
    pixels = copy if copy is not None else Decoded(split.x, resize)
    loader = DataLoader(PreparedImages(pixels, split.y, crop), batch_sampler=items, num_workers=workers,
                        pin_memory=cuda, persistent_workers=False)
    try:
        for x, y in loader:
            yield inputs.tensor(x, device).to(inputs.dtype), y.to(device, non_blocking=cuda)
    except InputError as e:  # from a worker process, torch wraps it with the worker's traceback: its last line
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        raise InputError(lines[-1].split("InputError: ", 1)[-1] if len(lines) > 1 else str(e)) from None
