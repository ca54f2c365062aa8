"""A strategy's hyperparameter in a spec: a fixed value, or a range or choices to search
(`lpft.sweeps.spec_file.Range` and `Choices` declare their shapes)."""

from __future__ import annotations

import math
from typing import Any

from lpft.errors import require
from lpft.search_spaces import Kind, Param


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def param(value: Any, where: str) -> Param:
    """A scalar is fixed; {choices: [...]} is categorical; {low, high[, log][, type]} a range."""
    from lpft.sweeps.spec_errors import validate
    from lpft.sweeps.spec_file import Choices, Range

    if not isinstance(value, dict):
        if isinstance(value, float):  # a fixed value is checked as a range's bounds are
            require(math.isfinite(value), where, f"must be finite, got {value!r}")
        return Param(Kind.CONSTANT, value=value)
    if "choices" in value:
        return Param(Kind.CATEGORICAL, choices=tuple(validate(Choices, value, where).choices))
    r = validate(Range, value, where)
    return Param(r.type, r.low, r.high, log=r.log)
