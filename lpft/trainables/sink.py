"""The results sink: one Parquet file per trial, written whole (temp + rename, or one PUT).

A reader (or a resumed sweep) never sees half a file, and a trial that is re-run
under the same id replaces its file instead of adding rows: each evaluation lands
exactly once. Files are hive-partitioned by strategy: results/strategy=<s>/<trial>.parquet;
the `strategy` column lives in the path only (a copy inside the files would clash with the
partition key in pandas and pyarrow), so read the folder with hive partitioning.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lpft.results import SCHEMA_VERSION
from lpft.storage import Location, locate

METADATA = {b"lpft.schema_version": str(SCHEMA_VERSION).encode()}
CORE = pa.schema([
    ("sweep", pa.string()), ("trial_id", pa.string()), ("seed", pa.int64()),
    ("step", pa.int64()), ("eval_set", pa.string()), ("role", pa.string()), ("accuracy", pa.float64()),
])


_ARROW = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}


def hp_schema() -> pa.Schema:
    """Every strategy's hyperparameters as `hp.<name>` columns (plus LP's per-step C).

    Every file carries all of them (null where a strategy has no such field), so each
    trial's file has the same schema and any reader can scan the folder without
    unifying schemas (pyarrow.dataset takes the first file's schema as the dataset's).
    """
    from lpft.strategies import STRATEGIES

    types: dict[str, pa.DataType] = {"C": pa.float64(), "alpha": pa.float64()}  # per-step: LP's C, WiSE's alpha
    for name in STRATEGIES:
        for key, kind in typing.get_type_hints(STRATEGIES[name].params).items():
            types.setdefault(key, _ARROW[kind])
    return pa.schema([pa.field(f"hp.{k}", t) for k, t in sorted(types.items())])


def rows_table(rows: list[dict[str, Any]], extra: pa.Schema | None = None) -> pa.Table:
    """Rows -> an Arrow table: the required columns, then `extra` (node, benchmark, ...), then hp.*."""
    fields = list(CORE) + list(extra or []) + list(hp_schema())
    schema = pa.schema(fields, metadata=METADATA)
    return pa.table({f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in fields}, schema=schema)


def write_table(table: pa.Table, where: Location | str | Path) -> None:
    """The whole file or nothing: see `Location.open_write`."""
    with locate(where).open_write() as f:
        pq.write_table(table, f)


def trial_path(results: Location | str | Path, strategy: str, trial_id: str) -> Location:
    return locate(results) / f"strategy={strategy}" / f"{trial_id}.parquet"


# Columns beyond the required ones that every trial file has.
EXTRA = pa.schema([("benchmark", pa.string()), ("node", pa.string()), ("adapt", pa.string())])


def write_trial(results: Location | str | Path, strategy: str, trial_id: str,
                rows: list[dict[str, Any]]) -> Location | None:
    if not rows:
        return None
    where = trial_path(results, strategy, trial_id)
    write_table(rows_table(rows, EXTRA), where)
    return where
