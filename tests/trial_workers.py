"""The processes a sweep's trials recorded as running them (checkpoints/<trial>/worker.json)."""

from pathlib import Path


def workers(root: Path) -> dict[int, float]:
    """pid -> start time of each process a trial of the sweep recorded as running it."""
    import json

    out = {}
    for f in root.glob("checkpoints/*/worker.json"):
        try:
            record = json.loads(f.read_text())
        except (OSError, ValueError):  # replaced this instant
            continue
        out[record["pid"]] = record["process_start"]
    return out


def runs(pid: int, start: float) -> bool:
    import psutil

    try:
        p = psutil.Process(pid)
        return abs(p.create_time() - start) < 1 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
