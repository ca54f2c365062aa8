"""A finished sweep's folder, opened to add to its results without Ray (`lpft wise`, `lpft soup`):
its stored spec (plugins loaded), its trials table, and its saved models, each read as data that
someone else may have written (plain names, no link out of the folder, one line when damaged)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lpft.errors import InputError, clip, quote
from lpft.storage import Location, locate, outside
from lpft.sweeps.paths import import_plugins
from lpft.sweeps.preflight import check_links, read_stored_spec
from lpft.sweeps.spec import NAME, SweepSpec, parse_spec
from lpft.sweeps.trial_row import TrialRow


@dataclass
class FinishedSweep:
    root: Location
    spec: SweepSpec
    trials: list[TrialRow]

    def model(self, trial_id: object) -> Location:
        """`models/<trial>.pt` of a trial named in the sweep's files: refused unless the name is a
        plain one and neither models/ nor the file is a link out of the folder (it may not exist)."""
        # read back from a file: a path component only once it is one (no '..', no separators)
        if not re.fullmatch(NAME, str(trial_id)):
            raise InputError(f"{self.root / 'trials.parquet'}: trial id {trial_id!r} is not a plain name")
        model = self.root / "models" / f"{trial_id}.pt"
        target = outside(model, self.root)
        if target is not None:  # models/ or the file, a link: a model lpft did not save
            raise InputError(f"{model}: a symbolic link out of the sweep folder (to {quote(target)}); refused: "
                             "a sweep reads its own saved models only")
        return model

    def settings(self, seed: int, strategy: str) -> dict:
        """What a trial of `strategy` on this sweep's benchmark and backbone is run with, on
        `seed`: on the CPU unless the sweep gave the strategy's trials a GPU (as its workers ran)."""
        spec = self.spec
        gpu = spec.resources_of(strategy)["gpu"] if strategy in spec.strategies else spec.gpu
        settings = {**spec.benchmark_params, "seed": seed, "device": "auto" if gpu > 0 else "cpu"}
        settings.update({k: v for k, v in (("backbone", spec.backbone), ("weights", spec.weights)) if v})
        if spec.resample_split:  # the seed drew the split its trials ran on
            settings["resample_split"] = True
        return settings


def open_sweep(results: str) -> FinishedSweep:
    root = locate(results)
    if root.name == "results":  # the results folder itself was given
        root = root.parent
    for needed in ("spec.yaml", "trials.parquet"):
        if not (root / needed).exists():
            raise InputError(f"{root}: no {needed} (give a sweep folder written by lpft sweep)")
    check_links(root)  # results/ is written below, models/ read
    raw = read_stored_spec(root)
    import_plugins(raw, Path.cwd())  # the sweep's own plugins (its paths are already absolute)
    spec = parse_spec(raw, str(root / "spec.yaml"))
    try:
        records = pq.read_table((root / "trials.parquet").path, filesystem=root.fs).to_pylist()
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{root / 'trials.parquet'}: not a trials table lpft wrote "
                         f"({clip(str(e).splitlines()[0] if str(e) else type(e).__name__)})") from None
    return FinishedSweep(root, spec, [TrialRow.from_record(r) for r in records])
