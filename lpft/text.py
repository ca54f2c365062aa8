"""Plain-text tables for the terminal, shared by the CLI and the analysis."""

from __future__ import annotations

from typing import Any, Sequence


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """First column left-aligned, the rest right-aligned, a dashed rule under the header."""
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def comparison(means: dict[str, tuple[float, float]]) -> str:
    """The paper's sentence, "FT vs LP: +x ID, -y OOD;  LP-FT vs FT: ...", from (ID, OOD) per strategy."""
    names = {"lp": "LP", "ft": "FT", "lpft": "LP-FT"}

    def diff(a: str, b: str) -> str:
        return f"{100 * (means[a][0] - means[b][0]):+.1f} ID, {100 * (means[a][1] - means[b][1]):+.1f} OOD"

    return ";  ".join(f"{names[a]} vs {names[b]}: {diff(a, b)}"
                      for a, b in (("ft", "lp"), ("lpft", "ft")) if a in means and b in means)
