"""`domainnet`: DomainNet sketch as ID; real, painting and clipart as OOD.

Reads DomainNet's domain folders and its split lists (`<path> <label>` per line, paths
relative to the root). With `classes: sentry` (the paper's 40-class version) the lists are
`SENTRY_splits/<domain>_<train|test>_mini.txt`; with `classes: full` (345 classes),
`<domain>_<train|test>.txt`. ID train/val come from the source domain's train list
(`n_val` held out), ID test is its test list, each OOD domain's test list is one OOD set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lpft.data.base import Benchmark, Split
from lpft.data.fingerprint import fingerprint
from lpft.data.images import FileSource
from lpft.data.layout import ImageParams, data_root, fine_tuning_defaults, id_splits, need, need_all
from lpft.data.registry import register
from lpft.data.transforms import ImageTransforms
from lpft.errors import InputError, quote

DOMAINS = ("clipart", "infograph", "painting", "quickdraw", "real", "sketch")
LISTS = {"sentry": "SENTRY_splits/{domain}_{split}_mini.txt", "full": "{domain}_{split}.txt"}


@dataclass(frozen=True)
class DomainNetParams(ImageParams):
    classes: str = "sentry"  # sentry (40 classes, the paper's) | full (345)
    source: str = "sketch"
    targets: str = "real,painting,clipart"  # comma-separated OOD domains
    n_val: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.classes not in LISTS:
            raise InputError(f"classes must be one of {', '.join(LISTS)}, got {quote(self.classes)}")
        for d in (self.source, *self.target_list):
            if d not in DOMAINS:
                raise InputError(f"domain {quote(d)} is not a DomainNet domain ({', '.join(DOMAINS)})")

    @property
    def target_list(self) -> list[str]:
        return [t.strip() for t in self.targets.split(",") if t.strip()]


def list_file(root: Path, p: DomainNetParams, domain: str, split: str) -> Path:
    return root / LISTS[p.classes].format(domain=domain, split=split)


def read_list(root: Path, p: DomainNetParams, domain: str, split: str) -> tuple[list[Path], np.ndarray, dict]:
    """(image paths, labels, {label: class name}) of one domain's split list."""
    path = need(list_file(root, p, domain, split), "domainnet", f"the {domain} {split} list")
    paths, labels, names = [], [], {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise InputError(f"domainnet: {path} line {n}: expected '<image path> <label>', got {quote(line)}")
        rel, label = parts[0], int(parts[1])
        paths.append(root / rel)
        labels.append(label)
        names[label] = Path(rel).parent.name
    need_all(paths, "domainnet", f"an image listed in {path.name}")
    return paths, np.asarray(labels, dtype=np.int64), names


@register("domainnet", DomainNetParams, folder="domainnet")
def build(p: DomainNetParams) -> Benchmark:
    root = data_root(p.root, "domainnet", "domainnet")
    train_paths, train_y, names = read_list(root, p, p.source, "train")
    test_paths, test_y, _ = read_list(root, p, p.source, "test")
    splits = id_splits(FileSource(train_paths), train_y, FileSource(test_paths), test_y, p, "domainnet")
    read = [list_file(root, p, p.source, "train"), list_file(root, p, p.source, "test"), *train_paths, *test_paths]
    for domain in p.target_list:
        paths, y, _ = read_list(root, p, domain, "test")
        splits[domain] = Split(FileSource(paths), y, "ood")
        read += [list_file(root, p, domain, "test"), *paths]
    num_classes = 40 if p.classes == "sentry" else 345
    if train_y.max() >= num_classes:
        raise InputError(f"domainnet: labels go up to {train_y.max()}, more than {num_classes} classes "
                         f"for classes={p.classes}")
    return Benchmark(name="domainnet", params=p, splits=splits, num_classes=num_classes,
                     default_backbone=("resnet50_clip", "none"),
                     transforms=ImageTransforms(p.image_size, 0, p.augment),
                     class_names=tuple(names.get(i, str(i)) for i in range(num_classes)),
                     strategy_defaults=fine_tuning_defaults(epochs=50, batch_size=32),
                     fingerprint=fingerprint({"root": root}, read, p.verify))
