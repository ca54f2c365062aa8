"""`blobs`: Gaussian class blobs in 8 dimensions; the OOD set is shifted along every axis."""

from dataclasses import dataclass

import numpy as np

from lpft.data.base import Benchmark, Split
from lpft.data.registry import register


@dataclass(frozen=True)
class BlobsParams:
    n: int = 120
    shift: float = 0.5
    seed: int = 0


@register("blobs", BlobsParams)
def build(p: BlobsParams) -> Benchmark:
    rng = np.random.default_rng(p.seed)
    centres = rng.normal(0, 3, (3, 8))

    def split(n: int, role: str, shift: float = 0.0) -> Split:
        y = rng.integers(0, 3, n)
        return Split(centres[y] + rng.normal(0, 1, (n, 8)) + shift, y.astype(np.int64), role)

    splits = {"id_train": split(p.n, "id_train"), "id_val": split(p.n // 2, "id_val"),
              "id_test": split(p.n // 2, "id_test"), "shifted": split(p.n // 2, "ood", p.shift)}
    return Benchmark("blobs", p, splits, 3, default_backbone=("linear", "benchmark"),
                     pretrained={"weight": np.eye(8)})
