"""What every benchmark returns: ID train/val/test and named OOD test sets."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lpft.data.images import ImageSource
from lpft.data.transforms import ImageTransforms
from lpft.errors import InputError, quote
from lpft.names import RULE, is_name


@dataclass
class Split:
    """Inputs and integer labels of one split.

    `x` is an array already at the model's input size (uint8 (N, 3, H, W) images or float
    (N, d) vectors), or an `ImageSource` of real images that the benchmark's transforms
    resize. `classes`, when set, is the label subset this eval set covers (ImageNet-R and
    -A have 200 of the 1,000 classes): predictions are the argmax over those classes only.
    """

    x: np.ndarray | ImageSource
    y: np.ndarray
    role: str  # "id_train", "id_val", "id_test" or "ood"
    classes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise InputError(f"split has {len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def is_array(self) -> bool:
        return isinstance(self.x, np.ndarray)


def predict(logits: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """Argmax over all classes, or over `classes` only (mapped back to full label ids)."""
    if classes is None:
        return np.argmax(logits, axis=1)
    return classes[np.argmax(logits[:, classes], axis=1)]


@dataclass
class Benchmark:
    """A distribution shift: `splits` holds id_train, id_val, id_test and one entry per OOD set."""

    name: str
    params: Any  # the benchmark's parameter dataclass
    splits: dict[str, Split]
    num_classes: int
    # The backbone the benchmark is meant for: (name, weights); overridable per run.
    default_backbone: tuple[str, str]
    # Per-strategy hyperparameter defaults suited to this benchmark's scale.
    strategy_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Whether the classification head has a bias (the paper's linear model has none).
    head_bias: bool = True
    # Benchmark-owned pretrained weights (the synthetic B0), keyed by parameter name.
    pretrained: dict[str, np.ndarray] = field(default_factory=dict)
    # Benchmark-owned ground truth for analyses and tests (e.g. synthetic B*, the ID subspace).
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    # How ImageSource splits become tensors; None for array benchmarks (synthetic, digits).
    transforms: ImageTransforms | None = None
    class_names: tuple[str, ...] = ()
    # Of the files a benchmark read and their resolved roots (`lpft.data.fingerprint`): part of
    # `key`, so another LPFT_DATA, or any file added, removed or changed, is another benchmark to
    # every cache. Empty for benchmarks that read no user files (synthetic, packaged digits).
    fingerprint: str = ""
    # What a user should know about how it was built (an OOD set scored over a class subset,
    # skipped files): `lpft run` and the sweep's pre-flight print them.
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Eval set names become results rows the analysis reads back as names (frontier_<set>.png):
        # one it would refuse is refused here, before a sweep writes any.
        for name in self.splits:
            if not is_name(name):
                raise InputError(f"{self.name}: eval set {quote(name)}: must be {RULE} (it names the analysis's files)")

    @property
    def train(self) -> Split:
        return self.splits["id_train"]

    @property
    def eval_sets(self) -> dict[str, Split]:
        """Every split a model is scored on: ID val, ID test, then each OOD set."""
        return {k: s for k, s in self.splits.items() if s.role != "id_train"}

    @property
    def key(self) -> str:
        """A short digest of name, parameters and the files read (`fingerprint`): the benchmark's part
        of every cache key (features, LP heads)."""
        blob = json.dumps({"name": self.name, "params": asdict(self.params),
                           **({"files": self.fingerprint} if self.fingerprint else {})}, sort_keys=True)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
