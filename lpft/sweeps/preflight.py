"""What a sweep checks before its first trial, so bad input is one line instead of tracebacks
in every trial or a sweep that waits forever: its storage is writable, and some node can run
each strategy's trials."""

from __future__ import annotations

import os
from typing import Any

from lpft.errors import InputError
from lpft.storage import Location
from lpft.sweeps.spec import SweepSpec


def check_storage(root: Location) -> None:
    """The sweep's folder exists or can be made, and (locally) can be written."""
    try:
        root.fs.create_dir(root.path, recursive=True)
    except OSError as e:  # a file in the way, a read-only parent, an unreachable bucket
        raise InputError(f"storage: cannot create the sweep folder {root}: {_reason(e)}") from None
    if root.is_local and not os.access(root.path, os.W_OK | os.X_OK):
        raise InputError(f"storage: the sweep folder {root} is not writable")


def _reason(e: OSError) -> str:
    return e.strerror or (str(e).splitlines() or [type(e).__name__])[0]


def check_resources(spec: SweepSpec, local: bool) -> list[str]:
    """Each strategy's per-trial resources fit on some alive node. A local instance never grows,
    so a trial that fits nowhere is refused; a cluster may autoscale, so there it is a note."""
    import ray

    nodes: list[dict[str, Any]] = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
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


def stored_spec(spec: SweepSpec) -> dict[str, Any]:
    """The spec as the sweep's spec.yaml keeps it: as parsed, storage without credentials."""
    from lpft.storage import redact

    return {**spec.raw, "storage": redact(spec.storage)}


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def check_same_spec(root: Location, spec: SweepSpec) -> None:
    """--resume continues the sweep its folder holds: the same spec, or one line saying what changed
    (a changed spec would mix results of two sweeps under one name)."""
    from lpft.safe_yaml import load_yaml

    path = root / "spec.yaml"
    if not path.exists():
        return
    before, now = _flat(load_yaml(path.read_bytes(), str(path)) or {}), _flat(stored_spec(spec))
    for flat in (before, now):  # where the sweep is stored is where it was found: not a change
        flat.pop("storage", None)
    changed = [f"{k}: {before.get(k, '(none)')!r} -> {now.get(k, '(none)')!r}"
               for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise InputError(f"--resume: {root} was started with another spec ({'; '.join(changed[:3])}{more}); "
                         "resume with the spec it ran, or start a new sweep (another name or --storage)")
