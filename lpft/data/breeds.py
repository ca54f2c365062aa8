"""`living17` and `entity30`: BREEDS subpopulation shifts built from ImageNet.

Reads ImageNet's `train/<wnid>/` and `val/<wnid>/` folders and the BREEDS hierarchy
files (`dataset_class_info.json`, `class_hierarchy.txt`, `node_names.txt`, from
MadryLab/BREEDS-Benchmarks `imagenet_class_hierarchy/modified`). The superclasses and
the source/target subclass split follow the BREEDS construction (robustness library's
`make_living17` / `make_entity30`, split "rand", seed 2), reimplemented here on plain
dicts: level 5 under `n00004258` (living thing) with 4 subclasses each for Living-17,
level 4 with 8 subclasses each for Entity-30.

Roles (as the paper's code): ID train = ImageNet train images of the source subclasses,
less `n_val` held out as ID val; ID test = their ImageNet val images; OOD (`target`) =
the ImageNet val images of the target subclasses. The label is the superclass.
"""

from __future__ import annotations

import json
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

ROOT_WNID = "n00001740"  # entity
HIERARCHY_FILES = ("dataset_class_info.json", "class_hierarchy.txt", "node_names.txt")
INFO_SUBDIR = "BREEDS-Benchmarks/imagenet_class_hierarchy/modified"


class Hierarchy:
    """The WordNet graph above ImageNet's classes, restricted to ancestors of those classes."""

    def __init__(self, info_dir: Path, name: str) -> None:
        for f in HIERARCHY_FILES:
            need(info_dir / f, name, f"the BREEDS hierarchy file {f}")
        info = json.loads((info_dir / "dataset_class_info.json").read_text())
        self.leaves = [c[1] for c in info]
        self.leaf_set = set(self.leaves)
        self.names = {}
        for line in (info_dir / "node_names.txt").read_text().splitlines():
            if "\t" in line:
                wnid, label = line.split("\t", 1)
                self.names[wnid] = label
        parents: dict[str, set[str]] = {}
        for line in (info_dir / "class_hierarchy.txt").read_text().splitlines():
            if line.strip():
                p, c = line.split()
                parents.setdefault(c, set()).add(p)
        # Walk up from the leaves: only edges on some leaf's ancestry are kept.
        self.children: dict[str, set[str]] = {}
        todo = {n for n in self.leaves if n in parents}
        while todo:
            nxt = set()
            for w in todo:
                for p in parents.get(w, ()):
                    self.children.setdefault(p, set()).add(w)
                    nxt.add(p)
            todo = nxt
        self.level = self._levels()

    def successors(self, n: str) -> list[str]:
        return sorted(self.children.get(n, ()))

    def _levels(self) -> dict[str, int]:
        """Depth from the root along the longest path (BREEDS' convention)."""
        level: dict[str, int] = {}
        todo = [(ROOT_WNID, 0)]
        while todo:
            nxt: list[tuple[str, int]] = []
            for n, d in todo:
                if level.get(n, -1) >= d:
                    continue
                level[n] = d
                nxt.extend((c, d + 1) for c in self.successors(n))
            todo = nxt
        return level

    def descendants(self, n: str) -> set[str]:
        out, todo = {n}, [n]
        while todo:
            for c in self.successors(todo.pop()):
                if c not in out:
                    out.add(c)
                    todo.append(c)
        return out

    def leaves_under(self, n: str) -> list[str]:
        """ImageNet classes below `n`, not descending past a class (BREEDS' leaves_reachable)."""
        found, todo = set(), [n]
        while todo:
            nxt = []
            for w in todo:
                for c in self.successors(w):
                    (found.add(c) if c in self.leaf_set else nxt.append(c))
            todo = list(set(nxt))
        if n in self.leaf_set:
            found.add(n)
        return sorted(found)


def split_superclass(h: Hierarchy, wnid: str, n_sub: int, kind: str,
                     rng: np.random.RandomState) -> tuple[list[str], list[str]]:
    """Source and target subclasses of one superclass, n_sub / 2 each (BREEDS, balanced)."""
    desc = h.successors(wnid)
    while len(desc) == 1:
        desc = h.successors(desc[0])
    groups = {d: h.leaves_under(d) for d in desc}
    half = n_sub // 2
    if kind == "rand":
        pool = sorted(leaf for g in groups.values() for leaf in g)
        picked = list(rng.choice(pool, half * 2, replace=False))
        return picked[:half], picked[half:]
    source: list[str] = []
    target: list[str] = []
    spare: list[str] = []
    for _, g in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        ls, lt = len(source), len(target)
        if kind == "bad":  # similar subclasses land on the same side
            if ls <= lt and ls < half:
                spare.extend(g[half - ls:])
                source.extend(g[:half - ls])
            elif lt < half:
                spare.extend(g[half - lt:])
                target.extend(g[:half - lt])
        else:  # "good": similar subclasses are spread over both sides
            cut = (1 if ls < half else 0) if len(g) == 1 else min(len(g) // 2, half - ls)
            if ls < half:
                source.extend(g[:cut])
            if lt < half:
                target.extend(g[cut:cut + half - lt])
    if kind == "bad":
        source.extend(spare[:half - len(source)])
        target.extend(spare[:half - len(target)])
    return source, target


def breeds_split(h: Hierarchy, level: int, ancestor: str | None, n_sub: int, kind: str,
                 seed: int = 2) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """(superclasses, source subclasses per superclass, target subclasses per superclass)."""
    rng = np.random.RandomState(seed)
    valid = h.descendants(ancestor) if ancestor else None
    nodes = sorted(n for n, d in h.level.items() if d == level and (valid is None or n in valid))
    supers = [n for n in nodes if len(h.leaves_under(n)) >= n_sub]
    source, target = [], []
    for s in supers:
        a, b = split_superclass(h, s, n_sub, kind, rng)
        source.append(a)
        target.append(b)
    return supers, source, target


@dataclass(frozen=True)
class BreedsParams(ImageParams):
    info_dir: str = ""  # the hierarchy files; empty: <root>/BREEDS-Benchmarks/imagenet_class_hierarchy/modified
    split: str = "rand"  # BREEDS subclass split: rand | good | bad
    n_val: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.split not in ("rand", "good", "bad"):
            raise InputError(f"split must be rand, good or bad, got {quote(self.split)}")


def _images(folder: Path, groups: list[list[str]], name: str, what: str) -> tuple[list[Path], np.ndarray]:
    paths: list[Path] = []
    labels: list[int] = []
    for label, wnids in enumerate(groups):
        for wnid in wnids:
            files = list_images(need(folder / wnid, name, f"ImageNet {what} images of {wnid}"))
            paths.extend(files)
            labels.extend([label] * len(files))
    return paths, np.asarray(labels, dtype=np.int64)


def build_breeds(name: str, p: BreedsParams, level: int, ancestor: str | None, n_sub: int) -> Benchmark:
    root = data_root(p.root, name, "imagenet")
    info = expand(p.info_dir) if p.info_dir else root / INFO_SUBDIR
    h = Hierarchy(info, name)
    if ancestor is not None and ancestor not in h.level:
        raise InputError(f"{name}: the hierarchy in {info} has no node {ancestor}")
    supers, source, target = breeds_split(h, level, ancestor, n_sub, p.split)
    if not supers:
        raise InputError(f"{name}: the hierarchy in {info} has no level-{level} superclass "
                         f"with {n_sub} ImageNet subclasses")
    train_paths, train_y = _images(need(root / "train", name, "ImageNet's train folder"), source, name, "train")
    test_paths, test_y = _images(need(root / "val", name, "ImageNet's val folder (one folder per wnid)"),
                                 source, name, "val")
    ood_paths, ood_y = _images(root / "val", target, name, "val")
    splits = id_splits(FileSource(train_paths), train_y, FileSource(test_paths), test_y, p, name)
    splits["target"] = Split(FileSource(ood_paths), ood_y, "ood")
    read = [*(info / f for f in HIERARCHY_FILES), *train_paths, *test_paths, *ood_paths]
    return Benchmark(name=name, params=p, splits=splits, num_classes=len(supers),
                     default_backbone=("resnet50", "none"), transforms=ImageTransforms(p.image_size, 0, p.augment),
                     class_names=tuple(h.names.get(s, s) for s in supers),
                     strategy_defaults=fine_tuning_defaults(epochs=20, batch_size=64),
                     fingerprint=fingerprint({"root": root, "info_dir": info}, read, p.verify))


@register("living17", BreedsParams, folder="imagenet")
def living17(p: BreedsParams) -> Benchmark:
    return build_breeds("living17", p, level=5, ancestor="n00004258", n_sub=4)


@register("entity30", BreedsParams, folder="imagenet")
def entity30(p: BreedsParams) -> Benchmark:
    return build_breeds("entity30", p, level=4, ancestor=None, n_sub=8)
