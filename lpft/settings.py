"""Typed dataclasses from `key=value` strings: one conversion for the CLI, specs and trainables."""

from __future__ import annotations

import math
import typing
from typing import Any

from lpft.errors import InputError, quote


def _convert(key: str, value: Any, kind: type, strict: bool) -> Any:
    if strict and isinstance(value, str) and kind is not str:  # a spec's YAML types its own values
        raise InputError(f"{key}: expected {kind.__name__}, got {quote(value)}")
    converted = _typed(key, value, kind)
    # inf and nan pass every `> 0` or `>= 0` check a dataclass makes (nan fails none as "< 0"):
    # a learning rate of inf ran, "diverged" and the sweep exited 0.
    if kind is float and not math.isfinite(converted):
        raise InputError(f"{key}: must be finite, got {quote(value)}")
    return converted


def _typed(key: str, value: Any, kind: type) -> Any:
    if not isinstance(value, str):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value) if abs(value) < 2**1024 else math.inf  # float() of a larger int overflows
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        raise InputError(f"{key}: expected {kind.__name__}, got {quote(value)}")
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return value.lower() in ("true", "1")
        return kind(value)
    except ValueError:
        raise InputError(f"{key}: expected {kind.__name__}, got {quote(value)}") from None


def parse_into(cls: type, values: dict[str, Any], where: str, strict: bool = False) -> Any:
    """Build dataclass `cls` from string or typed values, converting by field type. `strict`: a
    string only where the field is one (a spec file, as its JSON Schema says: `lr: "0.1"` is
    refused there, while `--set lr=0.1` on the command line is a string to convert)."""
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise InputError(f"{where}: unknown key {quote(unknown[0])} (valid: {', '.join(sorted(hints))})")
    try:  # a value of the wrong type or not finite, or one the dataclass refuses: named under `where`
        return cls(**{k: _convert(k, v, hints[k], strict) for k, v in values.items()})
    except InputError as e:
        raise InputError(f"{where}: {e}") from None


PATH = {"lpft.path": True}  # dataclass field metadata: the field is a file-system path


def path_fields(cls: type) -> set[str]:
    """The fields of params dataclass `cls` declared as paths (resolved against a spec's folder)."""
    import dataclasses

    return {f.name for f in dataclasses.fields(cls) if f.metadata.get("lpft.path")}
