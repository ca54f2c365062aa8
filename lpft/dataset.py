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


def _schema_problem(schema: pa.Schema) -> str | None:
    """What makes one file's schema not lpft's (None if nothing): version, columns, types."""
    version = (schema.metadata or {}).get(VERSION_KEY)
    if version is not None and version != str(SCHEMA_VERSION).encode():
        return f"results schema version {version.decode(errors='replace')}, this lpft reads {SCHEMA_VERSION}"
    for expected in REQUIRED:
        if expected.name == "strategy" and expected.name not in schema.names:
            continue  # the partition key, in the path
        if expected.name not in schema.names:
            return f"not an lpft results file: column {expected.name!r} is missing"
        actual = schema.field(expected.name).type
        if pa.types.is_dictionary(actual):
            actual = actual.value_type
        if actual != expected.type:
            return f"column {expected.name!r} has type {actual}, expected {expected.type}"
    return None


@dataclass(frozen=True)
class Skipped:
    """A results file left out of a read (`skip_bad`), and why."""

    path: str
    reason: str


def _bad(where: str, reason: str, skip_bad: bool, skipped: list[Skipped]) -> None:
    if not skip_bad:
        raise InputError(f"{where}: {reason} (--skip-bad leaves such files out)")
    skipped.append(Skipped(where, reason))


def _good_files(path: Location, raw: str | Path, skip_bad: bool, skipped: list[Skipped]) -> list[str]:
    """The folder's Parquet files whose footer reads and whose schema is lpft's."""
    try:
        files = path.files(".parquet")
    except OSError as e:  # an unreachable endpoint, a refused credential
        raise InputError(f"{raw}: cannot list results: {str(e).splitlines()[0]}") from None
    if not files:
        raise InputError(f"{raw}: no results (expected Parquet files under {path})")
    good = []
    for file in files:
        try:
            with path.fs.open_input_file(file) as f:
                problem = _schema_problem(pq.read_schema(f))
        except (pa.ArrowInvalid, OSError) as e:  # truncated, garbage, empty
            problem = f"unreadable Parquet ({str(e).splitlines()[0]})"
        if problem:
            _bad(_display(path, file), problem, skip_bad, skipped)
        else:
            good.append(file)
    if not good:
        raise InputError(f"{raw}: no readable results (all {len(files)} files were left out)")
    return good


def _display(path: Location, file: str) -> str:
    return file if path.is_local else f"{path.scheme}://{file}"


def _check_rows(table: pa.Table, path: Location, skip_bad: bool, skipped: list[Skipped]) -> pa.Table:
    """Accuracies in [0, 1] and no (trial, step, eval set) scored twice with different values;
    a trial that breaks either is named by its file, or left out with `skip_bad`."""
    import pyarrow.compute as pc

    acc = table["accuracy"]
    out_of_range = pc.fill_null(pc.or_(pc.less(acc, 0.0), pc.greater(acc, 1.0)), True)
    bad: dict[tuple[str, str], str] = {}
    for s, t, a in zip(*(table.filter(out_of_range)[c].to_pylist() for c in ("strategy", "trial_id", "accuracy"))):
        bad.setdefault((s, t), f"accuracy {a!r} is not in [0, 1]")
    keys = [k for k in ("strategy", "trial_id", "step", "eval_set", "adapt") if k in table.column_names]
    spread = table.group_by(keys).aggregate([("accuracy", "min"), ("accuracy", "max")])
    clash = spread.filter(pc.not_equal(spread["accuracy_min"], spread["accuracy_max"]))
    for s, t, step, e in zip(*(clash[c].to_pylist() for c in ("strategy", "trial_id", "step", "eval_set"))):
        bad.setdefault((s, t), f"step {step} on {e} is recorded twice with different accuracies")
    for (s, t), reason in sorted(bad.items()):
        _bad(_display(path, f"{path.path}/strategy={s}/{t}.parquet"), reason, skip_bad, skipped)
    if not bad:
        return table
    drop = pc.is_in(pc.binary_join_element_wise(table["strategy"], table["trial_id"], "/"),
                    pa.array([f"{s}/{t}" for s, t in bad]))
    return table.filter(pc.invert(drop))


def read_results(paths: Iterable[str | Path], *, sweep: str | None = None, strategy: str | None = None,
                 benchmark: str | None = None, eval_set: str | None = None, skip_bad: bool = False,
                 skipped: list[Skipped] | None = None) -> pa.Table:
    """One or several sweeps' results (local, shared or object-store folders) as one table.

    Every file's schema and version is checked, every accuracy must lie in [0, 1], and no
    evaluation may be recorded twice with different values: each problem is one InputError
    naming the file, or with `skip_bad` the file (or trial) is left out and listed in `skipped`.
    Filters are pushed down to Arrow's scanner; the table's metadata declares the per-step
    hyperparameters of every folder read (`step_hparams`)."""
    tables = []
    skipped = [] if skipped is None else skipped
    declared: dict[bytes, set[str]] = {STEP_HPARAMS_KEY: set(), PATH_HPARAMS_KEY: set()}
    for raw in paths:
        path = _folder(locate(raw))
        files = _good_files(path, raw, skip_bad, skipped)
        dataset = ds.dataset(files, filesystem=path.fs, format="parquet", partitioning=ds.partitioning(
            pa.schema([("strategy", pa.string())]), flavor="hive"), partition_base_dir=path.path)
        filters = [ds.field(k) == v for k, v in
                   (("sweep", sweep), ("strategy", strategy), ("benchmark", benchmark), ("eval_set", eval_set))
                   if v is not None and (k != "benchmark" or "benchmark" in dataset.schema.names)]
        expr = None
        for f in filters:
            expr = f if expr is None else expr & f
        tables.append(_check_rows(dataset.to_table(filter=expr), path, skip_bad, skipped))
        for key, names in declared.items():
            names.update(json.loads(_step_keys(dataset.schema)[key]))
    table = pa.concat_tables(tables, promote_options="permissive")
    # The scan and checks peak at ~3x the table; Arrow's allocator keeps what they freed
    # unless told (at a million rows, 300 MB more for the analysis that follows).
    pa.default_memory_pool().release_unused()
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
