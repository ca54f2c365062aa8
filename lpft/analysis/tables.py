"""The results table: rows = strategies, columns = ID test, each OOD set, OOD average.

Cells are mean ± 90% confidence half-width over seeds (the paper's 1.645·std/√n),
with the number of seeds; the best mean per column is marked. Text, Markdown, LaTeX
(booktabs) and CSV.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pandas as pd

from lpft.analysis.selection import Chosen
from lpft.text import comparison, format_table

Z90 = 1.645
PAPER_ORDER = ("lp", "ft", "lpft")


def strategy_order(names: list[str]) -> list[str]:
    """The paper's three first, in its order, then any others alphabetically: stable rows everywhere."""
    return sorted(names, key=lambda s: (PAPER_ORDER.index(s) if s in PAPER_ORDER else len(PAPER_ORDER), s))


@dataclass(frozen=True)
class Cell:
    mean: float
    half: float  # 90% half-width; 0 with one seed
    n: int


def summarize(chosen: Chosen) -> tuple[list[str], dict[str, dict[str, Cell]]]:
    columns = ["id_test", *chosen.ood_sets, "ood_avg"]
    cells: dict[str, dict[str, Cell]] = {}
    groups = dict(list(chosen.frame.groupby("strategy")))
    for strategy in strategy_order(list(groups)):
        group = groups[strategy]
        row = {}
        for c in columns:
            values = group[c].dropna()
            n = len(values)
            std = float(values.std(ddof=1)) if n > 1 else 0.0
            row[c] = Cell(float(values.mean()) if n else math.nan, Z90 * std / math.sqrt(n) if n > 1 else 0.0, n)
        cells[str(strategy)] = row
    return columns, cells


def _best(columns: list[str], cells: dict[str, dict[str, Cell]]) -> dict[str, str]:
    return {c: max(cells, key=lambda s: cells[s][c].mean if not math.isnan(cells[s][c].mean) else -1)
            for c in columns} if cells else {}


def _fmt(cell: Cell) -> str:
    return f"{100 * cell.mean:.1f} ± {100 * cell.half:.1f}"


def render(chosen: Chosen, fmt: str = "text") -> str:
    columns, cells = summarize(chosen)
    best = _best(columns, cells)
    seeds = {s: max(c.n for c in row.values()) for s, row in cells.items()}
    label = chosen.label
    if fmt == "csv":
        buf = io.StringIO()
        rows = [{"strategy": s, "seeds": seeds[s], "selection": label,
                 **{f"{c}_mean": cells[s][c].mean for c in columns}, **{f"{c}_ci90": cells[s][c].half for c in columns}}
                for s in cells]
        pd.DataFrame(rows).to_csv(buf, index=False)
        return buf.getvalue()
    if fmt == "latex":
        lines = [f"% selection: {label}", r"\begin{tabular}{l" + "r" * (len(columns) + 1) + "}", r"\toprule",
                 " & ".join(["strategy", "seeds", *[c.replace("_", r"\_") for c in columns]]) + r" \\", r"\midrule"]
        for s in cells:
            vals = [(r"\textbf{%s}" if best[c] == s else "%s") % _fmt(cells[s][c]).replace("±", r"$\pm$")
                    for c in columns]
            lines.append(" & ".join([s, str(seeds[s]), *vals]) + r" \\")
        return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"
    bold = (lambda t: f"**{t}**") if fmt == "md" else (lambda t: f"*{t}")
    header = ["strategy", "seeds", *columns]
    rows = [[s, str(seeds[s]), *[bold(_fmt(cells[s][c])) if best[c] == s else _fmt(cells[s][c]) for c in columns]]
            for s in cells]
    if fmt == "md":
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return f"Selection: {label}. Accuracy %, mean ± 90% CI over seeds; best in bold.\n\n" + "\n".join(out) + "\n"
    return f"selection: {label}; accuracy %, mean ± 90% CI over seeds; * best\n" + format_table(header, rows) + "\n"


def paper_sentence(chosen: Chosen) -> str:
    """"FT vs LP: +x ID, -y OOD; LP-FT vs FT: +x ID, +y OOD" from the selected models' means."""
    means = chosen.frame.groupby("strategy")[["id_test", "ood_avg"]].mean()
    return comparison({s: (r.id_test, r.ood_avg) for s, r in means.iterrows()})


def owners_line(owners: list[tuple[str, float, float]]) -> str:
    parts = [f"{s} (ID {100 * lo:.1f}" + ("" if hi == lo else f"–{100 * hi:.1f}") + "%)" for s, lo, hi in owners]
    return "OOD-average frontier, by increasing ID accuracy: " + ", ".join(parts)
