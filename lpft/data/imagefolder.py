"""`imagefolder`: your own shift, from a folder of images or a manifest.

    ROOT/train/<class>/*.jpg|png|...    the classes are train's sorted folder names
    ROOT/val/<class>/...                optional; else n_val images held out of train (seeded)
    ROOT/test/<class>/...               optional ID test; else n_test held out of train
    ROOT/ood/<set>/<class>/...          one OOD eval set per folder under ood/

or a manifest (`manifest=FILE`, CSV or Parquet) with columns `path, label, split`, split one of
`train, val, test, ood:<name>`, paths relative to the manifest's folder (or absolute, or URIs
such as s3://bucket/key), so a dataset on a shared file system or in object storage needs no
copying. An OOD set may cover a subset of the classes: it is scored over its own classes only.
Every image's header is read when the benchmark is built: an unreadable file is one line naming
it, or with `skip_bad=true` it is left out and counted in the benchmark's notes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lpft.data.base import Benchmark, Split
from lpft.data.fingerprint import check_verify, fingerprint
from lpft.data.images import FileSource, open_image
from lpft.data.layout import ImageParams, data_root, expand, fine_tuning_defaults, holdout
from lpft.data.registry import register
from lpft.data.transforms import ImageTransforms
from lpft.data.walk import Walk
from lpft.errors import InputError, quote, require
from lpft.names import has_control
from lpft.settings import PATH

NAME = "imagefolder"
ID_SPLITS = ("train", "val", "test")

Entries = dict[str, list[tuple[str, str]]]  # split ("train", "val", "test", "ood:<set>") -> (path, class)


@dataclass(frozen=True)
class ImageFolderParams(ImageParams):
    manifest: str = field(default="", metadata=PATH)  # CSV or Parquet (path, label, split) instead of root
    n_val: int = 0  # without val/: images held out of train (0: a tenth, at least 1)
    n_test: int = 0  # without test/: images held out of train (0: a tenth, at least 1)
    skip_bad: bool = False  # leave unreadable images out (counted) instead of stopping
    max_files: int = 5_000_000  # files and folders the walk of root lists at most (a root of / stops)

    def __post_init__(self) -> None:
        check_verify(self.verify)
        require(self.image_size >= 8, f"image_size must be >= 8, got {self.image_size}")
        require(self.n_val >= 0, f"n_val must be >= 0, got {self.n_val}")
        require(self.n_test >= 0, f"n_test must be >= 0, got {self.n_test}")
        require(self.max_files >= 1, f"max_files must be >= 1, got {self.max_files}")


def scan_folder(root: Path, max_files: int) -> tuple[Entries, dict[str, str], list[str]]:
    """(entries, split -> its folder, train's class folder names, empty ones included); the
    walk lists regular files only, never leaves `root`, and stops after `max_files` entries."""
    train = root / "train"
    if not train.is_dir():
        raise InputError(f"{NAME}: expected class folders at {train} (ROOT/train/<class>/*.jpg)")
    walk = Walk(root, max_files, NAME)
    entries: Entries = {}
    sets = [(s, walk.inside(root / s)) for s in ID_SPLITS if (root / s).is_dir()]
    if walk.inside(root / "ood").is_dir():
        sets += [(f"ood:{d.name}", Path(d.path)) for d in walk.visible(root / "ood") if d.is_dir()]
    classes: list[str] = []
    for split, folder in sets:
        listed = walk.visible(folder)
        stray = [e.name for e in listed if not e.is_dir()]
        if stray:
            raise InputError(f"{NAME}: {folder / stray[0]}: images go in {folder}/<class>/, one folder per class")
        entries[split] = [(str(p), c.name) for c in listed for p in walk.images(Path(c.path))]
        if split == "train":
            classes = [c.name for c in listed]
    return entries, {split: str(folder) for split, folder in sets}, classes


def check_names(entries: Entries, where: str) -> None:
    """Every class and OOD set name one printable line: each is shown in messages and tables."""
    for split, rows in entries.items():
        for name in dict.fromkeys([split[4:]] * split.startswith("ood:") + [c for _, c in rows]):
            require(not has_control(name), f"{NAME}: {where}: the {split} name {quote(name)} holds a control "
                                           "character (a newline, a tab); rename it")


def check_classes(entries: Entries, classes: list[str], where: str) -> None:
    """At least two classes, each with training images: a classifier needs two classes, and a
    class never seen in training is never predicted."""
    require(not any(has_control(c) for c in classes), f"{NAME}: {where}: a class name holds a control character "
                                                      "(a newline, a tab); rename it")
    require(len(classes) >= 2, f"{NAME}: {where}: {len(classes)} class{'es' if len(classes) != 1 else ''} "
                               f"({', '.join(quote(c) for c in classes) or 'none'}); a classifier needs at least two")
    seen = {c for _, c in entries["train"]}
    empty = [c for c in classes if c not in seen]
    require(not empty, f"{NAME}: {where}: class {quote(empty[0]) if empty else ''} has no training images")


def read_manifest(path: Path) -> Entries:
    if not path.is_file():
        raise InputError(f"{NAME}: manifest not found: {path}")
    try:
        table = pq.read_table(path) if path.suffix.lower() == ".parquet" else pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types={"label": pa.string(), "path": pa.string()}))
        for column in ("path", "label", "split"):
            require(column in table.column_names, f"{NAME}: manifest {path}: column {column!r} is missing "
                                                  "(expected path, label, split)")
            table = table.set_column(table.schema.get_field_index(column), column,
                                     table.column(column).cast(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as e:
        raise InputError(f"{NAME}: manifest {path}: not a CSV or Parquet file of path, label, split "
                         f"({str(e).splitlines()[0]})") from None
    entries: Entries = {}
    for row, (rel, label, split) in enumerate(zip(*(table.column(c).to_pylist() for c in ("path", "label", "split"))),
                                              start=2):
        ok = split in ID_SPLITS or (isinstance(split, str) and split.startswith("ood:") and len(split) > 4)
        require(ok, f"{NAME}: manifest {path} row {row}: split {split!r} is not train, val, test or ood:<name>")
        require(bool(rel) and bool(label), f"{NAME}: manifest {path} row {row}: empty path or label")
        full = rel if "://" in rel or os.path.isabs(rel) else str(path.parent / rel)
        entries.setdefault(split, []).append((full, str(label)))
    require("train" in entries, f"{NAME}: manifest {path}: no rows with split train")
    return {k: sorted(v) for k, v in entries.items()}


def _readable(paths: list[str]) -> list[str | None]:
    """None for each image whose header opens, else the reason (read in threads: it is I/O)."""
    def check(p: str) -> str | None:
        try:
            with open_image(p):
                return None
        except InputError as e:
            return str(e)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(check, paths))


@dataclass
class Scan:
    entries: Entries
    classes: list[str]
    skipped: list[str]
    fingerprint: str  # of the root and every file read (lpft.data.fingerprint): part of every cache key


def scan(p: ImageFolderParams) -> Scan:
    """The listing, checked: classes, every set's classes within train's, every image readable."""
    if p.manifest:
        where = str(expand(p.manifest))
        entries = read_manifest(Path(where))
        folders = {split: f"{where} ({split} rows)" for split in entries}
        classes = sorted({c for _, c in entries["train"]})
        roots = {"manifest": Path(where).parent}
    else:
        roots = {"root": data_root(p.root, NAME, NAME)}
        entries, folders, classes = scan_folder(roots["root"], p.max_files)
    check_names(entries, where if p.manifest else str(roots["root"]))
    require(bool(entries["train"]), f"{NAME}: {folders['train']} holds no images (train/<class>/*.jpg)")
    for split, rows in entries.items():
        require(bool(rows), f"{NAME}: {folders[split]} holds no images")
        require(not split.startswith("ood:id_"), f"{NAME}: OOD set {split[4:]!r}: names starting id_ are ID splits")
        unknown = sorted({c for _, c in rows} - set(classes))
        if unknown:
            where = folders[split] if p.manifest else f"{folders[split]}/{unknown[0]}"
            raise InputError(f"{NAME}: {where}: class {unknown[0]!r} is not one of train's classes "
                             f"({', '.join(classes[:8])}{', ...' if len(classes) > 8 else ''})")
    paths = [path for rows in entries.values() for path, _ in rows]
    problems = dict(zip(paths, _readable(paths)))
    bad = [path for path, why in problems.items() if why]
    if bad and not p.skip_bad:
        raise InputError(f"{problems[bad[0]]} ({len(bad)} unreadable image{'s' if len(bad) > 1 else ''}; "
                         "skip_bad=true leaves them out)")
    entries = {k: [(path, c) for path, c in rows if not problems[path]] for k, rows in entries.items()}
    for split, rows in entries.items():  # what skip_bad left
        require(bool(rows), f"{NAME}: {folders[split]} holds no readable images (skip_bad left out all of them)")
    check_classes(entries, classes, folders["train"])  # after skip_bad, which may empty a class
    read = [path for rows in entries.values() for path, _ in rows]
    return Scan(entries, classes, bad, fingerprint(roots, [*read, *([where] if p.manifest else [])], p.verify))


def check(p: ImageFolderParams) -> list[str]:
    """The pre-flight before a sweep: the scan, and its notes."""
    return notes(scan(p), p)


def held_out(s: Scan, p: ImageFolderParams) -> tuple[int, int]:
    """(n_val, n_test) held out of train: 0 where the folder (or manifest) has its own."""
    tenth = max(1, len(s.entries["train"]) // 10)
    return (0 if "val" in s.entries else p.n_val or tenth, 0 if "test" in s.entries else p.n_test or tenth)


def notes(s: Scan, p: ImageFolderParams) -> list[str]:
    """What a user should know: classes, sizes, held-out splits, subset scoring, skipped files."""
    sizes = ", ".join(f"{k} {len(v)}" for k, v in s.entries.items())
    held = [f"{n} {name}" for name, n in zip(("val", "test"), held_out(s, p)) if n]
    out = [f"{NAME}: {len(s.classes)} classes; images: {sizes}" + (f" ({', '.join(held)} held out of train)"
                                                                      if held else "")]
    for split, rows in s.entries.items():
        covered = sorted({c for _, c in rows})
        if split.startswith("ood:") and len(covered) < len(s.classes):
            out.append(f"{NAME}: OOD set {split[4:]} covers {len(covered)} of {len(s.classes)} classes "
                       f"({', '.join(covered)}): it is scored over those only")
    if s.skipped:
        out.append(f"{NAME}: skipped {len(s.skipped)} unreadable images (skip_bad), e.g. {s.skipped[0]}")
    return out


def _holdout(n: int, counts: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices of n training images, `counts` = (n_val, n_test) held out
    (`layout.holdout` for each: test first, then val from the rest)."""
    n_val, n_test = counts
    require(n_val + n_test < n, f"{NAME}: holding out {n_val} val and {n_test} test images leaves no training "
                                f"images of {n}; add val/ or test/ folders or lower n_val/n_test")
    rest, test = holdout(n, n_test, seed, NAME) if n_test else (np.arange(n), np.arange(0))
    train, val = holdout(len(rest), n_val, seed + 1, NAME) if n_val else (np.arange(len(rest)), np.arange(0))
    return rest[train], rest[val], test


@register(NAME, ImageFolderParams, folder=NAME, check=check)
def build(p: ImageFolderParams) -> Benchmark:
    s = scan(p)
    label = {c: i for i, c in enumerate(s.classes)}

    def arrays(rows: list[tuple[str, str]]) -> tuple[list[str], np.ndarray]:
        return [r[0] for r in rows], np.array([label[r[1]] for r in rows], dtype=np.int64)

    paths, y = arrays(s.entries["train"])
    tr, va, te = _holdout(len(paths), held_out(s, p), p.split_seed)
    source = FileSource(paths)
    splits = {"id_train": Split(source.subset(tr), y[tr], "id_train")}
    for name, own, idx in (("id_val", "val", va), ("id_test", "test", te)):
        if own in s.entries:
            own_paths, own_y = arrays(s.entries[own])
            splits[name] = Split(FileSource(own_paths), own_y, name)
        else:
            splits[name] = Split(source.subset(idx), y[idx], name)
    for split in sorted(k for k in s.entries if k.startswith("ood:")):
        ood_paths, ood_y = arrays(s.entries[split])
        present = np.unique(ood_y)
        subset = present if len(present) < len(s.classes) else None
        splits[split[4:]] = Split(FileSource(ood_paths), ood_y, "ood", classes=subset)
    return Benchmark(NAME, p, splits, len(s.classes), default_backbone=("tf_efficientnet_lite0", "imagenet"),
                     strategy_defaults=fine_tuning_defaults(10, 32),
                     transforms=ImageTransforms(p.image_size, augment=p.augment), class_names=tuple(s.classes),
                     fingerprint=s.fingerprint, notes=tuple(notes(s, p)))
