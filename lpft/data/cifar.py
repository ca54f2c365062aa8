"""`cifar10-stl` and `cifar10-cifar10.1`: CIFAR-10 as ID, STL-10 or CIFAR-10.1 as OOD.

Reads the published formats: CIFAR-10's python pickles (`cifar-10-batches-py/`),
STL-10's binaries (`stl10_binary/test_X.bin`, column-major 96x96), and CIFAR-10.1's
`cifar10.1_<version>_{data,labels}.npy`. STL-10 has `monkey` and lacks `frog`: monkey
images are dropped and the rest relabelled to CIFAR's class ids by name (car -> automobile).
ID val is `n_val` images held out of CIFAR's training batches; ID test is its test batch.
Images are upsampled to `image_size` (Resize then an exact centre crop), no augmentation
by default, as in the paper's CIFAR runs.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from lpft.data.base import Benchmark, Split
from lpft.data.fingerprint import fingerprint
from lpft.data.images import ArraySource
from lpft.data.layout import ImageParams, data_root, fine_tuning_defaults, id_splits, need
from lpft.data.registry import register
from lpft.data.transforms import ImageTransforms
from lpft.errors import InputError

CIFAR_DIR = "cifar-10-batches-py"
STL_DIR = "stl10_binary"
STL_CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
STL_TO_CIFAR_NAME = {"car": "automobile"}
CIFAR_FILES = ("batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
STL_FILES = ("class_names.txt", "test_X.bin", "test_y.bin")  # class_names.txt is optional


class _CifarUnpickler(pickle.Unpickler):
    """Only what CIFAR-10's published pickles hold: dicts, lists, bytes, numbers and numpy arrays.
    Any other global (os.system, a crafted reduce) is refused, so a tampered file cannot run code."""

    ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")})

    def find_class(self, module: str, name: str) -> type:  # pickle.Unpickler's signature
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: not part of the CIFAR-10 format")
        return super().find_class(module, name)


def _unpickle(path: Path, name: str) -> dict:
    need(path, name, "a CIFAR-10 python pickle")
    with open(path, "rb") as f:
        try:
            return _CifarUnpickler(f, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
                KeyError, OverflowError) as e:  # what a damaged or foreign pickle raises
            raise InputError(f"{name}: not a CIFAR-10 pickle: {path} ({e})") from None


def read_cifar10(root: Path, name: str) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """{'train': (images NHWC uint8, labels), 'test': ...} and the class names."""
    folder = need(root / CIFAR_DIR, name, "the CIFAR-10 python folder")
    meta = _unpickle(folder / CIFAR_FILES[0], name)
    classes = [c.decode() for c in meta[b"label_names"]]
    out = {}
    for split, files in (("train", CIFAR_FILES[1:6]), ("test", CIFAR_FILES[6:])):
        batches = [_unpickle(folder / f, name) for f in files]
        data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.concatenate([np.asarray(b[b"labels"], dtype=np.int64) for b in batches])
        out[split] = (np.ascontiguousarray(data), labels)
    return out, classes


def read_stl10_test(root: Path, name: str, cifar_classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """STL-10's test set without `monkey`, labels mapped to CIFAR-10's ids."""
    folder = need(root / STL_DIR, name, "the STL-10 binary folder")
    names_file = folder / "class_names.txt"
    stl_names = names_file.read_text().split() if names_file.is_file() else list(STL_CLASSES)
    raw = np.fromfile(need(folder / "test_X.bin", name, "STL-10 test images"), dtype=np.uint8)
    if raw.size % (3 * 96 * 96):
        raise InputError(f"{name}: {folder / 'test_X.bin'} is not a whole number of 3x96x96 images")
    # Stored column-major per image: (N, C, W, H) -> (N, H, W, C).
    images = raw.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)
    labels = np.fromfile(need(folder / "test_y.bin", name, "STL-10 test labels"), dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != len(images):
        raise InputError(f"{name}: {folder} has {len(images)} test images but {len(labels)} labels")
    to_cifar = np.array([cifar_classes.index(STL_TO_CIFAR_NAME.get(n, n)) if STL_TO_CIFAR_NAME.get(n, n)
                         in cifar_classes else -1 for n in stl_names])
    mapped = to_cifar[labels]
    keep = mapped >= 0
    return np.ascontiguousarray(images[keep]), mapped[keep]


def cifar101_files(root: Path, version: str) -> list[Path]:
    return [root / f"cifar10.1_{version}_{part}.npy" for part in ("data", "labels")]


def read_cifar101(root: Path, name: str, version: str) -> tuple[np.ndarray, np.ndarray]:
    data = need(cifar101_files(root, version)[0], name, "CIFAR-10.1 images (.npy)")
    labels = need(cifar101_files(root, version)[1], name, "CIFAR-10.1 labels (.npy)")
    x, y = np.load(data), np.load(labels).astype(np.int64)
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or len(x) != len(y):
        raise InputError(f"{name}: {data} must hold (N, 32, 32, 3) images matching {labels.name}")
    return x.astype(np.uint8), y


@dataclass(frozen=True)
class CifarParams(ImageParams):
    augment: bool = False
    n_val: int = 5000
    ood_root: str = ""  # the folder holding the OOD set's files; empty: the same as root


@dataclass(frozen=True)
class Cifar101Params(CifarParams):
    version: str = "v6"


def _cifar_benchmark(name: str, p: CifarParams, cifar: dict[str, tuple[np.ndarray, np.ndarray]],
                     classes: list[str], ood: dict[str, tuple[np.ndarray, np.ndarray]], roots: dict[str, Path],
                     ood_files: list[Path]) -> Benchmark:
    (x, y), (xt, yt) = cifar["train"], cifar["test"]
    splits = id_splits(ArraySource(x), y, ArraySource(xt), yt, p, name)
    splits.update({k: Split(ArraySource(a), b, "ood") for k, (a, b) in ood.items()})
    return Benchmark(name=name, params=p, splits=splits, num_classes=len(classes),
                     default_backbone=("resnet50", "none"), class_names=tuple(classes),
                     transforms=ImageTransforms(p.image_size, p.image_size, p.augment),
                     strategy_defaults=fine_tuning_defaults(epochs=20, batch_size=64),
                     fingerprint=fingerprint(roots, [*(roots["root"] / CIFAR_DIR / f for f in CIFAR_FILES), *ood_files],
                                             p.verify))


def _ood_root(p: CifarParams, name: str, folder: str) -> Path:
    return data_root(p.ood_root or p.root, name, folder)


@register("cifar10-stl", CifarParams, folder="cifar10")
def build_stl(p: CifarParams) -> Benchmark:
    roots = {"root": data_root(p.root, "cifar10-stl", "cifar10"), "ood_root": _ood_root(p, "cifar10-stl", "stl10")}
    cifar, classes = read_cifar10(roots["root"], "cifar10-stl")
    stl = read_stl10_test(roots["ood_root"], "cifar10-stl", classes)
    files = [f for f in (roots["ood_root"] / STL_DIR / n for n in STL_FILES) if f.is_file()]
    return _cifar_benchmark("cifar10-stl", p, cifar, classes, {"stl10": stl}, roots, files)


@register("cifar10-cifar10.1", Cifar101Params, folder="cifar10")
def build_cifar101(p: Cifar101Params) -> Benchmark:
    roots = {"root": data_root(p.root, "cifar10-cifar10.1", "cifar10"),
             "ood_root": _ood_root(p, "cifar10-cifar10.1", "cifar10.1")}
    cifar, classes = read_cifar10(roots["root"], "cifar10-cifar10.1")
    ood = read_cifar101(roots["ood_root"], "cifar10-cifar10.1", p.version)
    return _cifar_benchmark("cifar10-cifar10.1", p, cifar, classes, {"cifar10.1": ood}, roots,
                            cifar101_files(roots["ood_root"], p.version))
