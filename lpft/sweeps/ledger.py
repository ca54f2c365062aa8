"""A sweep's own durable record of its trials: what it asked for, and how each trial ended.

Ray's experiment state is written every few seconds, is absent in a sweep's first seconds,
and can lag its searcher's state; a sweep killed in such a gap lost or duplicated trials on
`--resume`. So the driver records each trial itself, one small JSON file per trial under
`<sweep>/ledger/`, written whole (temp + rename, or one PUT):

- before a trial starts: its name and config (`asked`);
- when it ends: the trials-table row (`ended`).

`--resume` rebuilds the searcher from these files alone (`lpft.sweeps.searcher`), re-issues
every trial asked for and not ended under its own name (its results file and checkpoints
are named by it, so the re-run replaces its predecessor's rows), and never re-runs one that
ended. The trials table is this record rendered (`SweepOutcome`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpft.errors import InputError, json_object, quote
from lpft.names import is_name
from lpft.storage import Location, join_uri
from lpft.sweeps.trial_row import TrialRow

FOLDER = "ledger"


@dataclass(frozen=True)
class Entry:
    trial: str  # the trial's name: its results file, checkpoints and saved model are named by it
    order: int  # when it was asked for, so a resume re-issues in the same order
    config: dict[str, Any]
    row: TrialRow | None = None  # the trials-table row once it ended; None while asked only

    @property
    def ended(self) -> bool:
        return self.row is not None


class Ledger:
    def __init__(self, root: Location) -> None:
        self.where = root / FOLDER

    def exists(self) -> bool:
        return bool(self.where.files(".json"))

    def asked(self, trial: str, order: int, config: dict[str, Any]) -> None:
        self._write(Entry(trial, order, config))

    def ended(self, entry: Entry, row: TrialRow) -> None:
        self._write(Entry(entry.trial, entry.order, entry.config, row))

    def _write(self, entry: Entry) -> None:
        row = None if entry.row is None else entry.row.record()
        body = {"trial": entry.trial, "order": entry.order, "config": entry.config, "row": row}
        with (self.where / f"{entry.trial}.json").open_write() as f:
            f.write(json.dumps(body, default=_plain).encode())

    def entries(self) -> dict[str, Entry]:
        """Every trial recorded, by name, in the order they were asked for; a file that is not an
        entry as lpft writes it is one InputError naming it and what to do."""
        found = []
        models = (self.where.parent / "models").uri
        for path in self.where.files(".json"):
            with self.where.fs.open_input_stream(path) as f:
                body = f.read()
            stem = Path(path).stem
            body = json_object(body)
            problem = body if isinstance(body, str) else entry_problem(body, stem, models)
            if problem:
                results = f"{self.where.parent / 'results'}/strategy=*/{stem}.parquet"
                raise InputError(f"{path}: not a ledger entry as lpft writes it ({problem}); the sweep's ledger "
                                 f"was edited or damaged: restore it, or delete it and {results} (if there) "
                                 "so that the trial runs again")
            assert isinstance(body, dict)  # a str is what is wrong with it, raised just above
            row = body.get("row")
            found.append(Entry(stem, body["order"], body["config"], None if row is None else TrialRow.from_record(row)))
        return {e.trial: e for e in sorted(found, key=lambda e: e.order)}


def entry_problem(body: dict[str, Any], stem: str, models: str) -> str | None:
    """What is wrong with a ledger file named `<stem>.json`, or None for an entry as `Ledger` writes
    it. Its trial name becomes a path (checkpoints/<trial>), and a wise trial's `model` is read:
    one that is not the sweep's own `models/<trial>.pt` is refused, not loaded from elsewhere; so
    is a soup's `models` other than the sweep's own folder, or a candidate that is not a name."""
    trial, order, config, row = (body.get(k) for k in ("trial", "order", "config", "row"))
    if not is_name(trial) or trial != stem:
        return f"trial name {quote(trial)} is not this file's plain name"
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        return f"order is {quote(order)}"
    if not isinstance(config, dict) or not isinstance(config.get("strategy"), str):
        return f"config is {quote(config)}"
    if config.get("trial", trial) != trial:
        return f"config.trial is {quote(config.get('trial'))}"
    source = config.get("source_trial")
    if "model" in config and not (is_name(source)
                                  and config["model"] == join_uri(models, f"{source}.pt")):
        return f"config.model {quote(config['model'])} is not one of this sweep's saved models"
    if "models" in config and config["models"] != models:  # a soup's: its ingredients' folder
        return f"config.models {quote(config['models'])} is not this sweep's models folder"
    if "candidates" in config and not (isinstance(config["candidates"], str)
                                       and all(is_name(t) for t in config["candidates"].split(","))):
        return f"config.candidates {quote(config['candidates'])} is not a list of this sweep's trials"
    if row is not None and not isinstance(row, dict):
        return f"row is {quote(row)}"
    return None


def _plain(value: Any) -> Any:
    """numpy scalars in a trial's metrics, as JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")
