"""Plain-text tables for the terminal, shared by the CLI and the analysis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def points(x: float | None, digits: int = 1) -> Decimal | None:
    """An accuracy (a fraction) in percentage points, rounded half up to `digits` decimals: the one
    rounding every view of lpft uses (console, live view, tables, report, comparison sentence).
    Rounded first to 9 decimals, so a value like 0.5095 (stored as 0.50949999...) reads 51.0
    wherever it is shown, whatever sum or mean produced it. None for a missing or NaN value."""
    if x is None or not math.isfinite(x):
        return None
    exact = Decimal(f"{100 * x:.9f}")
    return exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def pct(x: float | None, digits: int = 1, sign: bool = False, missing: str = "-") -> str:
    """`points` as text (`+` before a positive value with `sign`); `missing` for None or NaN."""
    value = points(x, digits)
    if value is None:
        return missing
    if value == 0:
        value = abs(value)  # never "-0.0"
    return f"{value:+}" if sign else f"{value}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """The first `left` columns (names) left-aligned, the rest (numbers) right-aligned, a dashed
    rule under the header."""
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


PAPER_PAIRS = (("ft", "lp"), ("lpft", "ft"))  # the paper's two comparisons: (strategy, against)


def shown_difference(a: float, b: float) -> str:
    """a − b as the difference of the two values as shown (`pct`), so a sentence under a table
    never disagrees with the table's own digits."""
    pa, pb = points(a), points(b)
    return "-" if pa is None or pb is None else pct((float(pa) - float(pb)) / 100, sign=True)


def comparison(means: dict[str, tuple[float, float]], labels: Mapping[str, str]) -> str:
    """The paper's sentence, "FT vs LP: +x ID, -y OOD;  LP-FT vs FT: ...", from (ID, OOD) per
    strategy, each named by its label: each difference is that of the rounded means a table shows."""
    def diff(a: str, b: str) -> str:
        return (f"{shown_difference(means[a][0], means[b][0])} ID, "
                f"{shown_difference(means[a][1], means[b][1])} OOD")

    return ";  ".join(f"{labels.get(a, a)} vs {labels.get(b, b)}: {diff(a, b)}"
                      for a, b in PAPER_PAIRS if a in means and b in means)
