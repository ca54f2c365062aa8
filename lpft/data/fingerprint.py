"""The files a benchmark reads, as one digest: the part of every cache key that says which data
the cached features, heads and built benchmarks were made from.

Every file-based benchmark calls `fingerprint(roots, files, verify)` on the files it read
(metadata lists and images alike) and puts the result in `Benchmark.fingerprint`, which
`Benchmark.key` holds. The digest covers the resolved roots (a symlink re-pointed, or
LPFT_DATA changed, is another dataset) and one line per file: its path relative to its root,
its size, and its mtime in ns (`verify: mtime`, the default) or a SHA-256 of its bytes
(`verify: content`, for storage whose mtimes cannot be trusted: a copy that restored old
mtimes onto new bytes, a FUSE mount of an object store). An object-store URI in a manifest
(s3://...) is recorded by name only under `mtime` (one request per object would cost more
than the run), and read whole under `content`.

Cost, and what a warm check would still have to stat. The fingerprint is taken once per build
(`lpft.data.registry` keeps a built benchmark for the process; each Ray worker builds its own
once): one stat per file, the names and the (size, mtime) array hashed whole. It is not cached
on disk against the folders' mtimes: a folder's mtime changes when an entry is added, removed
or renamed, but a file rewritten in place (`cp` over it, an image saved to the same path,
`touch`) changes only its own mtime, so a warm check that stayed correct would still stat
every file, and the stats are nearly the whole cost (bench/fingerprint.py, 100,000 files:
0.4 s, ~4 us a file, of which the stats alone are ~3 us; the folders' mtimes alone: 0.1 ms,
and the old features after an in-place rewrite). On a network file system a stat is a round
trip; that is the price of the guarantee.
Two limits of `mtime` remain, as in any mtime check (make, rsync's quick check): new bytes
with the old size and a restored old mtime, or written within the file system's timestamp
tick of the previous version, are not seen; `verify: content` sees them, reading every byte
at every build.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from lpft.errors import quote, require

VERIFY = ("mtime", "content")
FORMAT = 1  # bump when what a fingerprint covers changes
CHUNK = 1 << 20


def check_verify(verify: str) -> None:
    require(verify in VERIFY, f"verify must be one of {', '.join(VERIFY)}, got {quote(verify)}")


def _names(roots: Mapping[str, str | Path], paths: list[str]) -> list[str]:
    """Each path as `<root name>:<path under it>` (the longest root holding it), else as given."""
    prefixes = sorted(((str(r).rstrip(os.sep) + os.sep, name) for name, r in roots.items()),
                      key=lambda x: -len(x[0]))
    out = []
    for p in paths:
        for prefix, name in prefixes:
            if p.startswith(prefix):
                out.append(f"{name}:{p[len(prefix):]}")
                break
        else:
            out.append(p)
    return out


def _content(path: str) -> str:
    h = hashlib.sha256()
    if "://" in path:
        from lpft.storage import locate

        h.update(locate(path).read_bytes())
        return h.hexdigest()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stats(paths: list[str]) -> np.ndarray:
    """(size, mtime_ns) of each path; (-1, -1) for a URI (not statted, see the module's note)."""
    out = np.full((len(paths), 2), -1, dtype=np.int64)
    for i, p in enumerate(paths):
        if "://" not in p:
            st = os.stat(p)
            out[i] = st.st_size, st.st_mtime_ns
    return out


def fingerprint(roots: Mapping[str, str | Path], files: Iterable[str | Path], verify: str = "mtime") -> str:
    """A 16-hex digest of `files` (every file a build read) under `roots` (name -> the folder as
    the builder used it); see the module's note for what it covers and what it costs."""
    check_verify(verify)
    paths = sorted({str(f) for f in files})
    names = _names(roots, paths)
    head = json.dumps({"format": FORMAT, "verify": verify, "files": len(paths),
                       "roots": {k: str(Path(v).resolve()) for k, v in roots.items()}}, sort_keys=True)
    h = hashlib.sha256(head.encode())
    h.update("\n".join(names).encode())
    if verify == "content":
        for p in paths:
            h.update(bytes.fromhex(_content(p)))
    else:
        h.update(_stats(paths).tobytes())  # little-endian int64 pairs, in the names' order
    return h.hexdigest()[:16]
