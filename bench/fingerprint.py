"""The cost of a benchmark's file fingerprint (`lpft.data.fingerprint`, part of every cache key)
over 100,000 small files: cold (the first in this process) and warm (again, nothing changed),
the stats alone (the floor of any check that sees a file rewritten in place), and what a
check trusting the folders' mtimes alone would cost, for comparison.

    python bench/fingerprint.py [--files 100000] [--folders 100] [--content]

A warm fingerprint is not cached on disk: a file rewritten in place changes only its own
mtime, not its folder's, so a warm check that stayed correct would still stat every file,
and those stats are what the fingerprint costs (see the module's note). The files were just
written, so their inodes are in the OS's cache: "cold" is lpft's first look, not the disk's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from lpft.data.fingerprint import fingerprint
from lpft.data.images import list_images


def write_files(root: Path, n: int, folders: int) -> None:
    for c in range(folders):
        (root / f"class{c:03d}").mkdir(parents=True)
    for i in range(n):
        with open(root / f"class{i % folders:03d}" / f"{i:06d}.jpg", "wb") as f:
            f.write(b"x" * (100 + i % 50))


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--folders", type=int, default=100)
    ap.add_argument("--content", action="store_true", help="also time verify=content (reads every byte)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        t_write, _ = timed(lambda: write_files(root, args.files, args.folders))
        t_list, files = timed(lambda: [p for c in sorted(root.iterdir()) for p in list_images(c)])
        print(f"{len(files)} files in {args.folders} folders (written in {t_write:.1f} s; "
              f"listed as a builder does in {t_list:.3f} s)")
        cold, first = timed(lambda: fingerprint({"root": root}, files))
        warm = [timed(lambda: fingerprint({"root": root}, files)) for _ in range(3)]
        assert all(fp == first for _, fp in warm), "the same files gave another fingerprint"
        t_warm = statistics.median(t for t, _ in warm)
        names = [str(p) for p in files]
        t_stats = statistics.median(timed(lambda: [os.stat(p) for p in names])[0] for _ in range(3))
        folders = sorted(root.iterdir())
        t_folders = statistics.median(timed(lambda: [os.stat(f).st_mtime_ns for f in folders])[0] for _ in range(3))
        per_file = t_warm / len(files) * 1e6
        print(f"fingerprint (verify=mtime): cold {cold:.3f} s, warm {t_warm:.3f} s, "
              f"cold/warm {cold / t_warm:.2f}x ({per_file:.1f} us a file)")
        print(f"of which one stat per file alone: {t_stats:.3f} s ({t_stats / len(files) * 1e6:.1f} us a file)")
        print(f"folders' mtimes alone (not used: blind to a file rewritten in place): {t_folders * 1e3:.2f} ms, "
              f"{t_warm / t_folders:.0f}x less than the warm fingerprint")
        if args.content:
            t_content, _ = timed(lambda: fingerprint({"root": root}, files, verify="content"))
            print(f"fingerprint (verify=content): {t_content:.3f} s, {t_content / t_warm:.1f}x the mtime one")


if __name__ == "__main__":
    main()
