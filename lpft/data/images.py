"""Lazy image sources: a split of a real dataset is read image by image, not held decoded.

`ArraySource` wraps decoded uint8 arrays a format ships as such (CIFAR pickles, STL-10
binaries, CIFAR-10.1 .npy); `FileSource` opens image files on demand (ImageNet, BREEDS,
DomainNet, FMoW). Both give PIL RGB images, which the benchmark's transforms turn into tensors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from PIL import Image

from lpft.errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class ImageSource(Protocol):
    def __len__(self) -> int: ...

    def load(self, i: int) -> Image.Image: ...


class ArraySource:
    """Decoded uint8 images, (N, H, W, 3)."""

    def __init__(self, images: np.ndarray) -> None:
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise InputError(f"expected uint8 (N, H, W, 3) images, got {images.dtype} {images.shape}")
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def load(self, i: int) -> Image.Image:
        return Image.fromarray(self.images[i])

    def subset(self, idx: np.ndarray) -> "ArraySource":
        return ArraySource(self.images[idx])


class FileSource:
    """Image files, opened and converted to RGB when read."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [str(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> Image.Image:
        with Image.open(self.paths[i]) as img:
            return img.convert("RGB")

    def subset(self, idx: np.ndarray) -> "FileSource":
        return FileSource([self.paths[i] for i in idx])


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursively), sorted, so every node lists them in one order."""
    out = []
    for root, _, names in os.walk(folder):
        out.extend(Path(root) / n for n in names if n.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(out)
