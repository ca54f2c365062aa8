"""Tiny copies of the paper's datasets in their real on-disk formats, for the loader tests.

Every image has a bright bar across the top-left (wider than tall) on a dark background
and a label-dependent colour, so a test can check orientation (a transposed, flipped or
mirrored read moves or turns the bar) and that labels travel with their images.
"""

from __future__ import annotations

import csv
import itertools
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
STL_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def picture(label: int, size: int) -> np.ndarray:
    """(size, size, 3) uint8: dark, tinted by label, a white bar over the top quarter, left half."""
    img = np.zeros((size, size, 3), np.uint8)
    img[..., 0] = 20 + 8 * (label % 10)
    img[..., 2] = 20 + 8 * (label // 10 % 10)
    img[: size // 4, : size // 2] = 255
    return img


def corner_is_top_left(img: np.ndarray) -> bool:
    """img (H, W, 3): the bar is where `picture` drew it (not transposed, flipped or mirrored)."""
    q = img.shape[0] // 8
    bright = img[:q, 2 * q:3 * q].mean()  # inside the bar
    dark = [img[2 * q:3 * q, :q].mean(), img[-q:, -q:].mean(), img[:q, -q:].mean()]  # where a bad read puts it
    return all(bright > d + 100 for d in dark)


def save_image(path: Path, label: int, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture(label, size)).save(path, quality=95)


# CIFAR-10: python pickles with bytes keys, rows of 3072 bytes in CHW order.
def write_cifar10(root: Path, per_class_per_batch: int = 2, test_per_class: int = 2) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def batch(n_per_class: int) -> dict:
        labels = [c for c in range(10) for _ in range(n_per_class)]
        data = np.stack([picture(c, 32).transpose(2, 0, 1).reshape(-1) for c in labels])
        return {b"batch_label": b"x", b"labels": labels, b"data": data, b"filenames": [b"f"] * len(labels)}

    for i in range(1, 6):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(per_class_per_batch), f, protocol=2)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch(test_per_class), f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_vis": 3072}, f, protocol=2)
    return root


# STL-10: test_X.bin is uint8 images stored column-major (C, W, H); test_y.bin labels 1..10.
def write_stl10(root: Path, per_class: int = 2) -> list[int]:
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    labels = [c for c in range(10) for _ in range(per_class)]
    data = np.stack([picture(c, 96).transpose(2, 1, 0) for c in labels])
    data.tofile(folder / "test_X.bin")
    (np.array(labels, np.uint8) + 1).tofile(folder / "test_y.bin")
    (folder / "class_names.txt").write_text("\n".join(STL_CLASSES) + "\n")
    return labels


def write_cifar101(root: Path, n: int = 20) -> np.ndarray:
    root.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n) % 10
    np.save(root / "cifar10.1_v6_data.npy", np.stack([picture(int(c), 32) for c in labels]))
    np.save(root / "cifar10.1_v6_labels.npy", labels.astype(np.int64))
    return labels


# BREEDS: a small WordNet-like hierarchy above ImageNet class folders.
# entity (root, level 0) -> physical (1) -> object (2) -> whole (3) -> living thing n00004258 (4)
#   -> 3 level-5 superclasses, each 2 groups x 2 leaves; plus a 2-leaf one (too small for Living-17)
# whole (3) -> artifact (4) -> 2 level-5 nodes of 4 leaves (not living: Living-17 must skip them)
def write_breeds(root: Path, train_per_class: int = 3, val_per_class: int = 2) -> dict:
    edges, names, leaves = [], {}, []
    chain = ["n00001740", "n00001930", "n00002684", "n00003553", "n00004258"]
    for p, c in itertools.pairwise(chain):
        edges.append((p, c))
    names.update({"n00001740": "entity", "n00004258": "living thing", "n03000000": "artifact"})
    edges.append(("n00003553", "n03000000"))
    counter = iter(range(10_000_000, 10_001_000))
    supers = {}

    def node(parent: str, label: str) -> str:
        wnid = f"n{next(counter):08d}"
        edges.append((parent, wnid))
        names[wnid] = label
        return wnid

    def superclass(parent: str, label: str, groups: int, per_group: int) -> None:
        s = node(parent, label)
        supers[s] = []
        for g in range(groups):
            grp = node(s, f"{label} group {g}")
            for k in range(per_group):
                leaf = node(grp, f"{label} breed {g}.{k}")
                leaves.append(leaf)
                supers[s].append(leaf)

    for label in ("dog", "cat", "bird"):
        superclass("n00004258", label, 2, 2)
    superclass("n00004258", "rare", 1, 2)
    for label in ("car", "boat"):
        superclass("n03000000", label, 2, 2)
    info = root / "BREEDS-Benchmarks" / "imagenet_class_hierarchy" / "modified"
    info.mkdir(parents=True)
    (info / "dataset_class_info.json").write_text(json.dumps([[i, w, names[w], []] for i, w in enumerate(leaves)]))
    (info / "class_hierarchy.txt").write_text("\n".join(f"{p} {c}" for p, c in edges) + "\n")
    (info / "node_names.txt").write_text("\n".join(f"{w}\t{n}" for w, n in names.items()) + "\n")
    for i, leaf in enumerate(leaves):
        for k in range(train_per_class):
            save_image(root / "train" / leaf / f"{leaf}_{k}.JPEG", i)
        for k in range(val_per_class):
            save_image(root / "val" / leaf / f"ILSVRC2012_val_{i:04d}{k}.JPEG", i)
    return {"supers": supers, "names": names, "leaves": leaves}


# DomainNet: <domain>/<class>/<file>.jpg and SENTRY_splits/<domain>_<split>_mini.txt lists.
def write_domainnet(root: Path, classes: tuple[str, ...] = ("airplane", "apple", "axe"), per_class: int = 3) -> None:
    lists = root / "SENTRY_splits"
    lists.mkdir(parents=True)
    for domain in ("sketch", "real", "painting", "clipart"):
        for split in ("train", "test"):
            lines = []
            for label, name in enumerate(classes):
                for k in range(per_class):
                    rel = f"{domain}/{name}/{domain}_{split}_{label}_{k}.jpg"
                    save_image(root / rel, label)
                    lines.append(f"{rel} {label}")
            (lists / f"{domain}_{split}_mini.txt").write_text("\n".join(lines) + "\n")


# WILDS FMoW: fmow_v1.1/rgb_metadata.csv, country_code_mapping.csv, images/rgb_img_<row>.png.
FMOW_COUNTRIES = {"USA": "Americas", "BRA": "Americas", "NGA": "Africa", "FRA": "Europe", "JPN": "Asia"}


def write_fmow(root: Path, categories: tuple[str, ...] = ("airport", "dam", "park")) -> list[dict]:
    folder = root / "fmow_v1.1"
    (folder / "images").mkdir(parents=True)
    with open(folder / "country_code_mapping.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["alpha-3", "region"])
        w.writerows(FMOW_COUNTRIES.items())
    rows = []
    for split, year in (("train", 2010), ("val", 2011), ("test", 2012), ("val", 2014), ("test", 2017), ("seq", 2010)):
        for country in FMOW_COUNTRIES:
            for _label, cat in enumerate(categories):
                rows.append({"split": split, "img_filename": f"{cat}_{len(rows)}.jpg", "category": cat,
                             "country_code": country, "timestamp": f"{year}-06-01T10:00:00Z", "cloud_cover": 0})
    with open(folder / "rgb_metadata.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for i, r in enumerate(rows):
        Image.fromarray(picture(categories.index(r["category"]), 24)).save(folder / "images" / f"rgb_img_{i}.png")
    return rows


# ImageNet and its OOD sets as ImageFolder trees (ImageNet-V2 folders are class indices).
def write_imagenet(root: Path, wnids: tuple[str, ...] = ("n01440764", "n01443537", "n01484850", "n01491361"),
                   per_class: int = 3) -> Path:
    for i, w in enumerate(wnids):
        for k in range(per_class):
            save_image(root / "imagenet" / "train" / w / f"{w}_{k}.JPEG", i)
            save_image(root / "imagenet" / "val" / w / f"val_{i}_{k}.JPEG", i)
            save_image(root / "imagenetv2-matched-frequency-format-val" / str(i) / f"{k}.jpeg", i)
            save_image(root / "sketch" / w / f"sketch_{k}.JPEG", i)
    for i, w in enumerate(wnids[:2]):  # R and A cover a subset of the classes
        for k in range(per_class):
            save_image(root / "imagenet-r" / w / f"r_{k}.jpg", i)
            save_image(root / "imagenet-a" / w / f"a_{k}.jpg", i)
    return root / "imagenet"
