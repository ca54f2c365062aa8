"""What a sweep checks before its first trial, so bad input is one line instead of tracebacks
in every trial or a sweep that waits forever: its storage is writable, some node can run each
strategy's trials, and its folder holds no other sweep. All that needs no cluster is checked
before Ray starts (`preflight`): a refusal then takes a second or two, not Ray's 15-30 s."""

from __future__ import annotations

import os
import shlex
from typing import Any

from lpft.errors import InputError, quote
from lpft.storage import Location, outside
from lpft.sweeps.spec import SweepSpec


def check_storage(root: Location) -> None:
    """The sweep's folder exists or can be made, and (locally) can be written."""
    try:
        root.fs.create_dir(root.path, recursive=True)
    except OSError as e:  # a file in the way, a read-only parent, an unreachable bucket
        raise InputError(f"storage: cannot create the sweep folder {root}: {_reason(e)}") from None
    if root.is_local and not os.access(root.path, os.W_OK | os.X_OK):
        raise InputError(f"storage: the sweep folder {root} is not writable")


# What lpft writes and deletes in a sweep folder, and in checkpoints/, each trial's own folder.
OWN = ("results", "ledger", "locks", "checkpoints", "models", "ray", "spec.yaml", "trials.parquet", "optuna.journal")


def check_links(root: Location) -> None:
    """Nothing lpft writes or deletes in the sweep folder leads out of it: a `checkpoints/<trial>`
    linked to another folder had a resumed trial write and prune `step-*.pt` files there."""
    if not root.is_local:  # an object store has no links
        return
    places = [root / name for name in OWN]
    if (root / "checkpoints").is_dir() and outside(root / "checkpoints", root) is None:
        places += [root / "checkpoints" / name for name in sorted(os.listdir((root / "checkpoints").path))]
    for place in places:
        target = outside(place, root)
        if target is not None:
            raise InputError(f"{place}: a symbolic link out of the sweep folder (to {quote(target)}); lpft writes "
                             f"and deletes files there, so it is refused: remove the link "
                             f"({shlex.join(['rm', place.path])}) and run again")


def _reason(e: OSError) -> str:
    return e.strerror or (str(e).splitlines() or [type(e).__name__])[0]


def local_capacity() -> dict[str, float]:
    """What a local sweep's Ray instance will have, known before it starts: this machine's CPUs
    (`ray_start.init_ray` gives it all of them) and the GPUs Ray itself would detect (its own
    accelerator manager, capped by CUDA_VISIBLE_DEVICES as Ray caps it)."""
    from ray._private.accelerators import get_accelerator_manager_for_resource

    gpus = 0
    manager = get_accelerator_manager_for_resource("GPU")
    if manager is not None:
        gpus = manager.get_current_node_num_accelerators()
        visible = manager.get_current_process_visible_accelerator_ids()
        if visible is not None:
            gpus = min(gpus, len(visible))
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(gpus)}


def check_resources(spec: SweepSpec, nodes: list[dict[str, Any]], local: bool) -> list[str]:
    """Each strategy's per-trial resources fit on one of `nodes` (their resources, as Ray names
    them). A local instance never grows, so a trial that fits nowhere is refused; a cluster may
    autoscale, so there it is a note."""
    largest = max(((r.get("CPU", 0.0), r.get("GPU", 0.0)) for r in nodes), default=(0.0, 0.0))
    notes = []
    for name in spec.strategies:
        need = spec.resources_of(name)
        if any(r.get("CPU", 0.0) >= need["cpu"] and r.get("GPU", 0.0) >= need["gpu"] for r in nodes):
            continue
        where = f"strategies.{name}.resources" if spec.strategies[name].resources else "resources"
        message = (f"{where}: a {name} trial needs {need['cpu']:g} CPU and {need['gpu']:g} GPU, but no node "
                   f"{'here' if local else 'of the cluster'} has that (largest: {largest[0]:g} CPU, "
                   f"{largest[1]:g} GPU)")
        if local:
            raise InputError(message)
        notes.append(message + "; its trials wait until the cluster adds such a node")
    return notes


def ray_nodes() -> list[dict[str, Any]]:
    """The resources of each alive node of the cluster Ray is connected to."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]


def check_state(root: Location, spec: SweepSpec, resume: bool) -> None:
    """The sweep folder holds what this run expects: nothing yet, or with --resume the same
    sweep, resumable. Checked before Ray starts and again once the sweep holds its lock."""
    from lpft.sweeps.ledger import Ledger

    ledger = Ledger(root)
    if not resume and (ledger.exists() or (root / "results").files(".parquet")):
        raise InputError(f"{root} already holds results of sweep {spec.name!r}: pass --resume to continue it, "
                         "or choose another --storage")
    if resume and not ledger.exists() and (root / "results").files(".parquet"):
        raise InputError(f"{root}: its sweep was run by an lpft without a trial ledger and cannot be resumed; "
                         "start it again under another name or --storage")
    if resume and spec.file is not None:
        check_same_spec(root, spec)  # before any trial, and before spec.yaml is rewritten


def preflight(spec: SweepSpec, root: Location, resume: bool, local: bool) -> None:
    """Every check that needs no cluster, before Ray starts, in about a second: a tampered folder,
    a missing tracker, a trial too large for this machine, storage that cannot be written, a
    sweep of that name running, results that are another sweep's. The one write, making the
    sweep folder, comes after every check a new folder could fail: a refusal leaves nothing."""
    from lpft.sweeps.lock import SweepLock
    from lpft.sweeps.trackers import check_trackers

    check_links(root)  # before locks/ is written
    check_trackers(spec.loggers, root)
    if local:
        check_resources(spec, [local_capacity()], local=True)
    check_storage(root)
    SweepLock(root, spec.name).check_free()
    check_state(root, spec, resume)


def stored_spec(spec: SweepSpec) -> dict[str, Any]:
    """The spec as the sweep's spec.yaml keeps it: dumped from its file, storage without credentials."""
    from lpft.storage import redact

    return {**spec.stored(), "storage": redact(spec.storage)}


def read_stored_spec(root: Location) -> dict[str, Any]:
    """The sweep folder's spec.yaml as plain values. lpft writes it with `yaml.safe_dump`, so a
    tag (`!!python/object:...`), invalid YAML or another shape means it was edited or damaged:
    one line naming it and how to write it again."""
    from lpft.safe_yaml import load_yaml

    path = root / "spec.yaml"
    fix = "delete it and run `lpft sweep SPEC --resume` with the spec this sweep ran, which writes it again"
    try:
        raw = load_yaml(path.read_bytes(), str(path))
    except InputError as e:
        raise InputError(f"{e}; lpft writes this file with plain values only: {fix}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: not a spec (a mapping of fields) but {quote(raw)}: {fix}")
    return raw


def check_same_spec(root: Location, spec: SweepSpec) -> None:
    """--resume continues the sweep its folder holds: the same spec in meaning (both parsed, every
    default filled in: `lpft.sweeps.meaning`), or one line saying what changed (a changed spec
    would mix results of two sweeps under one name)."""
    from lpft.sweeps.meaning import ABSENT, changes, meaning
    from lpft.sweeps.spec import parse_spec

    path = root / "spec.yaml"
    if not path.exists():
        return
    fix = "resume with the spec it ran, or start a new sweep (another name or --storage)"
    stored = read_stored_spec(root)  # damaged: one line saying how to write it again
    try:
        before = meaning(parse_spec(stored, str(path)))
    except InputError as e:  # a field this lpft refuses, or a plugin's strategy not imported now
        raise InputError(f"--resume: {root} was started with a spec this run cannot read back ({e}); {fix}") from None
    # The spec as it is stored, parsed the same way: --storage and --logger are not the spec's meaning.
    now = meaning(parse_spec(stored_spec(spec), "spec"))
    changed = [f"{k}: {v0 if v0 is ABSENT else quote(v0, 40)} -> {v1 if v1 is ABSENT else quote(v1, 40)}"
               for k, v0, v1 in changes(before, now)]
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise InputError(f"--resume: {root} was started with another spec ({'; '.join(changed[:3])}{more}); {fix}")
