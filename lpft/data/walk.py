"""Listing a researcher's image folder: regular files only, never out of its root, and bounded.

A folder someone else assembled may hold what no image reader should touch: a named pipe called
`img.png` blocks whoever opens it forever, and a class folder that is a symbolic link to `/`
turns a listing into a walk of the whole file system. So the walk lists regular files only
(anything else with an image's name is one line naming it), refuses a link whose target is
outside the root (a link inside it is followed, each real folder once), and stops with one line
after `limit` entries.
"""

from __future__ import annotations

import os
from pathlib import Path

from lpft.data.images import IMAGE_EXTENSIONS
from lpft.errors import InputError, quote


class Walk:
    """One scan of `root`: every listing counts towards `limit` entries."""

    def __init__(self, root: Path, limit: int, benchmark: str) -> None:
        self.root = root.resolve()
        self.limit = limit
        self.benchmark = benchmark
        self.seen = 0

    def visible(self, folder: Path) -> list[os.DirEntry]:
        """`folder`'s entries but hidden ones (.DS_Store, ._AppleDouble, .ipynb_checkpoints),
        sorted by name, each link checked to stay inside the root."""
        with os.scandir(folder) as it:
            found = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        for entry in found:
            self._count(entry)
        return found

    def images(self, folder: Path) -> list[Path]:
        """Image files under `folder` (recursively), sorted, so every node lists them in one order."""
        out: list[Path] = []
        walked: set[str] = set()  # real folders listed: a link to an ancestor is no loop
        stack = [folder]
        while stack:
            here = stack.pop()
            real = os.path.realpath(here)
            if real in walked:
                continue
            walked.add(real)
            for entry in self.visible(here):
                if entry.is_dir():
                    stack.append(Path(entry.path))
                elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    if not entry.is_file():  # a pipe, a socket, a device: opening it may never return
                        raise InputError(f"{self.benchmark}: {entry.path} is not a regular file; "
                                         "remove it (an image must be a plain file)")
                    out.append(Path(entry.path))
        return sorted(out)

    def _count(self, entry: os.DirEntry) -> None:
        self.seen += 1
        if self.seen > self.limit:
            raise InputError(f"{self.benchmark}: more than {self.limit} files and folders under {self.root}; "
                             "is root the dataset's folder? (max_files raises the limit)")
        if entry.is_symlink():
            self.inside(Path(entry.path))

    def inside(self, path: Path) -> Path:
        """`path` if it resolves inside the root, else one line naming the link that leaves it."""
        target = os.path.realpath(path)
        if os.path.commonpath([target, str(self.root)]) != str(self.root):
            raise InputError(f"{self.benchmark}: {path} is a symbolic link out of root (to "
                             f"{quote(target)}); copy the files in, or list them in a manifest")
        return path
