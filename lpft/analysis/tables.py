"""The results table: rows = strategies, columns = ID test, each OOD set, OOD average.

Cells are the mean over seeds with a 90% interval (`lpft.analysis.intervals`: Student t by
default, the paper's 1.645·s/√n with `ci="z"`), named with its method in every format; one
seed, or seeds that all scored the same, give no interval and the cell says which. The best
mean per column is marked. Text, Markdown, LaTeX (booktabs) and CSV.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from lpft.analysis.appearance import looks_for
from lpft.analysis.intervals import LEVEL, METHODS, Estimate, mean_interval
from lpft.analysis.selection import Chosen
from lpft.looks import Look, ordered
from lpft.text import comparison, format_table, pct

TABLE_FORMATS = ("text", "md", "latex", "csv")
Cell = Estimate  # a table cell: a strategy's mean over seeds on one column, with its interval


def strategy_order(names: list[str], looks: Mapping[str, Look] | None = None) -> list[str]:
    """In the strategies' declared order (the paper's LP, FT, LP-FT first), then by name: stable
    rows everywhere. `looks`: as `appearance.looks_for` gives them (None: looked up)."""
    return ordered(names, looks_for(names) if looks is None else looks)


def summarize(chosen: Chosen, ci: str = "t") -> tuple[list[str], dict[str, dict[str, Cell]]]:
    columns = ["id_test", *chosen.ood_sets, "ood_avg"]
    METHODS[ci]  # an unknown method: one line naming the known ones
    cells: dict[str, dict[str, Cell]] = {}
    groups = dict(list(chosen.frame.groupby("strategy")))
    for strategy in strategy_order(list(groups), chosen.looks or None):
        group = groups[strategy]
        row = {c: mean_interval(group[c].to_numpy(float), ci) for c in columns}
        if strategy in chosen.deterministic:  # no spread because none is possible: say so
            row = {c: replace(e, why="deterministic") if e.why in ("one seed", "identical") else e
                   for c, e in row.items()}
        cells[str(strategy)] = row
    return columns, cells


def cell_text(cell: Cell, pm: str = "±") -> str:
    """`51.0 ± 3.2`; `51.0` for one seed; `51.0 (identical)` when every seed scored the same;
    `51.0 (deterministic)` when no seed could change it."""
    if math.isnan(cell.mean):
        return "–"
    if not math.isnan(cell.half):
        return f"{pct(cell.mean)} {pm} {pct(cell.half)}"
    return pct(cell.mean) + (f" ({cell.why})" if cell.why in ("identical", "deterministic") else "")


def interval_legend(cells: dict[str, dict[str, Cell]], ci: str) -> str:
    """What the ± means, and what a cell without one means, as every format's header says it."""
    text = f"mean ± {LEVEL:.0%} CI over seeds ({METHODS[ci].label}; n = seeds)"
    whys = {c.why for row in cells.values() for c in row.values()}
    if "one seed" in whys:
        text += "; one seed: no interval"
    if "identical" in whys:
        text += "; identical: every seed scored the same, no spread to estimate"
    if "deterministic" in whys:
        text += "; deterministic: its seed changes nothing (its results' seed_controls), so one run is exact"
    return text


def _best(columns: list[str], cells: dict[str, dict[str, Cell]]) -> dict[str, str]:
    return {c: max(cells, key=lambda s: cells[s][c].mean if not math.isnan(cells[s][c].mean) else -1)
            for c in columns} if cells else {}


def render(chosen: Chosen, fmt: str = "text", ci: str = "t") -> str:
    if fmt not in TABLE_FORMATS:  # never a text table in place of the format asked for
        raise ValueError(f"table format must be one of {', '.join(TABLE_FORMATS)}, got {fmt!r}")
    columns, cells = summarize(chosen, ci)
    best = _best(columns, cells)
    seeds = {s: max(c.n for c in row.values()) for s, row in cells.items()}
    label = chosen.label
    legend = interval_legend(cells, ci)
    if fmt == "csv":
        buf = io.StringIO()
        half = f"ci{100 * LEVEL:.0f}_{ci}"  # the column names the method: id_test_ci90_t
        records = [{"strategy": s, "seeds": seeds[s], "selection": label, "interval": METHODS[ci].label,
                    **{k: v for c in columns for k, v in (
                        (f"{c}_mean", cells[s][c].mean), (f"{c}_n", cells[s][c].n), (f"{c}_sd", cells[s][c].sd),
                        (f"{c}_{half}", cells[s][c].half), (f"{c}_note", cells[s][c].why))}}
                   for s in cells]
        pd.DataFrame(records).to_csv(buf, index=False)
        return buf.getvalue()
    # A paper's table names things as the paper does: "LP-FT", "ID test", "OOD avg."
    looks = chosen.looks or looks_for(list(cells))
    name = {s: looks[s].label if s in looks else s for s in cells}
    if fmt == "latex":
        lines = [f"% selection: {label}; accuracy %, {legend}", r"\begin{tabular}{l" + "r" * (len(columns) + 1) + "}",
                 r"\toprule", " & ".join(["Strategy", "Seeds", *[latex_escape(column_label(c)) for c in columns]])
                 + r" \\", r"\midrule"]
        for s in cells:
            vals = [(r"\textbf{%s}" if best[c] == s else "%s") % cell_text(cells[s][c], r"$\pm$") for c in columns]
            lines.append(" & ".join([latex_escape(name[s]), str(seeds[s]), *vals]) + r" \\")
        return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"
    bold = (lambda t: f"**{t}**") if fmt == "md" else (lambda t: f"*{t}")
    header = ["Strategy", "Seeds", *map(column_label, columns)] if fmt == "md" else ["strategy", "seeds", *columns]
    rows = [[md_escape(name[s]) if fmt == "md" else s, str(seeds[s]),
             *[bold(cell_text(cells[s][c])) if best[c] == s else cell_text(cells[s][c]) for c in columns]]
            for s in cells]
    if fmt == "md":
        # OOD sets are named by users' folders, as strategies by their plugins: both are text.
        out = ["| " + " | ".join(md_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return f"Selection: {label}. Accuracy %, {legend}; best in bold.\n\n" + "\n".join(out) + "\n"
    return f"selection: {label}; accuracy %; * best\n{legend}\n" + format_table(header, rows) + "\n"


COLUMN_LABELS = {"id_val": "ID val", "id_test": "ID test", "ood_avg": "OOD avg."}


def column_label(column: str) -> str:
    """An eval set as a paper's table heads it; an OOD set keeps its own (folder) name."""
    return COLUMN_LABELS.get(column, column)


def latex_escape(text: str) -> str:
    """A name as LaTeX text (strategy names come from users' plugins: `my_ft`, `a/ft`)."""
    special = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(special.get(ch, ch) for ch in str(text))


def md_escape(text: str) -> str:
    """A name as Markdown table text: its pipes and emphasis characters literal."""
    return "".join("\\" + ch if ch in "\\|*_`[]<>" else ch for ch in str(text))


def paper_sentence(chosen: Chosen) -> str:
    """"FT vs LP: +x ID, -y OOD; LP-FT vs FT: ..." from the selected models' means, each
    difference that of the rounded means the table shows (`lpft.text.comparison`)."""
    means = chosen.frame.groupby("strategy")[["id_test", "ood_avg"]].mean()
    looks = chosen.looks or looks_for(list(means.index))
    return comparison({s: (r.id_test, r.ood_avg) for s, r in means.iterrows()}, {s: looks[s].label for s in looks})


def owners_line(owners: list[tuple[str, float, float]]) -> str:
    parts = [f"{s} (ID {pct(lo)}" + ("" if pct(hi) == pct(lo) else f"–{pct(hi)}") + "%)" for s, lo, hi in owners]
    return "OOD-average frontier, by increasing ID accuracy: " + ", ".join(parts)
