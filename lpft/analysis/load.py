"""Load one or several sweeps' results folders as one Arrow table, refusing what is not in the schema.

A folder is a local or shared path or an object-store URI (s3://bucket/prefix/sweep).

Filters (sweep, strategy, benchmark, eval set) are pushed down to Arrow's scanner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.dataset as ds

from lpft.errors import InputError
from lpft.storage import Location, locate
from lpft.results import REQUIRED_COLUMNS, SCHEMA_VERSION

TYPES = {"sweep": pa.string(), "strategy": pa.string(), "trial_id": pa.string(), "seed": pa.int64(),
         "step": pa.int64(), "eval_set": pa.string(), "role": pa.string(), "accuracy": pa.float64()}


def _folder(where: Location) -> Location:
    """A sweep folder (holding results/) or the results folder itself."""
    return where / "results" if (where / "results").is_dir() else where


def _check(dataset: ds.Dataset, where: Location) -> None:
    version = (dataset.schema.metadata or {}).get(b"lpft.schema_version")
    if version is not None and int(version) != SCHEMA_VERSION:
        raise InputError(f"{where}: results schema version {int(version)}, this lpft reads {SCHEMA_VERSION}")
    names = dataset.schema.names
    for column in REQUIRED_COLUMNS:
        if column not in names:
            raise InputError(f"{where}: not an lpft results dataset: column {column!r} is missing")
        actual = dataset.schema.field(column).type
        if column == "strategy" and pa.types.is_dictionary(actual):
            actual = actual.value_type
        if actual != TYPES[column]:
            raise InputError(f"{where}: column {column!r} has type {actual}, expected {TYPES[column]}")


def load_results(paths: Iterable[str | Path], *, sweep: str | None = None, strategy: str | None = None,
                 benchmark: str | None = None, eval_set: str | None = None) -> pa.Table:
    tables = []
    for raw in paths:
        path = _folder(locate(raw))
        files = path.files(".parquet")
        if not files:
            raise InputError(f"{raw}: no results (expected Parquet files under {path})")
        dataset = ds.dataset(files, filesystem=path.fs, format="parquet", partitioning=ds.partitioning(
            pa.schema([("strategy", pa.string())]), flavor="hive"), partition_base_dir=path.path)
        _check(dataset, path)
        filters = [ds.field(k) == v for k, v in
                   (("sweep", sweep), ("strategy", strategy), ("benchmark", benchmark), ("eval_set", eval_set))
                   if v is not None and (k != "benchmark" or "benchmark" in dataset.schema.names)]
        expr = None
        for f in filters:
            expr = f if expr is None else expr & f
        tables.append(dataset.to_table(filter=expr))
    return pa.concat_tables(tables, promote_options="permissive")
