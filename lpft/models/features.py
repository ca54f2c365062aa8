"""Feature extraction (eval mode, no grad, batched) and its on-disk cache.

Features are keyed by (initial-weights digest, benchmark + parameters, split,
transform), so every LP trial and every LP-FT head reuses one extraction.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from lpft.atomic import atomic_file
from lpft.data.base import Benchmark, Split
from lpft.data.cache import cache_root
from lpft.data.loading import batches
from lpft.models.backbone import Backbone


def atomic_save(path: Path, array: np.ndarray) -> None:
    with atomic_file(path) as f:
        np.save(f, array)


@torch.no_grad()
def extract(backbone: Backbone, benchmark: Benchmark, split: Split, batch_size: int = 256, device: str = "cpu",
            workers: int = 0, desc: str = "features", module: torch.nn.Module | None = None) -> np.ndarray:
    """Features of one split in eval mode (the eval transform, no augmentation); `module`
    replaces the backbone's own (a BatchNorm-adapted copy)."""
    module = (module or backbone.module).to(device)
    was_training = module.training
    module.eval()
    out = []
    total = -(-len(split) // batch_size)
    stream = batches(split, backbone.inputs, benchmark, batch_size, device=device, workers=workers)
    for x, _ in tqdm(stream, total=total, desc=desc, leave=False, disable=None):
        f = module(x)
        out.append((f if f.dtype == torch.float64 else f.float()).cpu().numpy())
    module.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, backbone.num_features))


def feature_key(backbone: Backbone, benchmark: Benchmark, split: str) -> str:
    transform = benchmark.transforms.key if benchmark.transforms is not None else ""
    blob = "|".join([backbone.digest, benchmark.key, split, backbone.transform_key + transform])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cached(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The array at `path`, or `compute()` written there once (atomically)."""
    if path.is_file():
        return np.load(path)
    array = compute()
    atomic_save(path, array)
    return array


def cached_features(backbone: Backbone, benchmark: Benchmark, device: str = "cpu",
                    root: Path | None = None, workers: int = 0) -> dict[str, np.ndarray]:
    """Features of every split, read from the cache or extracted once and written to it."""
    folder = (root or cache_root()) / "features"
    return {name: _cached(folder / f"{feature_key(backbone, benchmark, name)}.npy",
                          lambda split=split, name=name: extract(backbone, benchmark, split, device=device,
                                                                 workers=workers,
                                                                 desc=f"features {benchmark.name}/{name}"))
            for name, split in benchmark.splits.items()}


def adapted_features(backbone: Backbone, benchmark: Benchmark, device: str = "cpu", root: Path | None = None,
                     workers: int = 0) -> dict[str, np.ndarray]:
    """Every split's features after re-estimating the backbone's BatchNorm statistics on that
    split's own images (AdaBN; ID train's for the probe's training), cached like the plain ones."""
    from lpft.models.bn_adapt import adapt_bn

    def compute(name: str, split: Split) -> np.ndarray:
        module = adapt_bn(backbone.module, backbone, benchmark, split, device, workers)
        return extract(backbone, benchmark, split, device=device, workers=workers, module=module,
                       desc=f"adapted features {benchmark.name}/{name}")

    folder = (root or cache_root()) / "features"
    return {name: _cached(folder / f"{feature_key(backbone, benchmark, name)}-bnadapt.npy",
                          lambda name=name, split=split: compute(name, split))
            for name, split in benchmark.splits.items()}
