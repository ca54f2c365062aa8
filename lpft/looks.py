"""How a strategy is shown: its label, colour, place in tables and legends, and the hyperparameter
a summary shows for its selected config. Each strategy declares its own (`@strategy(look=...)`),
so a plugin's strategy is shown as its author chose with no edit anywhere else.

Results carry the looks of the strategies that wrote them (`LOOKS_KEY` in every file's schema
metadata), so `lpft analyze` shows a plugin's strategy as its author chose on a machine without
the plugin, and never imports a strategy (or torch) to draw one. Files written before the key
existed (or by hand, without it) read as declaring `BEFORE_LOOKS`, the paper's three as lpft
showed them then. A look read from a file is data: one that fails the checks below is dropped
and the strategy is shown plainly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from lpft.errors import InputError, quote
from lpft.names import is_name

LOOKS_KEY = b"lpft.looks"  # JSON {strategy: {label, colour, order, shown}}
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
MAX_LABEL = 40
LAST = 1000  # the order of a strategy that declares none: after every declared one, by name


@dataclass(frozen=True)
class Look:
    label: str  # how sentences and the report name it ("LP-FT")
    colour: str | None = None  # "#RRGGBB" in figures; None: the next free colour of a fixed cycle
    order: int = LAST  # place in tables and legends (the paper's: LP 0, FT 1, LP-FT 2); ties by name
    shown: str | None = None  # the hyperparameter a summary shows for the selected config (FT: lr, LP: C)


# What results without LOOKS_KEY are read as declaring (like dataset.BEFORE_STEP_KEYS): frozen
# history, which the strategies' own declarations (lpft/strategies/lp.py, ...) still equal.
BEFORE_LOOKS = {"lp": Look("LP", "#0072B2", 0, "C"), "ft": Look("FT", "#D55E00", 1, "lr"),
                "lpft": Look("LP-FT", "#009E73", 2, "lr")}


def problem(look: object) -> str | None:
    """What is wrong with a look (None: nothing): the checks a file's look must pass."""
    if not isinstance(look, Look):
        return f"is not a Look: {quote(look)}"
    if not isinstance(look.label, str) or not 0 < len(look.label) <= MAX_LABEL or not look.label.isprintable():
        return f"label must be 1-{MAX_LABEL} printable characters, got {quote(look.label)}"
    if look.colour is not None and not (isinstance(look.colour, str) and COLOUR.fullmatch(look.colour)):
        return f"colour must be '#RRGGBB', got {quote(look.colour)}"
    if isinstance(look.order, bool) or not isinstance(look.order, int) or not -LAST <= look.order <= LAST:
        return f"order must be an integer from {-LAST} to {LAST}, got {quote(look.order)}"
    if look.shown is not None and not is_name(look.shown):
        return f"shown must be a hyperparameter's name, got {quote(look.shown)}"
    return None


def checked(name: str, look: Look | None) -> Look:
    """A strategy's declared look (its name as the label when it declares none), or one line."""
    look = Look(label=name) if look is None else look
    if (why := problem(look)) is not None:
        raise InputError(f"strategy {name!r}: look {why}")
    return look


def encode(looks: Mapping[str, Look]) -> bytes:
    return json.dumps({name: asdict(look) for name, look in sorted(looks.items())}, sort_keys=True).encode()


def decode(raw: bytes | None) -> dict[str, Look]:
    """The looks a file declares (None: it has no LOOKS_KEY, so BEFORE_LOOKS); an entry that is not
    a valid look is left out (shown plainly)."""
    if raw is None:
        return dict(BEFORE_LOOKS)
    try:
        found = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(found, dict):
        return {}
    out = {}
    for name, fields in found.items():
        if not (is_name(name) and isinstance(fields, dict) and set(fields) <= set(Look.__dataclass_fields__)):
            continue
        try:
            look = Look(**fields)
        except TypeError:  # no label
            continue
        if problem(look) is None:
            out[name] = look
    return out


def look_of(name: str, looks: Mapping[str, Look]) -> Look:
    return looks.get(name) or Look(label=name)


def ordered(names: Iterable[str], looks: Mapping[str, Look]) -> list[str]:
    """Strategies in their declared order, then by name."""
    return sorted(names, key=lambda s: (look_of(s, looks).order, s))
