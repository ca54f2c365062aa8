"""Reading what lpft prints, as a person reads it."""

import re


def summary_cells(out: str, strategy: str) -> list[str]:
    """A strategy's row of a printed summary, cut where the table's rule line has its columns
    (a cell may hold a space: `best hp` is "lr 0.105")."""
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(strategy + " "))
    rule = next(lines[i] for i in range(row, -1, -1) if lines[i].startswith("---"))
    return [lines[row][m.start():m.end()].strip() for m in re.finditer("-+", rule)]
