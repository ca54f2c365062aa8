"""The paper's image transforms, parameterised by size.

Training, where a benchmark augments: RandomResizedCrop(size) + horizontal flip.
Evaluation (and feature extraction, and training without augmentation):
Resize(resize) + CenterCrop(size), with resize = round(size * 256 / 224) by default.
Both end with ToTensor and the backbone's own normalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a spec names transforms without torch; build() imports torchvision
    import torch
    from PIL import Image


@dataclass(frozen=True)
class ImageTransforms:
    size: int = 224
    resize: int = 0  # 0: round(size * 256 / 224), the usual 0.875 crop
    augment: bool = True

    @property
    def resize_to(self) -> int:
        return self.resize or round(self.size * 256 / 224)

    @property
    def key(self) -> str:
        """What feature extraction depends on (the eval transform): part of the cache key."""
        return f"resize{self.resize_to}-crop{self.size}"

    def sizes(self, size: int | None = None) -> tuple[int, int]:
        """(crop, resize): `size` (a backbone's own input size) replaces the benchmark's, the resize scaled with it."""
        crop = size or self.size
        return crop, self.resize_to if size is None else round(self.resize_to * size / self.size)

    def build(self, mean: tuple[float, ...], std: tuple[float, ...], train: bool,
              size: int | None = None) -> Callable[[Image.Image], torch.Tensor]:
        """`size` (a backbone's own input size) replaces the benchmark's, the resize scaled with it."""
        from torchvision import transforms as T

        crop, resize = self.sizes(size)
        if train and self.augment:
            head = [T.RandomResizedCrop(crop), T.RandomHorizontalFlip()]
        else:
            head = [T.Resize(resize), T.CenterCrop(crop)]
        return T.Compose([*head, T.ToTensor(), T.Normalize(mean, std)])
