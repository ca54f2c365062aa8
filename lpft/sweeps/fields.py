"""Checks of a spec's fields, each one InputError naming the field: strictly typed integers and
booleans (YAML's `true` is not 1, the string "false" is not a boolean), finite numbers, known
keys at every level with a did-you-mean, search ranges and choices."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from lpft.errors import InputError, clip, quote, require
from lpft.search_spaces import Param


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(raw: dict, key: str, default: int, minimum: int, maximum: int | None = None, where: str = "") -> int:
    value = raw.get(key, default)
    field = f"{where}.{key}" if where else key
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    require(is_int(value) and value >= minimum and (maximum is None or value <= maximum), field,
            f"must be an integer {bound}, got {quote(value)}")
    return value


def boolean(raw: dict, key: str, default: bool) -> bool:
    value = raw.get(key, default)
    require(isinstance(value, bool), key, f"must be true or false, got {quote(value)}")
    return value


def number(value: Any, where: str) -> float:
    require(isinstance(value, (int, float)) and not isinstance(value, bool), where,
            f"must be a number, got {quote(value)}")
    require(math.isfinite(value), where, f"must be finite, got {quote(value)}")
    return float(value)


def known_keys(mapping: dict, allowed: Iterable[str], where: str, what: str) -> None:
    """Every key of `mapping` is allowed; else one line with the closest allowed key."""
    allowed = sorted(allowed)
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(clip(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            field = f"{where}.{clip(key)}" if where else clip(key)
            raise InputError(f"{field}: unknown {what} ({hint}valid: {', '.join(allowed)})")


def param(value: Any, where: str) -> Param:
    """A scalar is fixed; {choices: [...]} is categorical; {low, high[, log][, type]} a range."""
    if not isinstance(value, dict):
        if isinstance(value, float):  # a fixed value is checked as a range's bounds are
            number(value, where)
        return Param("constant", value=value)
    if "choices" in value:
        known_keys(value, ("choices",), where, "search field")
        require(isinstance(value["choices"], list) and value["choices"], f"{where}.choices", "must be a non-empty list")
        return Param("categorical", choices=tuple(value["choices"]))
    known_keys(value, ("low", "high", "log", "type"), where, "range field")
    for key in ("low", "high"):
        require(key in value, f"{where}.{key}", "is missing")
    low, high = number(value["low"], f"{where}.low"), number(value["high"], f"{where}.high")
    log = value.get("log", False)
    require(isinstance(log, bool), f"{where}.log", f"must be true or false, got {quote(log)}")
    kind = value.get("type", "float")
    require(kind in ("float", "int"), f"{where}.type", f"must be float or int, got {quote(kind)}")
    if log:
        require(low > 0, f"{where}.low", "must be > 0 on a log scale")
    require(low <= high, f"{where}.high", f"must be >= low ({low:g})")
    return Param(kind, low, high, log=log)


def resources(raw: Any, where: str = "resources") -> tuple[float, float]:
    raw = raw or {}
    require(isinstance(raw, dict), where, "must be a mapping like {cpu: 1, gpu: 0}")
    known_keys(raw, ("cpu", "gpu"), where, "resource")
    cpu, gpu = number(raw.get("cpu", 1), f"{where}.cpu"), number(raw.get("gpu", 0), f"{where}.gpu")
    require(cpu > 0, f"{where}.cpu", "must be > 0 (fractions allowed)")
    require(gpu >= 0, f"{where}.gpu", "must be >= 0 (fractions allowed)")
    return cpu, gpu
