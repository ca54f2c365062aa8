"""Image folders the imagefolder tests write: three classes told apart by brightness (so they
survive greyscale and JPEG), in every file format and mode a researcher's folder has."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("bright", "dark", "mid")  # sorted: labels 0, 1, 2
LEVEL = {"bright": 220, "dark": 30, "mid": 125}
# (extension, PIL mode): mixed-case extensions, greyscale, palette, RGBA
FORMATS = ((".jpg", "RGB"), (".PNG", "RGBA"), (".Jpeg", "L"), (".png", "P"), (".JPG", "RGB"), (".webp", "RGB"))


def image(cls: str, i: int, mode: str, size: int = 24) -> Image.Image:
    rng = np.random.default_rng(zlib.crc32(f"{cls}/{i}".encode()))  # the same files in every run
    base = LEVEL.get(cls, 90) + rng.integers(-6, 7, (size, size, 1)) + rng.integers(-4, 5, (1, 1, 3))
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    if mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(200)
    if mode == "P":  # an adaptive palette, as a real palette image has (the web palette would dither)
        return img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return img.convert(mode)


def write_set(folder: Path, per_class: int, classes: tuple[str, ...] = CLASSES, start: int = 0) -> list[Path]:
    written = []
    for cls in classes:
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(start, start + per_class):
            ext, mode = FORMATS[i % len(FORMATS)]
            path = folder / cls / f"img{i:03d}{ext}"
            image(cls, i, mode).save(path)
            written.append(path)
    return written


def write_tree(root: Path, per_class: int = 20, val: bool = True, test: bool = True) -> Path:
    """ROOT/train, optional val/ and test/, and two OOD sets: `sketch` (all classes) and
    `night` (two of the three)."""
    write_set(root / "train", per_class)
    if val:
        write_set(root / "val", 4, start=100)
    if test:
        write_set(root / "test", 4, start=200)
    write_set(root / "ood" / "sketch", 4, start=300)
    write_set(root / "ood" / "night", 4, classes=("bright", "dark"), start=400)
    return root
