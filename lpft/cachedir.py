"""What lpft's cache holds, and keeping it bounded: `lpft cache list|du|prune|clear` and the
`cache_max_size` eviction.

The cache root (`LPFT_CACHE`, `lpft.data.cache.cache_root`) has four folders lpft writes:
`features/` and `heads/` (`lpft.models.features.cached_array`: an array with the record of
what it was made for), `benchmarks/` (`lpft.data.cache`: a built benchmark's arrays and
JSON) and `prepared/` (`lpft.data.prepared`: decoded images, `*.img`, whose header holds the
record). Only files lpft writes there are touched: `*.npz` and `*.img` entries, `*.npy` ones from before
entries carried their key (never read now), and temp files (`.*.tmp`) a killed writer left;
a root pointed at the wrong folder (a home directory) loses nothing else.

An entry's last use is its mtime: a cache hit sets it (`touch`), so least recently used is
oldest mtime, on any file system, without atime. Removing an entry is safe while trials
read the cache: a reader that has the file open keeps reading it (POSIX unlink), one that
has not yet opened it finds no entry and makes it again, and writers replace files whole
(`lpft.atomic`); a temp file younger than an hour may be a write in progress and is left.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lpft.errors import InputError, quote

FOLDERS = ("features", "heads", "benchmarks", "prepared")
STALE_TEMP_S = 3600  # a temp file this old was left by a killed writer; a younger one may be a write
MAX_SIZE_ENV = "LPFT_CACHE_MAX_SIZE"
PREPARED_ENV = "LPFT_PREPARED_IMAGES"  # lpft.data.prepared: auto, off or a budget
NODE_CACHE_ENV = "LPFT_NODE_CACHE"  # the node's own cache root, where a shared feature_cache replaces LPFT_CACHE
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
         "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
         "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
IMG_MAGIC = b"LPFTPREP"  # a prepared image copy (lpft.data.prepared): this, a header length, a JSON header
IMG_FORMAT = 1  # bump when how images are prepared or stored changes
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Entry:
    path: Path
    kind: str  # features, bnadapt features, LP head, benchmark, old unread, unreadable, partial write
    benchmark: str
    backbone: str
    split: str
    detail: str  # what else tells entries apart: the weights' digest, an LP head's C path and seed
    size: int
    last_use: float  # the file's mtime: set by every cache hit

    @property
    def removable(self) -> bool:
        """Not a temp file that may be a write in progress."""
        return self.kind != "partial write" or time.time() - self.last_use > STALE_TEMP_S


def parse_size(text: str | int, field: str = "size") -> int:
    """Bytes from `500M`, `20G`, `1.5GiB`, `20GB` (K/M/G/T and KiB.. are powers of 1024, as `du -h`;
    KB/MB/GB/TB powers of 1000) or a plain number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = m and UNITS.get(m.group(2).lower())
    size = float(m.group(1)) * unit if m and unit is not None else math.nan
    if not math.isfinite(size):  # no unit lpft knows, or more digits than a float holds
        raise InputError(f"{field} must be a size such as 500M, 20G or 1.5GiB, got {quote(text)}")
    return int(size)


def parse_age(text: str, field: str = "--older-than") -> float:
    """Seconds from `30d`, `12h`, `90m`, `2w` or `3600s`."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smhdw])\s*", text.lower())
    if not m:
        raise InputError(f"{field} must be an age such as 30d, 12h, 90m or 2w, got {text!r}")
    return float(m.group(1)) * SECONDS[m.group(2)]


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # not reached


def _described(path: Path, folder: str) -> tuple[str, str, str, str, str]:
    """(kind, benchmark, backbone, split, detail) from the entry's own record; `?` where it has none."""
    if path.name.startswith("."):
        return "partial write", "?", "?", "?", ""
    if path.suffix == ".img":
        try:
            record = read_header(path)[0]["record"]
            return (str(record["kind"]), str(record["benchmark"]), "-", str(record["split"]), str(record["detail"]))
        except Exception:  # noqa: BLE001 (truncated or foreign: listed, and the next read makes it again)
            return "unreadable", "?", "?", "?", ""
    if path.suffix != ".npz":  # written before entries carried their key: never read now
        return "old, unread", "?", "?", "?", ""
    try:
        with np.load(path, allow_pickle=False) as z:
            if folder == "benchmarks":
                meta = json.loads(z["meta"].tobytes())
                return "benchmark", str(meta.get("name", "?")), "-", "all", ""
            record = json.loads(z["record"].tobytes())
    except Exception:  # noqa: BLE001 (truncated or foreign: listed, and the next read makes it again)
        return "unreadable", "?", "?", "?", ""
    default = "LP head" if folder == "heads" else "features"
    return (str(record.get("kind", default)), str(record.get("benchmark", "?")), str(record.get("backbone", "?")),
            str(record.get("split", "?")), str(record.get("detail", "")))


def entries(root: Path, describe: bool = True, folders: tuple[str, ...] = FOLDERS) -> list[Entry]:
    """Every file lpft wrote under `root` (in `folders`), most recently used first;
    `describe=False` skips opening them (kind and names `?`), for eviction."""
    out = []
    for folder in folders:
        try:
            items = list(os.scandir(root / folder))
        except OSError:  # absent, or not a folder
            continue
        for item in items:
            name = item.name
            if not (name.endswith((".npz", ".npy", ".img")) or (name.startswith(".") and name.endswith(".tmp"))):
                continue
            try:
                if not item.is_file(follow_symlinks=False):
                    continue
                st = item.stat(follow_symlinks=False)
            except OSError:  # removed meanwhile
                continue
            path = Path(item.path)
            kind = _described(path, folder) if describe else ("partial write" if name.startswith(".") else "?",
                                                              "?", "?", "?", "")
            out.append(Entry(path, *kind, st.st_size, st.st_mtime))
    return sorted(out, key=lambda e: (-e.last_use, str(e.path)))


def remove(chosen: list[Entry]) -> tuple[int, int]:
    """Deletes these entries; (files, bytes) removed (one removed meanwhile by another process
    is not counted)."""
    files = size = 0
    for e in chosen:
        try:
            e.path.unlink()
        except FileNotFoundError:
            continue
        files, size = files + 1, size + e.size
    return files, size


def over_size(found: list[Entry], max_size: int, keep: Path | None = None) -> list[Entry]:
    """Least recently used entries whose removal brings the total to `max_size` or under
    (never `keep`, the entry just written)."""
    total = sum(e.size for e in found)
    out = []
    for e in sorted(found, key=lambda e: e.last_use):
        if total <= max_size:
            break
        if e.path != keep and e.removable:
            out.append(e)
            total -= e.size
    return out


def older_than(found: list[Entry], age_s: float) -> list[Entry]:
    cutoff = time.time() - age_s
    return [e for e in found if e.last_use < cutoff and e.removable]


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """A prepared image copy's (header, where its index starts); ValueError for a file that is not a whole one."""
    with open(path, "rb") as f:
        head = f.read(len(IMG_MAGIC) + 8)
        if len(head) < len(IMG_MAGIC) + 8 or head[:len(IMG_MAGIC)] != IMG_MAGIC:
            raise ValueError("not a prepared copy")
        (length,) = struct.unpack("<Q", head[len(IMG_MAGIC):])
        if length > 1 << 20:
            raise ValueError("header too long")
        header = json.loads(f.read(length))
        size = os.fstat(f.fileno()).st_size
    start = len(IMG_MAGIC) + 8 + length
    if not isinstance(header, dict) or header.get("format") != IMG_FORMAT:
        raise ValueError("another format")
    expected = start + int(header["n"]) * 24 + int(header["bytes"])
    if size != expected:
        raise ValueError(f"{size} bytes, not the {expected} its header says")
    return header, start


def touch(path: Path) -> None:
    """Marks a cache hit (the entry's last use); a read-only cache only loses the LRU order."""
    try:
        os.utime(path)
    except OSError:
        pass


def evict(written: Path) -> None:
    """After an entry is written: least recently used ones removed while the cache is over
    `LPFT_CACHE_MAX_SIZE` (unset: unbounded). Never raises: eviction is housekeeping. Prepared
    image copies are neither counted nor removed here: they have their own budget
    (`LPFT_PREPARED_IMAGES`), and one copy may be larger than the whole feature cache."""
    limit = os.environ.get(MAX_SIZE_ENV)
    if not limit:
        return
    try:
        root = written.parent.parent
        kept = tuple(f for f in FOLDERS if f != "prepared")
        remove(over_size(entries(root, describe=False, folders=kept), parse_size(limit, MAX_SIZE_ENV), keep=written))
    except (OSError, InputError):
        pass
