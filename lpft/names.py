"""One safe path component: what every name that becomes a folder or a file must be.

Sweeps, strategies, trials, benchmarks and eval sets name folders and files: a sweep's folder,
`strategy=<name>/<trial>.parquet`, an analysis's `<sweep>/` report and `frontier_<set>.png`. A
name read back from a spec or a results file is data someone else may have written, so it is
checked against this one definition before it is joined to a path: never '.', '..', a
separator, a control character or an empty string, and never long enough to hit a file-system
limit.
"""

from __future__ import annotations

import re

NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_NAME = re.compile(NAME)
RULE = "1-100 letters, digits, '.', '-' or '_', starting with a letter or digit"


def is_name(value: object) -> bool:
    """Whether `value` is a string that is one safe path component (`NAME`)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None
