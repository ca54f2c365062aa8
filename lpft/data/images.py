"""Lazy image sources: a split of a real dataset is read image by image, not held decoded.

`ArraySource` wraps decoded uint8 arrays a format ships as such (CIFAR pickles, STL-10
binaries, CIFAR-10.1 .npy); `FileSource` opens image files on demand (ImageNet, BREEDS,
DomainNet, FMoW). Both give PIL RGB images, which the benchmark's transforms turn into tensors.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

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

    def subset(self, idx: np.ndarray) -> ArraySource:
        return ArraySource(self.images[idx])


@contextmanager
def open_image(path: str) -> Iterator[Image.Image]:
    """An image file (or a storage URI such as s3://bucket/key) opened lazily; one InputError
    naming the file when it is not an image PIL can read."""
    try:
        if "://" in path:
            from lpft.storage import locate

            with Image.open(io.BytesIO(locate(path).read_bytes())) as img:
                yield img
        else:
            if os.path.exists(path) and not os.path.isfile(path):  # a pipe would block the open forever
                raise OSError("not a regular file")
            with Image.open(path) as img:
                yield img
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"unreadable image {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None


def to_rgb(img: Image.Image) -> Image.Image:
    """Greyscale, palette and RGBA images as RGB (a palette with transparency via RGBA)."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return img if img.mode == "RGB" else img.convert("RGB")


class FileSource:
    """Image files, opened and converted to RGB when read. A subset remembers the source it was
    taken from (`root`, and its `rows` there), so one prepared copy (`lpft.data.prepared`) of the
    files serves every split and every seed's draw taken from them."""

    def __init__(self, paths: Sequence[str | Path], root: FileSource | None = None,
                 rows: np.ndarray | None = None) -> None:
        self.paths = [str(p) for p in paths]
        self.root: FileSource = root if root is not None else self
        self.rows = rows

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> Image.Image:
        with open_image(self.paths[i]) as img:
            img.load()  # decode inside the context: a truncated file is named, not a traceback
            return to_rgb(img)

    def subset(self, idx: np.ndarray) -> FileSource:
        idx = np.asarray(idx, dtype=np.int64)
        rows = idx if self.rows is None else self.rows[idx]
        return FileSource([self.paths[i] for i in idx], self.root, rows)


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursively), sorted, so every node lists them in one order."""
    out: list[Path] = []
    for root, _, names in os.walk(folder):
        out.extend(Path(root) / n for n in names if n.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(out)
