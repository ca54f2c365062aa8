"""Whether a sweep is whole, from the trials table it leaves: `lpft analyze` of an incomplete
one says which strategies are short of their trial budget (on the console and in report.html).

A sweep writes `trials.parquet` when it ends or a signal stops it (`lpft.sweeps.outcome`): a
row per trial asked for, `interrupted` (`running` in a table from before lpft recorded signals)
for one cut off before it ended, and in the file's footer each strategy's budget and the
signal, if one stopped the sweep. The budget is in the footer, not a column, because a
strategy the sweep never reached has no row to carry it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from lpft.dataset import BUDGET_KEY, INTERRUPTED_KEY
from lpft.results import ENDED
from lpft.storage import Location


def read_trials(root: Location) -> tuple[dict[str, list[str]], dict[bytes, bytes]]:
    """`<root>/trials.parquet`: each row's trial_id, strategy and status (column -> values), and
    the file's footer."""
    import pyarrow.parquet as pq

    with root.fs.open_input_file((root / "trials.parquet").path) as f:
        file = pq.ParquetFile(f)
        table = file.read(columns=["trial_id", "strategy", "status"])
        footer = dict(file.metadata.metadata or {})
    return {c: [str(v) for v in table.column(c).to_pylist()] for c in table.column_names}, footer


def incomplete_note(strategies: list[str], statuses: list[str], footer: dict[bytes, bytes]) -> str | None:
    """One line naming the strategies short of their budget, or None for a sweep that ran to
    its end. A sweep that ended by itself is whole even when short of a budget: a strategy whose
    search completed no trial has no best config to replicate."""
    interrupted = footer.get(INTERRUPTED_KEY, b"").decode() or None
    budgets: dict[str, Any] = json.loads(footer[BUDGET_KEY]) if BUDGET_KEY in footer else {}
    if not (isinstance(budgets, dict) and all(type(v) is int for v in budgets.values())):  # a damaged footer
        raise ValueError(f"{BUDGET_KEY.decode()} is not a JSON mapping of strategy to trial count")
    ended = Counter(s for s, status in zip(strategies, statuses) if status in ENDED)
    cut = Counter(s for s, status in zip(strategies, statuses) if status not in ENDED)
    if not interrupted and not cut:
        return None
    short = []
    for name in budgets or dict.fromkeys(strategies):
        cut_off = f" ({cut[name]} cut off)" if cut[name] else ""
        if name in budgets and ended[name] < budgets[name]:
            short.append(f"{name} {ended[name]} of {budgets[name]} trials ended{cut_off}")
        elif name not in budgets and cut[name]:  # a table without budgets: only what was cut off
            short.append(f"{name} {ended[name]} trials ended{cut_off}")
    if not short:  # the signal came once every trial had ended
        return None
    how = f"interrupted by {interrupted}" if interrupted else "stopped before its end"
    return (f"incomplete sweep ({how}): {', '.join(short)}; this analysis "
            "has the trials that ran, a cut-off one up to its last checkpoint; `lpft sweep SPEC --storage ... "
            "--resume` completes it")
