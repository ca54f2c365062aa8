"""The one error type for bad user input, and the one way to check for it: the CLI turns an
InputError into one line and exit status 2."""

import json
import reprlib
from typing import Any

# How much of a value a message quotes: enough to recognise it, never a value's whole expansion
# (a YAML alias bomb's list is gigabytes when written out).
QUOTE_LIMIT = 100


class InputError(ValueError):
    """A user-supplied value (benchmark, key, path, field) is wrong; the message names it."""


def require(condition: object, *message: str) -> None:
    """Raises InputError unless `condition` is truthy; the message parts are joined by spaces, so a spec
    check reads `require(ok, "strategies.ft.lr", "must be > 0")`."""
    if not condition:
        raise InputError(" ".join(message))


def clip(text: object, limit: int = QUOTE_LIMIT) -> str:
    """`str(text)` cut to `limit` characters: a key or name from a file, shown unquoted."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)`, at most `limit` characters, made without writing out the whole value:
    reprlib stops at a few elements and levels, so a huge nested list costs microseconds."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxtuple, short.maxdict, short.maxset = 3, 6, 6, 6, 6
    short.maxstring = short.maxother = short.maxlong = limit
    try:
        text = short.repr(value)
    except (ValueError, TypeError, RecursionError):  # an int past Python's digit limit, a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def json_object(body: bytes) -> "dict[str, Any] | str":
    """The JSON object a file of lpft's own holds, or what is wrong with it ("not JSON", "not a
    JSON object"): a ledger entry or a lock someone edited or damaged is named, not a traceback."""
    try:
        value = json.loads(body)
    except ValueError:
        return "not JSON"
    return value if isinstance(value, dict) else "not a JSON object"
