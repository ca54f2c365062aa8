"""`imagenet`: ImageNet as ID; ImageNet-V2, -R, -Sketch and -A as OOD.

Reads ImageFolder trees: ImageNet `train/<wnid>/` and `val/<wnid>/` (the class order is
the sorted wnids of train/), ImageNet-V2 `imagenetv2-matched-frequency-format-val/<class
index>/`, and `imagenet-r/`, `sketch/` (ImageNet-Sketch), `imagenet-a/` with `<wnid>/`
folders. ImageNet-R and -A cover 200 classes: their eval sets score the argmax over those
200 classes only (the standard protocol). ID val is `n_val` images held out of train;
ID test is ImageNet val. Each OOD folder lives under `ood_root` (default: root's parent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lpft.data.base import Benchmark, Split
from lpft.data.fingerprint import fingerprint
from lpft.data.images import FileSource, list_images
from lpft.data.layout import ImageParams, data_root, expand, fine_tuning_defaults, id_splits, need
from lpft.data.registry import register
from lpft.data.transforms import ImageTransforms
from lpft.errors import InputError, quote

# eval set -> (folder under ood_root, folders named by wnid (else by class index))
OOD_SETS = {
    "imagenet_v2": ("imagenetv2-matched-frequency-format-val", False),
    "imagenet_r": ("imagenet-r", True),
    "imagenet_sketch": ("sketch", True),
    "imagenet_a": ("imagenet-a", True),
}


@dataclass(frozen=True)
class ImageNetParams(ImageParams):
    n_val: int = 10000
    ood_root: str = ""
    ood: str = "imagenet_v2,imagenet_r,imagenet_sketch,imagenet_a"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self.ood_list:
            if name not in OOD_SETS:
                raise InputError(f"ood set {quote(name)} is not one of {', '.join(OOD_SETS)}")

    @property
    def ood_list(self) -> list[str]:
        return [s.strip() for s in self.ood.split(",") if s.strip()]


def image_folder(folder: Path, label_of: dict[str, int], what: str) -> tuple[list[Path], np.ndarray]:
    """Images of an ImageFolder tree, labelled by `label_of[subfolder name]`."""
    need(folder, "imagenet", what)
    paths: list[Path] = []
    labels: list[int] = []
    for sub in sorted(d for d in folder.iterdir() if d.is_dir()):
        if sub.name not in label_of:
            raise InputError(f"imagenet: {sub} is not an ImageNet class folder ({what})")
        files = list_images(sub)
        paths.extend(files)
        labels.extend([label_of[sub.name]] * len(files))
    if not paths:
        raise InputError(f"imagenet: expected {what} (class folders of images) at {folder}")
    return paths, np.asarray(labels, dtype=np.int64)


@register("imagenet", ImageNetParams, folder="imagenet")
def build(p: ImageNetParams) -> Benchmark:
    root = data_root(p.root, "imagenet", "imagenet")
    train_dir = need(root / "train", "imagenet", "ImageNet's train folder")
    wnids = sorted(d.name for d in train_dir.iterdir() if d.is_dir())
    by_wnid = {w: i for i, w in enumerate(wnids)}
    train_paths, train_y = image_folder(train_dir, by_wnid, "ImageNet train images")
    test_paths, test_y = image_folder(root / "val", by_wnid, "ImageNet's val folder (one folder per wnid)")
    splits = id_splits(FileSource(train_paths), train_y, FileSource(test_paths), test_y, p, "imagenet")
    ood_root = expand(p.ood_root) if p.ood_root else root.parent
    read = [*train_paths, *test_paths]
    for name in p.ood_list:
        folder, named_by_wnid = OOD_SETS[name]
        label_of = by_wnid if named_by_wnid else {str(i): i for i in range(len(wnids))}
        paths, y = image_folder(ood_root / folder, label_of, name)
        read += paths
        present = np.unique(y)
        # A subset of classes (R, A): restrict the argmax to them, as their papers score.
        classes = present if len(present) < len(wnids) and name in ("imagenet_r", "imagenet_a") else None
        splits[name] = Split(FileSource(paths), y, "ood", classes=classes)
    return Benchmark(name="imagenet", params=p, splits=splits, num_classes=len(wnids),
                     default_backbone=("vit_base_patch16_clip_224", "none"), class_names=tuple(wnids),
                     transforms=ImageTransforms(p.image_size, 0, p.augment),
                     strategy_defaults=fine_tuning_defaults(epochs=10, batch_size=128),
                     fingerprint=fingerprint({"root": root, "ood_root": ood_root}, read, p.verify))
