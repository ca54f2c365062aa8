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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpft.errors import InputError
from lpft.storage import Location
from lpft.sweeps.spec import NAME

FOLDER = "ledger"


@dataclass(frozen=True)
class Entry:
    trial: str  # the trial's name: its results file, checkpoints and saved model are named by it
    order: int  # when it was asked for, so a resume re-issues in the same order
    config: dict[str, Any]
    row: dict[str, Any] | None = None  # the trials-table row once it ended; None while asked only

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

    def ended(self, entry: Entry, row: dict[str, Any]) -> None:
        self._write(Entry(entry.trial, entry.order, entry.config, row))

    def _write(self, entry: Entry) -> None:
        body = {"trial": entry.trial, "order": entry.order, "config": entry.config, "row": entry.row}
        with (self.where / f"{entry.trial}.json").open_write() as f:
            f.write(json.dumps(body, default=_plain).encode())

    def entries(self) -> dict[str, Entry]:
        """Every trial recorded, by name, in the order they were asked for."""
        found = []
        for path in self.where.files(".json"):
            with self.where.fs.open_input_stream(path) as f:
                body = json.loads(f.read())
            trial = str(body.get("trial"))
            # a name from a file becomes a path component (checkpoints/<trial>) only once it is one
            if not re.fullmatch(NAME, trial) or Path(path).stem != trial:
                raise InputError(f"{path}: trial name {trial!r} is not this file's plain name; "
                                 "the sweep's ledger was edited by hand")
            found.append(Entry(trial, int(body["order"]), body["config"], body.get("row")))
        return {e.trial: e for e in sorted(found, key=lambda e: e.order)}


def _plain(value: Any) -> Any:
    """numpy scalars in a trial's metrics, as JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")
