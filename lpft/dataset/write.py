"""Writing the results dataset: a trial's rows as one Parquet file, whole or not at all
(`lpft.dataset`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lpft.dataset.schema import HparamColumns, rows_table
from lpft.footer import CONSTANT_KEY, constants
from lpft.storage import Location, locate


def write_table(table: pa.Table, where: Location | str | Path, footer: Mapping[bytes, bytes] | None = None) -> None:
    """The whole file or nothing: see `Location.open_write`. `footer`: key-value metadata of the
    Parquet file only, not of the Arrow schema stored in it (which then stays the same across a
    sweep's files, so a reader decodes it once)."""
    with locate(where).open_write() as f, pq.ParquetWriter(f, table.schema) as writer:
        writer.write_table(table)
        if footer:
            writer.add_key_value_metadata(dict(footer))


def trial_path(results: Location | str | Path, strategy: str, trial_id: str) -> Location:
    return locate(results) / f"strategy={strategy}" / f"{trial_id}.parquet"


def write_trial(results: Location | str | Path, strategy: str, trial_id: str, rows: list[dict[str, Any]],
                hparams: HparamColumns) -> Location | None:
    if not rows:
        return None
    where = trial_path(results, strategy, trial_id)
    table = rows_table(rows, hparams)
    write_table(table, where, {CONSTANT_KEY: constants(table)})
    return where


