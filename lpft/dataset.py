"""The results dataset: its schema, how a trial's rows are written, and how results are read back.

One row per evaluation of one model on one eval set (README, "Results schema"). Files are
hive-partitioned by strategy, one Parquet file per trial, written whole (temp + rename, or one
PUT): results/strategy=<s>/<trial>.parquet. The `strategy` column lives in the path only (a
copy inside the files would clash with the partition key in pandas and pyarrow), so read the
folder with hive partitioning. A reader (or a resumed sweep) never sees half a file, and a
trial re-run under the same id replaces its file instead of adding rows.

Every file carries every registered strategy's hyperparameters as `hp.<name>` columns (null
where a strategy has no such field), so all files of a sweep share one schema and any reader
can scan the folder without unifying schemas (pyarrow.dataset takes the first file's schema).
Which of them change along a trial (LP's C, WiSE's alpha) is in the files' metadata.

No torch and no Ray here: the analysis reads through this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from lpft.errors import InputError
from lpft.storage import Location, locate

SCHEMA_VERSION = 1

# The required columns, in order; `strategy` is the hive partition key, not stored in the files.
REQUIRED = pa.schema([
    ("sweep", pa.string()), ("strategy", pa.string()), ("trial_id", pa.string()), ("seed", pa.int64()),
    ("step", pa.int64()), ("eval_set", pa.string()), ("role", pa.string()), ("accuracy", pa.float64()),
])
# Stored after the required ones: what the trial ran on, and whether the score is BatchNorm-adapted.
CONTEXT = pa.schema([("benchmark", pa.string()), ("node", pa.string()), ("adapt", pa.string())])

VERSION_KEY = b"lpft.schema_version"
STEP_HPARAMS_KEY = b"lpft.step_hparams"  # JSON list: hyperparameters that vary along a trial
PATH_HPARAMS_KEY = b"lpft.path_hparams"  # JSON list: those whose steps form a path drawn as a curve
# Version-1 files written before these keys existed: the per-step hyperparameters lpft had then.
BEFORE_STEP_KEYS = {STEP_HPARAMS_KEY: b'["C", "alpha"]', PATH_HPARAMS_KEY: b'["alpha"]'}

_ARROW = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}


@dataclass(frozen=True)
class HparamColumns:
    """The `hp.*` columns every file carries: name -> Python type, and which vary per step."""

    types: Mapping[str, type]
    per_step: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(f"hp.{k}", _ARROW[t]) for k, t in sorted(self.types.items())])

    def metadata(self) -> dict[bytes, bytes]:
        return {VERSION_KEY: str(SCHEMA_VERSION).encode(),
                STEP_HPARAMS_KEY: json.dumps(sorted(self.per_step)).encode(),
                PATH_HPARAMS_KEY: json.dumps(sorted(self.paths)).encode()}


def rows_table(rows: list[dict[str, Any]], hparams: HparamColumns) -> pa.Table:
    """Rows -> the stored table: required columns (but `strategy`), context, then hp.*."""
    stored = [f for f in REQUIRED if f.name != "strategy"]
    fields = stored + list(CONTEXT) + list(hparams.schema())
    schema = pa.schema(fields, metadata=hparams.metadata())
    return pa.table({f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in fields}, schema=schema)


def write_table(table: pa.Table, where: Location | str | Path) -> None:
    """The whole file or nothing: see `Location.open_write`."""
    with locate(where).open_write() as f:
        pq.write_table(table, f)


def trial_path(results: Location | str | Path, strategy: str, trial_id: str) -> Location:
    return locate(results) / f"strategy={strategy}" / f"{trial_id}.parquet"


def write_trial(results: Location | str | Path, strategy: str, trial_id: str, rows: list[dict[str, Any]],
                hparams: HparamColumns) -> Location | None:
    if not rows:
        return None
    where = trial_path(results, strategy, trial_id)
    write_table(rows_table(rows, hparams), where)
    return where


def _folder(where: Location) -> Location:
    """A sweep folder (holding results/) or the results folder itself."""
    return where / "results" if (where / "results").is_dir() else where


def _check(dataset: ds.Dataset, where: Location) -> None:
    version = (dataset.schema.metadata or {}).get(VERSION_KEY)
    if version is not None and int(version) != SCHEMA_VERSION:
        raise InputError(f"{where}: results schema version {int(version)}, this lpft reads {SCHEMA_VERSION}")
    names = dataset.schema.names
    for expected in REQUIRED:
        if expected.name not in names:
            raise InputError(f"{where}: not an lpft results dataset: column {expected.name!r} is missing")
        actual = dataset.schema.field(expected.name).type
        if expected.name == "strategy" and pa.types.is_dictionary(actual):
            actual = actual.value_type
        if actual != expected.type:
            raise InputError(f"{where}: column {expected.name!r} has type {actual}, expected {expected.type}")


def read_results(paths: Iterable[str | Path], *, sweep: str | None = None, strategy: str | None = None,
                 benchmark: str | None = None, eval_set: str | None = None) -> pa.Table:
    """One or several sweeps' results (local, shared or object-store folders) as one table,
    refusing what is not in the schema. Filters are pushed down to Arrow's scanner; the table's
    metadata declares the per-step hyperparameters of every folder read (`step_hparams`)."""
    tables = []
    declared: dict[bytes, set[str]] = {STEP_HPARAMS_KEY: set(), PATH_HPARAMS_KEY: set()}
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
        for key, names in declared.items():
            names.update(json.loads(_step_keys(dataset.schema)[key]))
    table = pa.concat_tables(tables, promote_options="permissive")
    merged = {key: json.dumps(sorted(names)).encode() for key, names in declared.items()}
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **merged})


def _step_keys(schema: pa.Schema) -> dict[bytes, bytes]:
    meta = schema.metadata or {}
    return {key: meta.get(key, before) for key, before in BEFORE_STEP_KEYS.items()}


def step_hparams(schema: pa.Schema) -> tuple[set[str], set[str]]:
    """(per-step, path) hyperparameter names, as the files declare them: their `hp.*` columns."""
    keys = _step_keys(schema)
    per_step, paths = json.loads(keys[STEP_HPARAMS_KEY]), json.loads(keys[PATH_HPARAMS_KEY])
    return {f"hp.{k}" for k in per_step}, {f"hp.{k}" for k in paths}
