"""Feature extraction (eval mode, no grad, batched) and its on-disk cache.

Features are keyed by what they were made from: the initial weights' digest, the benchmark's
key (name, parameters, and for a file-based one the resolved roots and every file's
fingerprint, `lpft.data.fingerprint`), the split, the transform, and EXTRACTION_VERSION; so
every LP trial and every LP-FT head reuses one extraction, and no other data can answer.
Each entry carries the key it was made for (`cached_array`): a copied or misnamed file, or
one whose rows are not the split's, is extracted again with one line on stderr saying why.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lpft.atomic import atomic_file, one_builder
from lpft.cachedir import evict, touch
from lpft.data.base import Benchmark, Split
from lpft.data.cache import cache_root
from lpft.data.loading import batches
from lpft.models.backbone import Backbone

# Bump when extraction gives other numbers for the same weights, images and transform (eval
# mode, batching, the output dtype): every cached feature array is then made again.
EXTRACTION_VERSION = 2


def cached_array(path: Path, record: dict[str, str], rows: int, compute: Callable[[], np.ndarray],
                 wait: bool = True) -> np.ndarray:
    """The array at `path` if it was made for `record` (its "key"; "for" names it in messages)
    and has `rows` rows; else `compute()`, written there whole with `record` inside the same
    file, so the key travels with the array however the file is copied. One process of a node
    computes it while the others that need it wait, then read it; with `wait=False` (a caller
    that has the array in hand) one that finds another making it returns `compute()` unwritten."""
    array, _ = _stored(path, record, rows)
    if array is not None:
        return array
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only cache: one_builder runs unlocked, the write says why it fails
        pass
    with one_builder(path.with_name(path.name + ".lock"),
                     f"lpft: cache: waiting for another process on this node to finish {record['for']}",
                     wait) as mine:
        if not mine:
            return compute()
        array, why = _stored(path, record, rows)  # another process may have made it while this one waited
        if array is not None:
            return array
        if why:
            print(f"lpft: cache: rebuilding {path}: {why}", file=sys.stderr, flush=True)
        array = compute()
        with atomic_file(path) as f:
            np.savez(f, array=array, record=np.frombuffer(json.dumps(record, sort_keys=True).encode(), np.uint8))
    evict(path)
    return array


def _stored(path: Path, record: dict[str, str], rows: int) -> tuple[np.ndarray | None, str | None]:
    """(the array, None) if `path` holds `record`'s with `rows` rows; else (None, why it cannot
    be used), why None when there is no file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            stored = json.loads(z["record"].tobytes())
            if stored.get("key") != record["key"]:
                return None, f"it was made for {stored.get('for', '?')} (key {stored.get('key')}), not this key"
            shape = _stored_shape(z)  # from the header: a wrong-sized entry (10 GB at ImageNet's scale) is not read
            if not shape or shape[0] != rows:
                return None, f"it holds {shape[0] if shape else 0} rows, {record['for']} has {rows}"
            touch(path)
            return z["array"], None
    except FileNotFoundError:  # no entry (or `lpft cache prune` removed it just now)
        return None, None
    except Exception as e:  # noqa: BLE001 (truncated, another format, no record: make it again)
        return None, f"unreadable ({type(e).__name__}: {e})"


def _stored_shape(z: np.lib.npyio.NpzFile) -> tuple[int, ...]:
    """The stored array's shape, from its .npy header alone (numpy writes versions 1.0 and 2.0 for
    plain arrays); from the array itself for another version."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    assert z.zip is not None  # open: np.load's context
    with z.zip.open("array.npy") as f:
        reader = readers.get(np.lib.format.read_magic(f))
        if reader is not None:
            return tuple(reader(f)[0])
    return z["array"].shape


@torch.no_grad()
def extract(backbone: Backbone, benchmark: Benchmark, split: Split, batch_size: int = 256, device: str = "cpu",
            workers: int = 0, desc: str = "features", module: torch.nn.Module | None = None) -> np.ndarray:
    """Features of one split in eval mode (the eval transform, no augmentation); `module`
    replaces the backbone's own (a BatchNorm-adapted copy)."""
    module = (module or backbone.module).to(device)
    was_training = module.training
    module.eval()
    out = []
    total = -(-len(split) // batch_size)
    stream = batches(split, backbone.inputs, benchmark, batch_size, device=device, workers=workers)
    for x, _ in tqdm(stream, total=total, desc=desc, leave=False, disable=None):
        f = module(x)
        out.append((f if f.dtype == torch.float64 else f.float()).cpu().numpy())
    module.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, backbone.num_features))


def feature_key(backbone: Backbone, benchmark: Benchmark, split: str, variant: str = "") -> str:
    """`variant`: "" for plain features, "bnadapt" for BatchNorm-adapted ones."""
    transform = benchmark.transforms.key if benchmark.transforms is not None else ""
    blob = json.dumps({"version": EXTRACTION_VERSION, "weights": backbone.digest, "benchmark": benchmark.key,
                       "split": split, "transform": backbone.transform_key + transform, "variant": variant},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _features(folder: Path, backbone: Backbone, benchmark: Benchmark, name: str, variant: str,
              compute: Callable[[], np.ndarray]) -> np.ndarray:
    key = feature_key(backbone, benchmark, name, variant)
    kind = f"{variant + ' ' if variant else ''}features"
    what = f"{kind} of {benchmark.key}/{name} ({backbone.name}, {backbone.digest})"
    record = {"key": key, "for": what, "kind": kind, "benchmark": benchmark.key, "backbone": backbone.name,
              "split": name, "detail": f"weights {backbone.digest[:8]}"}
    return cached_array(folder / f"{key}.npz", record, len(benchmark.splits[name]), compute)


def cached_features(backbone: Backbone, benchmark: Benchmark, device: str = "cpu",
                    root: Path | None = None, workers: int = 0) -> dict[str, np.ndarray]:
    """Features of every split, read from the cache or extracted once and written to it."""
    folder = (root or cache_root()) / "features"
    return {name: _features(folder, backbone, benchmark, name, "",
                            partial(extract, backbone, benchmark, split, device=device, workers=workers,
                                    desc=f"features {benchmark.name}/{name}"))
            for name, split in benchmark.splits.items()}


def adapted_features(backbone: Backbone, benchmark: Benchmark, device: str = "cpu", root: Path | None = None,
                     workers: int = 0) -> dict[str, np.ndarray]:
    """Every split's features after re-estimating the backbone's BatchNorm statistics on that
    split's own images (AdaBN; ID train's for the probe's training), cached like the plain ones."""
    from lpft.models.bn_adapt import adapt_bn

    def compute(name: str, split: Split) -> np.ndarray:
        module = adapt_bn(backbone.module, backbone, benchmark, split, device, workers)
        return extract(backbone, benchmark, split, device=device, workers=workers, module=module,
                       desc=f"adapted features {benchmark.name}/{name}")

    folder = (root or cache_root()) / "features"
    return {name: _features(folder, backbone, benchmark, name, "bnadapt",
                            partial(compute, name, split))
            for name, split in benchmark.splits.items()}
