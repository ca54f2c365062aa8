"""A trial as the trials table holds it: one row of `trials.parquet`, one ledger entry's end.

Read by attribute everywhere (the summary, the live progress, the Optuna study, wise, resume);
written and read back as a flat record only at the edges, the Parquet table and the ledger's
JSON, where the hyperparameters are the `hp.<name>` columns and the per-step ones a
selected run used (LP's C, WiSE's alpha) the `selected_hp.<name>` columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lpft.trainables.trainable import SELECTED_HP

HP = "hp."
METRICS = ("id_val", "id_test", "ood_avg")  # the seed means every view of a selected config shows


@dataclass(frozen=True)
class TrialRow:
    trial_id: str
    strategy: str | None
    stage: str | None  # search, replicate or a derived stage (wise, soup)
    seed: int | None
    status: str | None  # lpft.results' statuses, or whatever a damaged ledger holds (counted as none)
    node: str | None = None
    wall_time_s: float | None = None
    resumed_from_step: int | None = None  # the checkpoint a retried run restarted from (-1: none)
    cpus: float | None = None
    gpus: float | None = None
    id_val: float | None = None  # at the selected step
    id_test: float | None = None
    ood_avg: float | None = None
    seed_controls: str | None = None  # what the seed changed ("": nothing, a deterministic run)
    n_id_val: int | None = None  # ID validation examples scored
    error: str | None = None  # an errored trial's first line
    traceback: str | None = None  # where its whole traceback is
    hparams: Mapping[str, Any] = field(default_factory=dict)  # its config, without the seed
    selected: Mapping[str, Any] = field(default_factory=dict)  # per-step hyperparameters at the selected step

    def metric(self, name: str) -> float | None:
        """The accuracy `name` (id_val, id_test, ood_avg) at the selected step; None if not reached."""
        return getattr(self, name) if name in METRICS else None

    def record(self) -> dict[str, Any]:
        """As a flat record: the trials table's columns, the ledger's JSON."""
        plain = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                 if f.name not in ("hparams", "selected")}
        return {**plain, **{HP + k: v for k, v in self.hparams.items()},
                **{SELECTED_HP + k: v for k, v in self.selected.items()}}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TrialRow:
        """From a flat record (a trials table's row, a ledger entry's); columns lpft does not know are left out."""
        names = {f.name for f in dataclasses.fields(cls)} - {"hparams", "selected"}
        return cls(**{k: record.get(k) for k in names},  # type: ignore[arg-type]  # a record's cells are Any
                   hparams={k.removeprefix(HP): v for k, v in record.items() if k.startswith(HP)},
                   selected={k.removeprefix(SELECTED_HP): v for k, v in record.items() if k.startswith(SELECTED_HP)})
