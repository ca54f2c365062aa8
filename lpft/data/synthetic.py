"""The paper's Section 3 setting as k-class classification (Kumar et al., 2022).

Ground-truth features B* (orthonormal rows) and head V* label x by argmax(V* B* x).
The "pretrained" extractor is B0 = B* + eps * noise: eps sets feature quality.
ID inputs lie in a random subspace S of R^d; OOD inputs are isotropic in R^d, so
fine-tuning (whose gradients on B lie in S) leaves B0's error outside S untouched
while distorting the features inside S to fit a head that started wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lpft.data.base import Benchmark, Split
from lpft.data.registry import register
from lpft.errors import InputError

# Every worker builds the benchmark in its own memory: a size alone, or all of them together,
# that would not fit a node is refused (d=10^8 grew to 23 GB before the OOM killer; classes=10^8
# was an allocation traceback).
MAX_SIZE = 10_000_000
MAX_BYTES = 16 << 30


@dataclass(frozen=True)
class SyntheticParams:
    eps: float = 0.1  # size of the pretrained extractor's error: feature quality
    d: int = 50  # input dimension
    k: int = 10  # feature dimension
    classes: int = 5
    id_dim: int = 20  # dimension of the ID subspace S
    n_train: int = 1000
    n_val: int = 1000
    n_test: int = 1000
    n_ood: int = 1000
    split_seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.id_dim < self.d:
            raise InputError(f"id_dim must be in (0, d={self.d}), got {self.id_dim}")
        if not 0 < self.k <= self.d:
            raise InputError(f"k must be in (0, d={self.d}], got {self.k}")
        if self.eps < 0:
            raise InputError(f"eps must be >= 0, got {self.eps}")
        for name in ("n_train", "n_val", "n_test", "n_ood", "classes", "d"):
            if not 1 <= getattr(self, name) <= MAX_SIZE:
                raise InputError(f"{name} must be in [1, {MAX_SIZE}], got {getattr(self, name)}")
        need = self.nbytes()
        if need > MAX_BYTES:
            raise InputError(f"d + classes = {self.d + self.classes} values in each of n_train + n_val + n_test + "
                             f"n_ood = {self.rows()} rows need ~{need / 2**30:.0f} GiB, over {MAX_BYTES >> 30} GiB: "
                             "lower them")

    def rows(self) -> int:
        return self.n_train + self.n_val + self.n_test + self.n_ood

    def nbytes(self) -> int:
        """The float64 arrays `build` makes, about: each split's inputs (and an ID split's draw in
        S), its logits for the labels, and the bases."""
        return 8 * (self.rows() * (self.d + self.id_dim + self.classes) + self.d * (self.k + self.id_dim)
                    + self.classes * self.k)


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A rows x cols matrix with orthonormal rows (rows <= cols)."""
    q, _ = np.linalg.qr(rng.standard_normal((cols, rows)))
    return q.T


@register("synthetic", SyntheticParams)
def build(p: SyntheticParams) -> Benchmark:
    rng = np.random.default_rng(p.split_seed)
    b_star = _orthonormal(rng, p.k, p.d)
    v_star = rng.standard_normal((p.classes, p.k))
    # Noise entries are N(0, eps^2/k): each input direction's features move by a vector of
    # expected norm eps, while B*'s columns carry only sqrt(k/d) (0.45). So eps = 0.1 is good
    # features and eps = 1 is poor ones, where fine-tuning should win everywhere.
    b0 = b_star + p.eps * rng.standard_normal((p.k, p.d)) / np.sqrt(p.k)
    basis = _orthonormal(rng, p.id_dim, p.d).T  # d x id_dim, columns span S

    def split(n: int, role: str, iso: bool) -> Split:
        x = rng.standard_normal((n, p.d)) if iso else rng.standard_normal((n, p.id_dim)) @ basis.T
        y = np.argmax(x @ b_star.T @ v_star.T, axis=1)
        return Split(x, y.astype(np.int64), role)  # float64: FT's B-only-in-S holds to ~1e-15

    splits = {
        "id_train": split(p.n_train, "id_train", False),
        "id_val": split(p.n_val, "id_val", False),
        "id_test": split(p.n_test, "id_test", False),
        "ood": split(p.n_ood, "ood", True),
    }
    return Benchmark(
        name="synthetic",
        params=p,
        splits=splits,
        num_classes=p.classes,
        default_backbone=("linear", "benchmark"),
        head_bias=False,
        pretrained={"weight": b0},
        truth={"b_star": b_star, "v_star": v_star, "id_basis": basis},
        strategy_defaults={
            # Full-batch gradient descent, no weight decay: exactly the paper's two-layer linear model.
            "ft": {"lr": 0.3, "epochs": 300, "batch_size": 0, "wd": 0.0, "eval_every": 10},
            "lpft": {"lr": 0.01, "epochs": 300, "batch_size": 0, "wd": 0.0, "eval_every": 10},
        },
    )
