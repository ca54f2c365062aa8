"""Where a benchmark's files are, and one clear line when they are not.

A benchmark's `root` parameter names its folder; left empty, it is `$LPFT_DATA/<folder>`.
`~` and `$VARS` expand, so one spec serves a laptop and a cluster's shared file system.
Each check names the exact path it expected, and the error is an InputError (exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lpft.data.base import Split
from lpft.data.fingerprint import check_verify
from lpft.errors import InputError
from lpft.settings import PATH


def expand(path: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(path)))


def data_root(root: str, benchmark: str, folder: str) -> Path:
    """The benchmark's root folder from its `root` parameter or $LPFT_DATA/<folder>."""
    if root:
        path = expand(root)
    elif os.environ.get("LPFT_DATA"):
        path = Path(os.environ["LPFT_DATA"]) / folder
    else:
        raise InputError(f"{benchmark}: set root=PATH (the folder holding {folder}'s files) or LPFT_DATA")
    if not path.is_dir():
        raise InputError(f"{benchmark}: data root not found: {path}")
    return path


def need(path: Path, benchmark: str, what: str) -> Path:
    """`path` if it exists, else an InputError naming it and what it should hold."""
    if not path.exists():
        raise InputError(f"{benchmark}: expected {what} at {path}")
    return path


def need_all(paths: list[Path], benchmark: str, what: str) -> None:
    """Every listed file exists: a missing one fails now, not hours into training."""
    for p in paths:
        if not p.is_file():
            raise InputError(f"{benchmark}: expected {what} at {p}")


def holdout(n: int, n_val: int, seed: int, benchmark: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices: `n_val` of `n` examples drawn with `seed`, for the ID val split."""
    if not 0 < n_val < n:
        raise InputError(f"{benchmark}: n_val must be in [1, {n - 1}] for {n} training images, got {n_val}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def id_splits(train: Any, train_y: np.ndarray, test: Any, test_y: np.ndarray, p: ImageParams,
              benchmark: str) -> dict[str, Split]:
    """id_train and id_val (`p.n_val` held out of the training source), and id_test."""
    tr, va = holdout(len(train_y), p.n_val, p.split_seed, benchmark)
    return {
        "id_train": Split(train.subset(tr), train_y[tr], "id_train"),
        "id_val": Split(train.subset(va), train_y[va], "id_val"),
        "id_test": Split(test, test_y, "id_test"),
    }


def fine_tuning_defaults(epochs: int, batch_size: int) -> dict[str, dict[str, Any]]:
    """A benchmark's FT setup from the paper (SGD with momentum, cosine schedule, no weight
    decay). LP-FT and the other fine-tuning strategies take FT's (lpft.trial.strategy_defaults)."""
    return {"ft": {"epochs": epochs, "batch_size": batch_size, "wd": 0.0}}


# Pixels a side: every image is decoded and resized to this on every worker (a backbone's input
# is 224-518); 10^5 would be 30 GB per image.
MAX_IMAGE_SIZE = 1024


@dataclass(frozen=True)
class ImageParams:
    """What every real-image benchmark takes; each adds its own fields."""

    root: str = field(default="", metadata=PATH)  # a spec's relative root is its folder's
    image_size: int = 224
    augment: bool = True  # RandomResizedCrop + flip when training
    n_val: int = 1000  # ID val images held out of the training split
    split_seed: int = 0
    # How cached features know the files are the same (lpft.data.fingerprint): mtime (each file's
    # size and mtime) or content (a hash of its bytes, for storage whose mtimes cannot be trusted).
    verify: str = "mtime"

    def __post_init__(self) -> None:
        check_verify(self.verify)
        if not 8 <= self.image_size <= MAX_IMAGE_SIZE:
            raise InputError(f"image_size must be in [8, {MAX_IMAGE_SIZE}], got {self.image_size}")
        if self.n_val < 1:
            raise InputError(f"n_val must be >= 1, got {self.n_val}")
