"""The results dataset's schema: its columns, the metadata its files declare, and what makes a
file's schema lpft's (`lpft.dataset`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lpft.calibration import COLUMNS, RELIABILITY
from lpft.errors import quote
from lpft.looks import LOOKS_KEY, Look
from lpft.looks import encode as encode_looks
from lpft.results import PER_CLASS

SCHEMA_VERSION = 2
# The versions this lpft reads: version 1 is version 2 without the calibration columns (read as empty).
READABLE_VERSIONS = (1, 2)

# The required columns, in order; `strategy` is the hive partition key, not stored in the files.
REQUIRED = pa.schema([
    ("sweep", pa.string()), ("strategy", pa.string()), ("trial_id", pa.string()), ("seed", pa.int64()),
    ("step", pa.int64()), ("eval_set", pa.string()), ("role", pa.string()), ("accuracy", pa.float64()),
])
# Stored after the required ones: what the trial ran on, whether the score is BatchNorm-adapted,
# how many examples it scored, and what the trial's seed changed ("" for nothing: a deterministic
# run); null in files written before lpft recorded them.
CONTEXT = pa.schema([("benchmark", pa.string()), ("node", pa.string()), ("adapt", pa.string()),
                     ("n_examples", pa.int64()), ("seed_controls", pa.string())])
# Then each evaluation's calibration (`lpft.calibration`: ECE, NLL, Brier ..., raw and `_ts`
# after temperature scaling, the temperature, and the reliability diagram's bins as three lists):
# null where it could not be computed, and absent from version-1 files.
CALIBRATION = pa.schema([(name, pa.float64()) for name in COLUMNS]
                        + list(zip(RELIABILITY, (pa.list_(pa.int64()), pa.list_(pa.float64()), pa.list_(pa.int64())))))

# Then each evaluation's per-class counts (`lpft.results.PER_CLASS`: examples and correct ones per
# true class, and the confusion counts for up to CONFUSION_MAX classes): null where not recorded,
# and absent from files written before lpft recorded them.
PER_CLASS_SCHEMA = pa.schema([(name, pa.list_(pa.int64())) for name in PER_CLASS])

VERSION_KEY = b"lpft.schema_version"
STEP_HPARAMS_KEY = b"lpft.step_hparams"  # JSON list: hyperparameters that vary along a trial
PATH_HPARAMS_KEY = b"lpft.path_hparams"  # JSON list: those whose steps form a path drawn as a curve
# trials.parquet's footer (written by lpft.sweeps.outcome, read by `lpft analyze`): each strategy's
# trial budget (JSON), and the signal that interrupted the sweep (absent when none did). In the
# footer, not a column: a strategy an interrupted sweep never reached has no rows to carry one.
BUDGET_KEY = b"lpft.budget"
INTERRUPTED_KEY = b"lpft.interrupted"
# Version-1 files written before these keys existed: the per-step hyperparameters lpft had then.
BEFORE_STEP_KEYS = {STEP_HPARAMS_KEY: b'["C", "alpha"]', PATH_HPARAMS_KEY: b'["alpha"]'}

_ARROW = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}


@dataclass(frozen=True)
class HparamColumns:
    """The `hp.*` columns every file carries: name -> Python type, and which vary per step; and
    how each registered strategy is shown (`lpft.looks`), which the files declare beside them."""

    types: Mapping[str, type]
    per_step: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    looks: Mapping[str, Look] = field(default_factory=dict)

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(f"hp.{k}", _ARROW[t]) for k, t in sorted(self.types.items())])

    def metadata(self) -> dict[bytes, bytes]:
        # The same for every file a sweep writes (every registered strategy's, not the file's
        # own): one schema, which the reader decodes once.
        return {VERSION_KEY: str(SCHEMA_VERSION).encode(),
                STEP_HPARAMS_KEY: json.dumps(sorted(self.per_step)).encode(),
                PATH_HPARAMS_KEY: json.dumps(sorted(self.paths)).encode(),
                **({LOOKS_KEY: encode_looks(self.looks)} if self.looks else {})}


def rows_table(rows: list[dict[str, Any]], hparams: HparamColumns) -> pa.Table:
    """Rows -> the stored table: required columns (but `strategy`), context, calibration, then hp.*."""
    stored = [f for f in REQUIRED if f.name != "strategy"]
    fields = stored + list(CONTEXT) + list(CALIBRATION) + list(PER_CLASS_SCHEMA) + list(hparams.schema())
    schema = pa.schema(fields, metadata=hparams.metadata())
    return pa.table({f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in fields}, schema=schema)


def schema_problem(schema: pa.Schema) -> str | None:
    """What makes one file's schema not lpft's (None if nothing): version, columns, types."""
    version = (schema.metadata or {}).get(VERSION_KEY)
    if version is not None and version not in {str(v).encode() for v in READABLE_VERSIONS}:
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        return f"results schema version {version.decode(errors='replace')}, this lpft reads {readable}"
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
    for key, value in step_keys(schema).items():  # read as JSON by every load: checked here, per file
        try:
            names = json.loads(value)
        except ValueError:
            names = None
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            return f"metadata {key.decode()} is not a JSON list of names: {quote(value.decode(errors='replace'))}"
    return None


def step_keys(schema: pa.Schema) -> dict[bytes, bytes]:
    meta = schema.metadata or {}
    return {key: meta.get(key, before) for key, before in BEFORE_STEP_KEYS.items()}


def step_hparams(schema: pa.Schema | Mapping[bytes, bytes]) -> tuple[set[str], set[str]]:
    """(per-step, path) hyperparameter names, as the files declare them (a table's schema, or
    `Loaded.metadata`): their `hp.*` columns."""
    keys = step_keys(schema if isinstance(schema, pa.Schema) else pa.schema([], metadata=dict(schema)))
    per_step, paths = json.loads(keys[STEP_HPARAMS_KEY]), json.loads(keys[PATH_HPARAMS_KEY])
    return {f"hp.{k}" for k in per_step}, {f"hp.{k}" for k in paths}
