"""Polars' allocator settings for the `lpft` command, applied before polars is first imported
(by `lpft.cli.run`; importing lpft as a library changes no environment variable).

Polars' jemalloc hands freed pages back to the OS after 500 ms (`dirty_decay_ms:500`, set by
polars at import). An analysis frees and allocates hundreds of MB between its stages (scan,
pivot, selection, frontiers), so pages went back and were faulted in again: a fifth of a million
rows' analysis (`bench/analyze_1m.py`). lpft asks for jemalloc's own default, 10 s, instead. The
peak memory is the same; memory is returned to the OS a few seconds later. Polars appends this
variable to its own settings, so it wins; a user's own `_RJEM_MALLOC_CONF` is left as it is.
"""

from __future__ import annotations

import os
import sys

JEMALLOC_ENV = "_RJEM_MALLOC_CONF"
DECAY = "dirty_decay_ms:10000"


def configure() -> bool:
    """Sets the decay where polars is not imported yet and nobody chose one; True if it did."""
    if "polars" in sys.modules or JEMALLOC_ENV in os.environ:
        return False
    os.environ[JEMALLOC_ENV] = DECAY
    return True
