"""`fmow`: satellite images of one set of regions as ID, other regions as OOD (WILDS FMoW).

Reads WILDS' `fmow_v1.1/` layout: `rgb_metadata.csv`, `country_code_mapping.csv` and
`images/rgb_img_<row>.png` (row = the image's row in the metadata). Splits follow WILDS'
`time_after_2016` scheme: ID train/val/test are the fMoW train/val/test rows before 2013;
the OOD rows are the fMoW test rows from 2016 on (`ood_split: test`) or the val rows of
2013-2015 (`ood_split: val`). The paper's region shift: ID = the `id_regions`
(Americas), each region in `ood_regions` is one OOD set. Class ids are the categories in
alphabetical order (WILDS' 62 classes). Images are 224 px already; no augmentation by default.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from lpft.data.base import Benchmark, Split
from lpft.data.fingerprint import fingerprint
from lpft.data.images import FileSource
from lpft.data.layout import ImageParams, data_root, fine_tuning_defaults, need, need_all
from lpft.data.registry import register
from lpft.data.transforms import ImageTransforms
from lpft.errors import InputError, quote

FOLDER = "fmow_v1.1"
TABLES = ("rgb_metadata.csv", "country_code_mapping.csv")
REGIONS = ("Asia", "Europe", "Africa", "Americas", "Oceania", "Other")
OOD_START, TEST_START = 2013, 2016


@dataclass(frozen=True)
class FmowParams(ImageParams):
    augment: bool = False
    id_regions: str = "Americas"
    ood_regions: str = "Africa,Europe"
    ood_split: str = "test"  # test: fMoW test rows from 2016; val: fMoW val rows of 2013-2015

    def __post_init__(self) -> None:
        super().__post_init__()
        for r in (*self.regions("id"), *self.regions("ood")):
            if r not in REGIONS:
                raise InputError(f"region {quote(r)} is not one of {', '.join(REGIONS)}")
        if self.ood_split not in ("test", "val"):
            raise InputError(f"ood_split must be test or val, got {quote(self.ood_split)}")

    def regions(self, which: str) -> list[str]:
        raw = self.id_regions if which == "id" else self.ood_regions
        return [r.strip() for r in raw.split(",") if r.strip()]


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"fmow: {path} has no column {missing[0]!r}")
        return list(reader)


@register("fmow", FmowParams, folder=FOLDER)
def build(p: FmowParams) -> Benchmark:
    root = data_root(p.root, "fmow", FOLDER)
    if (root / FOLDER).is_dir():  # WILDS' root_dir, holding fmow_v1.1/
        root = root / FOLDER
    meta = _rows(need(root / TABLES[0], "fmow", "WILDS FMoW metadata"),
                 ("split", "category", "country_code", "timestamp"))
    codes = _rows(need(root / TABLES[1], "fmow", "the country code to region table"),
                  ("alpha-3", "region"))
    region_of = {r["alpha-3"]: r["region"] for r in codes}
    classes = sorted({r["category"] for r in meta})
    label_of = {c: i for i, c in enumerate(classes)}

    def rows(splits: tuple[str, ...], years: tuple[int, int], regions: list[str]) -> list[int]:
        return [i for i, r in enumerate(meta)
                if r["split"] in splits and years[0] <= int(r["timestamp"][:4]) < years[1]
                and region_of.get(r["country_code"], "Other") in regions]

    def split(idx: list[int], role: str) -> Split:
        paths = [root / "images" / f"rgb_img_{i}.png" for i in idx]
        need_all(paths, "fmow", "an FMoW image")
        y = np.asarray([label_of[meta[i]["category"]] for i in idx], dtype=np.int64)
        return Split(FileSource(paths), y, role)

    before = (0, OOD_START)
    ood_years = (TEST_START, 10_000) if p.ood_split == "test" else (OOD_START, TEST_START)
    ids = p.regions("id")
    splits = {
        "id_train": split(rows(("train",), before, ids), "id_train"),
        "id_val": split(rows(("val",), before, ids), "id_val"),
        "id_test": split(rows(("test",), before, ids), "id_test"),
    }
    for region in p.regions("ood"):
        splits[region.lower()] = split(rows((p.ood_split,), ood_years, [region]), "ood")
    empty = [k for k, s in splits.items() if len(s) == 0]
    if empty:
        raise InputError(f"fmow: no images for split {empty[0]!r} in {root / 'rgb_metadata.csv'}")
    # every split's x is the FileSource `split` made
    read: list[str | Path] = [*(root / t for t in TABLES),
                              *(path for s in splits.values() for path in cast(FileSource, s.x).paths)]
    return Benchmark(name="fmow", params=p, splits=splits, num_classes=len(classes),
                     default_backbone=("resnet50", "none"), class_names=tuple(classes),
                     transforms=ImageTransforms(p.image_size, p.image_size, p.augment),
                     strategy_defaults=fine_tuning_defaults(epochs=50, batch_size=64),
                     fingerprint=fingerprint({"root": root}, read, p.verify))
