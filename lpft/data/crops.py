"""The benchmark transforms on resized images (`lpft.data.prepared`: a node's copy, or decoded
on demand), as uint8 tensors.

Evaluation: the image is already `Resize(resize)`'s output, so `CenterCrop(size)` is all that
is left; with the normalisation `Inputs.tensor` applies to the uint8 batch, the model gets the
same numbers as torchvision's Resize, CenterCrop, ToTensor and Normalize on the CPU
(tests/test_prepared.py checks them equal). Training, from the resized image (as FFCV-style
pipelines do; before issue 28 the crop was taken at the file's full resolution):
torchvision's `RandomResizedCrop.get_params` and the flip's draw, in torchvision's order, from
the batch's seed (as `lpft.data.loading` seeds the file path), then the crop resized with
torch's antialiased bilinear uint8 kernel. Leaving the float conversion and normalisation to
the batch (on the GPU when the trial has one) is most of the saving besides the decode.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision import transforms as T  # a torch helper: `lpft.data` does not import this module at start

SCALE = (0.08, 1.0)  # torchvision's RandomResizedCrop defaults, which the file path uses
RATIO = (3.0 / 4.0, 4.0 / 3.0)


def center_crop(img: np.ndarray, size: int) -> torch.Tensor:
    """(3, size, size) uint8: torchvision's CenterCrop of an (H, W, 3) image (zero-padded when smaller)."""
    h, w = img.shape[:2]
    if h < size or w < size:
        return T.functional.center_crop(torch.from_numpy(np.array(img)).permute(2, 0, 1), [size, size])
    top, left = round((h - size) / 2.0), round((w - size) / 2.0)  # Python's round, as torchvision's
    return torch.from_numpy(np.array(img[top:top + size, left:left + size])).permute(2, 0, 1)


def random_crop(img: np.ndarray, size: int) -> torch.Tensor:
    """(3, size, size) uint8: a random resized crop and a random flip, drawn from torch's global
    generator as torchvision's RandomResizedCrop then RandomHorizontalFlip draw."""
    h, w = img.shape[:2]
    top, left, ch, cw = T.RandomResizedCrop.get_params(torch.empty(1, dtype=torch.uint8).expand(3, h, w),
                                                       list(SCALE), list(RATIO))
    region = torch.from_numpy(np.array(img[top:top + ch, left:left + cw])).permute(2, 0, 1)[None]
    out = F.interpolate(region, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    if torch.rand(1) < 0.5:
        out = out.flip(-1)
    return out


class Pixels(Protocol):
    def __len__(self) -> int: ...

    def array(self, i: int) -> np.ndarray: ...


class PreparedImages(Dataset):
    """Item (i, seed) -> (uint8 (3, size, size) image i, label i); seed < 0: the eval crop.

    A batch's random crops come from one seed, its first item's (`__getitems__`, which the
    DataLoader calls with a whole batch): a batch is made by one process in order, so the crops
    depend on the trial's seed and the batch's position only, for any number of workers.
    """

    def __init__(self, copy: Pixels, labels: np.ndarray, size: int) -> None:
        self.copy, self.labels, self.size = copy, labels, size

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, int]:
        return self.__getitems__([item])[0]

    def __getitems__(self, items: list[tuple[int, int]]) -> list[tuple[torch.Tensor, int]]:
        seed = items[0][1] if items else -1
        if seed < 0:
            return [(center_crop(self.copy.array(int(i)), self.size), int(self.labels[i])) for i, _ in items]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return [(random_crop(self.copy.array(int(i)), self.size), int(self.labels[i])) for i, _ in items]
