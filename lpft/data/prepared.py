"""A node-local prepared copy of an image split: every file decoded and resized once, kept as
uint8 pixels in one memory-mapped file that every trial on the node reads.

Without it every epoch of every trial opens each JPEG again and crops it at full resolution
(bench/input_pipeline.py: ~2-4 ms an image on one core, most of it the decode). The copy holds
each image as the evaluation transform's first step leaves it, `Resize(resize)` (shorter side
`resize`, torchvision's own resize, RGB): evaluation then only centre-crops, so its inputs are
the same bytes as from the files, and training's random resized crops start from it.

One file per (listing, resize), in `$LPFT_CACHE/prepared/`:
`MAGIC`, a little-endian uint64 header length, a JSON header (the key, `n`, the pixel bytes,
the cache record that `lpft cache list` shows), then an (n, 3) int64 index (offset, height,
width) and the pixels. The key covers the files (`FileSource.listing_key`: their paths, and the
benchmark's fingerprint or each file's size and mtime), the resize and `FORMAT`, so a copy
from another listing is never read; a copy whose size is not what its header says (truncated)
is built again. Writers take a lock file, so workers of one node build a copy once and the
others wait for it; the copy is written to a temp file and renamed, so no reader sees half.

`LPFT_PREPARED_IMAGES` (a spec's `prepared_images`): `auto` (default: bounded by the free disk),
`off`, or a size (`200G`), the budget for all prepared copies on the node. A copy that would not
fit gives one line naming its size and the budget, and the trial decodes files as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import sys
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from lpft.atomic import atomic_file, one_builder
from lpft.cachedir import IMG_FORMAT as FORMAT
from lpft.cachedir import IMG_MAGIC as MAGIC
from lpft.cachedir import NODE_CACHE_ENV, entries, human, over_size, parse_size, read_header, remove, touch
from lpft.cachedir import PREPARED_ENV as ENV
from lpft.errors import InputError

if TYPE_CHECKING:
    from lpft.data.images import FileSource, ImageSource

SUFFIX = ".img"
HEADER = 4096  # bytes: magic, length and padded JSON, so the index and pixels are page-aligned
FREE_MARGIN = 1 << 30  # `auto` leaves this much of the disk free
# Per process, per source of files: decided once for each (resize, setting); let go with the benchmark.
_opened: weakref.WeakKeyDictionary[FileSource, dict[tuple[int, str], PreparedCopy | None]] = \
    weakref.WeakKeyDictionary()


class PreparedCopy:
    """Rows of a prepared file: `array(i)` is image i, (H, W, 3) uint8, read from the memory map."""

    def __init__(self, path: Path) -> None:
        self.path = path
        header, start = read_header(path)
        self.header = header
        n = int(header["n"])
        index = np.memmap(path, np.int64, "r", offset=start, shape=(n, 3))
        self.pixels = np.memmap(path, np.uint8, "r", offset=start + index.nbytes, shape=(int(header["bytes"]),))
        self.index = np.asarray(index)  # rows of it: `subset`

    def __len__(self) -> int:
        return len(self.index)

    def array(self, i: int) -> np.ndarray:
        offset, h, w = (int(v) for v in self.index[i])
        return self.pixels[offset:offset + h * w * 3].reshape(h, w, 3)

    def subset(self, rows: np.ndarray) -> PreparedCopy:
        out = PreparedCopy.__new__(PreparedCopy)
        out.path, out.header, out.pixels, out.index = self.path, self.header, self.pixels, self.index[rows]
        return out

    def __getstate__(self) -> dict[str, Any]:  # to a spawned worker: the path and rows, not the pixels
        return {"path": self.path, "index": self.index}

    def __setstate__(self, state: dict[str, Any]) -> None:
        whole = PreparedCopy(state["path"])
        self.path, self.header, self.pixels, self.index = whole.path, whole.header, whole.pixels, state["index"]


def budget() -> int | None:
    """The prepared copies' budget in bytes; None: `auto`; 0: `off`."""
    value = os.environ.get(ENV, "auto").strip().lower()
    if value in ("auto", ""):
        return None
    if value in ("off", "false", "0", "no"):
        return 0
    return parse_size(value, ENV)


def folder() -> Path:
    """The node's own cache root even when a sweep shares its feature cache (`feature_cache`):
    a prepared copy is read at memory speed or not worth having."""
    from lpft.data.cache import cache_root

    return Path(os.environ.get(NODE_CACHE_ENV) or cache_root()) / "prepared"


def prepared(source: FileSource, resize: int, name: str, fingerprint: str = "",
             workers: int = 0) -> PreparedCopy | None:
    """This split's prepared copy at shorter side `resize`: opened, or built once on this node;
    None when preparation is off or the copy would not fit (one line says so). The copy is of
    the files the split was taken from (`FileSource.root`: a held-out val and its train share
    one, and so do every seed's draws under resample_split); `fingerprint` is the benchmark's
    (`lpft.data.fingerprint`), the files' sizes and mtimes when it has none."""
    root, rows = source.root, source.rows
    said = (resize, os.environ.get(ENV, ""))  # the setting too: a process may change it
    decided = _opened.setdefault(root, {})
    if said not in decided:
        decided[said] = _open_or_build(root, resize, name, fingerprint, workers)
    copy = decided[said]
    if copy is None:
        return None
    touch(copy.path)  # in use: the least recently used copy is one no trial reads
    return copy if rows is None else copy.subset(rows)


def listing_key(source: FileSource, fingerprint: str) -> str:
    """The files, in order, and what they hold: the benchmark's fingerprint, or each one's size
    and mtime where it has none."""
    digest = hashlib.sha256(fingerprint.encode() + b"\0")
    for p in source.paths:
        digest.update(p.encode() + b"\0")
        if not fingerprint:
            st = os.stat(p) if "://" not in p else None
            digest.update(f"{st.st_size}:{st.st_mtime_ns}\0".encode() if st else b"-\0")
    return digest.hexdigest()


def _open_or_build(source: FileSource, resize: int, name: str, fingerprint: str,
                   workers: int) -> PreparedCopy | None:
    limit = budget()
    if limit == 0:
        return None
    try:
        files = listing_key(source, fingerprint)
    except OSError:  # a file gone: decoding it says which, in the benchmark's own words
        return None
    key = hashlib.sha256(json.dumps({"files": files, "resize": resize, "format": FORMAT, "versions": _versions()})
                         .encode()).hexdigest()[:20]
    path = folder() / f"{name}-{resize}px-{key}{SUFFIX}"
    copy = _valid(path, key)
    if copy is not None:
        return copy
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with one_builder(path.with_name(path.name + ".lock"),
                         f"lpft: {name}: waiting for another process on this node to finish the prepared copy "
                         f"({path.with_suffix('')})"):
            copy = _valid(path, key)  # another worker of this node built it while this one waited
            if copy is not None:
                return copy
            size = estimate(source, resize) + HEADER + 24 * len(source)
            if limit is not None and size <= limit:  # the node's least recently used copies make room
                remove(over_size(entries(path.parent.parent, describe=False, folders=("prepared",)), limit - size))
            # auto: half of what is free, so features, checkpoints and results still have room
            free = shutil.disk_usage(path.parent).free
            room = limit if limit is not None else free // 2
            if size > min(room, free - FREE_MARGIN):
                said = f"the budget {ENV}={human(limit)}" if limit is not None and limit < free - FREE_MARGIN \
                    else f"half the disk's {human(free)} free" if limit is None else f"the disk's {human(free)} free"
                print(f"lpft: {name}: a prepared copy of {len(source):,} images would take about {human(size)}, "
                      f"more than {said}; decoding the image files instead", file=sys.stderr)
                return None
            _build(source, resize, path, key, name, workers)
    except OSError as e:  # a read-only or full cache: the trial still runs, on the files
        print(f"lpft: {name}: no prepared copy ({e.strerror or e}); decoding the image files instead", file=sys.stderr)
        return None
    return _valid(path, key)


def _valid(path: Path, key: str) -> PreparedCopy | None:
    try:
        copy = PreparedCopy(path)
    except (OSError, ValueError, KeyError, TypeError):  # absent, truncated, or not one
        return None
    if copy.header.get("key") != key:  # a file put in place of another listing's
        return None
    touch(path)
    return copy


def _versions() -> dict[str, str]:
    """What decodes and resizes the pixels: another version may give other bytes."""
    import PIL
    import torchvision

    return {"Pillow": PIL.__version__, "torchvision": torchvision.__version__}


def resized_size(width: int, height: int, resize: int) -> tuple[int, int]:
    """(width, height) after torchvision's Resize(resize): the shorter side `resize`, the other
    rounded down as torchvision does."""
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(resize * long / short)
    return (resize, new_long) if width <= height else (new_long, resize)


def estimate(source: FileSource, resize: int, sample: int = 1000) -> int:
    """The copy's pixel bytes, from the headers of up to `sample` files evenly spread over the
    listing (no decoding), scaled to all with a 10% margin when sampled: reading a million
    headers one by one over a network file system would take longer than the build."""
    from lpft.data.images import open_image

    n = len(source.paths)
    picked = np.unique(np.linspace(0, n - 1, min(n, sample)).astype(np.int64)) if n else np.zeros(0, np.int64)
    total = 0
    for i in picked:
        with open_image(source.paths[int(i)]) as img:
            w, h = resized_size(*img.size, resize)
        total += w * h * 3
    return total if len(picked) == n else int(total * n / len(picked) * 1.1)


class Decoded(Dataset):
    """Image i decoded, RGB, resized as the eval transform's first step: what a prepared copy
    holds, made on demand (the builder's workers, and the trials when there is no copy, so a
    trial's inputs are the same with or without one)."""

    def __init__(self, source: ImageSource, resize: int) -> None:
        from torchvision import transforms as T

        self.source, self.resize = source, T.Resize(resize)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.array(i)

    def array(self, i: int) -> np.ndarray:
        return np.asarray(self.resize(self.source.load(i)), dtype=np.uint8)


def _one(img: Any) -> Any:  # batch_size=None: each image as it comes, not collated
    return img


def _build(source: FileSource, resize: int, path: Path, key: str, name: str, workers: int) -> None:
    import time

    start = time.perf_counter()
    n = len(source)
    index = np.zeros((n, 3), np.int64)
    loader: DataLoader[np.ndarray] = DataLoader(Decoded(source, resize), batch_size=None, num_workers=workers,
                        collate_fn=_one, prefetch_factor=8 if workers else None)
    with atomic_file(path) as f:
        # The header and index go first, but the byte count and offsets are known at the end:
        # written as placeholders of the same length, then again.
        f.write(_header_bytes(key, n, 0, name, resize))
        f.write(index.tobytes())
        offset = 0
        try:
            for i, decoded in enumerate(loader):
                img = np.ascontiguousarray(decoded)
                index[i] = (offset, img.shape[0], img.shape[1])
                f.write(img.tobytes())
                offset += img.size
        except InputError as e:  # from a worker process, torch wraps it with the worker's traceback: its last line
            lines = [ln for ln in str(e).splitlines() if ln.strip()]
            raise InputError(lines[-1].split("InputError: ", 1)[-1] if len(lines) > 1 else str(e)) from None
        f.seek(0)
        f.write(_header_bytes(key, n, offset, name, resize))
        f.write(index.tobytes())
    print(f"lpft: {name}: prepared {n:,} images at {resize} px once for this node ({human(offset)}, "
          f"{time.perf_counter() - start:.0f} s): {path}", file=sys.stderr)


def _header_bytes(key: str, n: int, nbytes: int, name: str, resize: int) -> bytes:
    header = {"format": FORMAT, "key": key, "n": n, "bytes": nbytes,
              "record": {"kind": "prepared images", "benchmark": name, "backbone": "-", "split": f"{n} images",
                         "detail": f"resize{resize}"}}
    text = json.dumps(header).encode()
    text += b" " * (HEADER - len(MAGIC) - 8 - len(text))  # one length for any byte count: rewritten in place
    if len(text) != HEADER - len(MAGIC) - 8:
        raise InputError(f"{name}: benchmark name too long for a prepared copy's header")
    return MAGIC + struct.pack("<Q", len(text)) + text
