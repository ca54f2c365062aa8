"""A pydantic ValidationError of a spec, as lpft's one line naming the field (exit status 2).

The first error is the one told (an unknown top-level key before any other, as a reader scans
a file); the field's path is written as a spec writes it (`strategies.ft.lr.low`, list indexes
left out), and the wording is the field's own `Says` (`lpft.sweeps.spec_file`), an unknown key's
did-you-mean, or "is missing".
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from lpft.errors import InputError, clip, quote
from lpft.sweeps.spec_file import Says, Shape

UNKNOWN_KEY = ("extra_forbidden", "invalid_key")


def validate(model: type[Shape], raw: Any, where: str = "") -> Any:
    """`model` validated from `raw`, or the InputError naming what is wrong, under `where`."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise InputError(line(e, model, raw, where)) from None


def line(error: ValidationError, model: type[Shape], raw: Any, where: str = "") -> str:
    errors = error.errors()
    first = next((e for e in errors if e["type"] in UNKNOWN_KEY and len(e["loc"]) == 1), errors[0])
    loc = tuple(first["loc"])
    if first["type"] == "lpft":  # a validator's own words about one of its model's fields
        loc += (first["ctx"]["at"],)
        return _join(_path(loc, where), first["ctx"]["text"])
    if first["type"] in UNKNOWN_KEY:
        base, key = (loc[:-2], loc[-2]) if loc[-1] == "[key]" else (loc[:-1], loc[-1])
        given = _value(raw, base)  # pydantic reports a key YAML read as false as 0: the key as read
        key = next((k for k in given if k == key and type(k) is not type(key)), key) if isinstance(given, dict) else key
        owner = _walk(model, base)[2]
        allowed = owner.known() if owner is not None else []
        return unknown_key(_path(base, where), key, allowed, owner.unknown if owner is not None else "key")
    if first["type"] == "missing":
        return _join(_path(loc, where), "is missing")
    says, depth, _ = _walk(model, loc)
    if says is None:  # a shape without its own words: pydantic's, on one line
        return _join(_path(loc, where), f": {first['msg'][0].lower()}{first['msg'][1:]}, got {quote(first['input'])}")
    at = loc[:depth]
    got = first["input"] if depth == len(loc) else _value(raw, at)
    # not str.format: a message may show braces ("a mapping like {cpu: 1, gpu: 0}")
    text = says.template(first["type"]).replace("{got}", quote(got)).replace("{input}", quote(first["input"]))
    return _join(_path(at + ((says.at,) if says.at else ()), where), text)


def unknown_key(path: str, key: object, allowed: list[str], what: str) -> str:
    """`path.key: unknown <what> (did you mean 'k'? valid: ...)`; a key YAML read as something
    else (`off:` is False, `1:` an int) is shown as it was read."""
    close = difflib.get_close_matches(clip(key), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    if isinstance(key, bool):
        hint = f"YAML reads an unquoted yes, no, on or off as {str(key).lower()}: quote the key; " + hint
    return f"{'.'.join(p for p in (path, clip(key)) if p)}: unknown {what} ({hint}valid: {', '.join(allowed)})"


def _join(path: str, text: str) -> str:
    return f"{path}{text}" if text.startswith(":") else f"{path} {text}"


def _path(loc: tuple[Any, ...], where: str) -> str:
    """`where.a.b` from a pydantic location: list indexes and pydantic's `[key]` tags left out."""
    parts = [clip(p) for p in loc if not isinstance(p, int) and p != "[key]"]
    return ".".join([where, *parts] if where else parts)


def _value(raw: Any, loc: tuple[Any, ...]) -> Any:
    """The value at `loc` in the spec as given (None where it is not there)."""
    for part in loc:
        in_list = isinstance(raw, list) and isinstance(part, int) and part < len(raw)
        if not (in_list or (isinstance(raw, dict) and part in raw)):
            return None
        raw = raw[part]
    return raw


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """A type without its Annotated layers and `| None`, and the metadata those layers carried."""
    meta: list[Any] = []
    while True:
        if get_origin(tp) is Annotated:
            tp, *more = get_args(tp)
            meta += more
        elif get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0] if len(rest) == 1 else Any
        else:
            return tp, meta


def _walk(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Says | None, int, Any]:
    """Following `loc` through `model`'s types: the deepest field words (`Says`) that apply to an
    error there and at what depth, and the model the location ends in (None if not one). Words
    of a field outside a nested model do not apply inside it."""
    tp: Any = model
    says: Says | None = None
    depth = 0
    for i, part in enumerate(loc):
        tp, _ = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            says = None  # entering a model: only its fields' own words
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                tp = Any
            else:
                tp = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1] if part != "[key]" else get_args(tp)[0]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            tp = Any
        for m in _unwrap(tp)[1]:
            if isinstance(m, Says):
                says, depth = m, i + 1
    end = _unwrap(tp)[0]
    return says, depth, end if isinstance(end, type) and issubclass(end, BaseModel) else None

