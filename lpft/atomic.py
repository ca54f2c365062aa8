"""Write-to-temp-then-rename: a reader never sees half a file, a crash leaves no stray one. And
one builder at a time: processes of a node that would build the same file take turns."""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import TextIOWrapper
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


BUSY = object()  # _take's answer when another process holds the lock and the caller would not wait


@contextmanager
def one_builder(lock: Path, waiting: str, wait: bool = True) -> Iterator[bool]:
    """The block holds an exclusive lock on the file `lock` (made if absent), so processes of a
    node about to build the same file take turns and the next finds it built: the trials of a
    sweep that start together extract a split's features, fit an LP head or prepare a copy once,
    not once each (at ImageNet's scale, once each is a copy of the features per trial). `waiting`
    is said on stderr when another process holds it. The kernel releases it when the holder ends,
    however it ends (a killed holder leaves the empty lock file, taken over by the next). Where
    no lock can be had (a read-only cache, a file system without flock), the block runs
    unlocked: the lock saves work, `atomic_file` is what keeps readers safe.

    Yields whether the block is this process's to build: False only with `wait=False` while
    another process holds the lock (that one is building it)."""
    held = _take(lock, waiting, wait)
    if held is BUSY:
        yield False
        return
    if held is None:
        yield True
        return
    assert isinstance(held, TextIOWrapper)
    with held:
        try:
            yield True
        finally:
            # The lock file goes with its holder (a cache folder holds entries only). A process
            # waiting on it then sees its file removed and locks the one under the name anew.
            try:
                os.unlink(lock)
            except OSError:
                pass
            fcntl.flock(held, fcntl.LOCK_UN)


def _take(lock: Path, waiting: str, wait: bool) -> TextIOWrapper | object | None:
    """The lock file, opened and locked, still the one under its name; None where locking fails;
    BUSY when another holds it and `wait` is False."""
    said = False
    while True:
        try:
            f = open(lock, "a")  # noqa: SIM115 (held by one_builder)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    f.close()
                    return BUSY
                if not said:
                    print(waiting, file=sys.stderr, flush=True)
                    said = True
                fcntl.flock(f, fcntl.LOCK_EX)
        except OSError:  # ENOLCK, ENOSYS: a file system without flock (some NFS, Lustre, FUSE mounts)
            f.close()
            return None
        try:
            if os.stat(lock).st_ino == os.fstat(f.fileno()).st_ino:
                return f
        except OSError:
            pass
        f.close()  # its holder removed it on leaving (having built, or failed): lock the name's file now


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
