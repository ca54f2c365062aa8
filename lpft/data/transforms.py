"""The paper's image transforms, parameterised by size.

Every image is first resized to shorter side `resize` (round(size * 256 / 224) by default),
once per node (`lpft.data.prepared`). Evaluation (and feature extraction, and training without
augmentation): CenterCrop(size). Training, where a benchmark augments: RandomResizedCrop(size)
+ horizontal flip (`lpft.data.crops`). Both end with the backbone's own normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass


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
