"""Write-to-temp-then-rename: a reader never sees half a file, a crash leaves no stray one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """An open binary file that replaces `path` only when the block ends without error.

    The temp name starts with '.' and ends in '.tmp', so globs like `*.parquet` skip it. The
    file gets the mode a plain `open` would (0644 under the usual umask 022), not mkstemp's 0600,
    so colleagues on a shared file system can read a sweep's results.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_file(folder: Path) -> tuple[int, str]:
    """mkstemp in `folder`, with the mode the process's umask gives new files."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def _umask() -> int:
    # Reading the umask means setting it; /proc says it without that (Linux), else set it back at once.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
