"""Per-file constants in a results file's Parquet footer, and the read that uses them.

A trial's file holds ~700 rows per 100 steps in which most columns (sweep, trial_id, seed,
hp.*) hold one value. `constants` names them, with their values and the row count, under
`CONSTANT_KEY` in the Parquet footer (not in the Arrow schema stored there, which then stays
the same across a sweep's files); `scan_varying` reads a folder's files scanning only the
other columns and repeats each file's values over its rows: a million rows in 1,430 files
load ~25% faster. Anything it cannot vouch for (a file without the key, a filter on a column
that varies, row counts that do not add up) returns None, and the caller scans everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import polars as pl

# JSON {"rows": n, "columns": {name: value}}.
CONSTANT_KEY = b"lpft.constant"


def constants(table: pa.Table) -> bytes:
    """`CONSTANT_KEY`'s value: the columns with one value (null included, NaN never) in every row,
    read back from the typed table so that the JSON holds exactly what the file does."""
    columns = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        first = values[0] if values else None
        if values and all(v == first and type(v) is type(first) for v in values):
            columns[name] = first
    return json.dumps({"rows": table.num_rows, "columns": columns}).encode()


def scan_varying(files: list[str], footers: list[bytes | None], schema: pa.Schema, filters: dict[str, str],
                 without: tuple[str, ...], file_column: str) -> pl.DataFrame | None:
    """The rows with only the varying columns scanned: the constant ones are each file's footer
    value (`CONSTANT_KEY`) repeated over its rows, and `strategy` its folder's name. None (scan
    everything) where that does not apply: a file without the key or outside strategy=<name>/,
    a filter on a column that varies, row counts that do not add up. `file_column`: each row's
    file, as its index in `files`."""
    import polars as pl

    parents = [Path(f).parent.name for f in files]
    if any(c is None for c in footers) or not all(p.startswith("strategy=") for p in parents):
        return None
    try:
        parsed = [json.loads(c) for c in footers if c is not None]  # every one is: checked just above
        rows = [int(f["rows"]) for f in parsed]
        values = [f["columns"] for f in parsed]
    except (ValueError, KeyError, TypeError):
        return None
    if any(n < 0 for n in rows) or not all(isinstance(v, dict) for v in values):
        return None  # a footer that is not lpft's (written by hand, damaged): read the columns
    strategies = [unquote(p.removeprefix("strategy=")) for p in parents]
    constant = set(schema.names).intersection(*values).difference(without)
    if any(pa.types.is_dictionary(schema.field(c).type) for c in constant):
        return None
    keep = list(range(len(files)))
    for key, value in filters.items():
        if key not in constant | {"strategy"}:
            return None  # a filter on a varying column: the scan's own
        keep = [i for i in keep if (strategies[i] if key == "strategy" else values[i][key]) == value]
    varying = [c for c in schema.names if c not in constant and c not in without]
    if not keep or not varying:
        return None
    lazy = pl.scan_parquet([files[i] for i in keep], hive_partitioning=False, glob=False)
    frame = lazy.select(varying).collect().rechunk()
    if frame.height != sum(rows[i] for i in keep):
        return None
    index = pl.Series(np.repeat(np.arange(len(keep), dtype=np.uint32), [rows[i] for i in keep]))
    try:
        # from_arrow of one pa.Array is a Series (its stubs say DataFrame | Series)
        repeated: dict[str, pl.Series] = {
            c: cast("pl.Series", pl.from_arrow(pa.array([values[i][c] for i in keep], type=schema.field(c).type)))
            .gather(index) for c in constant}
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return None  # a footer value that is not of its column's type: read the column instead
    repeated["strategy"] = pl.Series([strategies[i] for i in keep], dtype=pl.String).gather(index)
    repeated[file_column] = pl.Series(keep, dtype=pl.UInt32).gather(index)
    names = [c for c in schema.names if c not in without] + ["strategy", file_column]
    return frame.with_columns(**repeated).select(names)
