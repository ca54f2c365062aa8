"""The trial workers a killed driver left running, ended before `--resume` runs their trials again.

A local sweep's trial workers lead process groups of their own (Ray makes them so), so killing the
driver's group misses them: some die with their raylet anyway, others notice that their Ray is
gone only after a while (seconds here, 30-40 s on a loaded machine). A
resume started at once re-ran their trials meanwhile, two processes writing one trial's
checkpoints and results file. Each trial records the process that runs it
(`checkpoints/<trial>/worker.json`, `lpft.trainables.trainable.Checkpoints.record_worker`); once
the resume holds the sweep's lock (so the driver that started them is gone), every recorded
process on this machine that still runs, the same process by its start time, is ended. Never a
process found by its name: only the ones this sweep's folder names.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from lpft.processes import end, is_alive
from lpft.storage import Location, outside
from lpft.trainables.trainable import WORKER_FILE


def _record(where: str, root: Location) -> dict[str, Any] | None:
    try:
        record = json.loads((root / "checkpoints" / Path(where).parent.name / WORKER_FILE).read_bytes())
    except (OSError, ValueError):  # gone this instant, or damaged: it names no process to end
        return None
    if not (isinstance(record, dict) and isinstance(record.get("pid"), int) and not isinstance(record["pid"], bool)
            and isinstance(record.get("process_start"), (int, float))):
        return None
    return record


def end_stragglers(root: Location) -> list[str]:
    """Ends this sweep's trial workers left running on this machine by a previous run: a note
    naming them, or none."""
    checkpoints = root / "checkpoints"
    if outside(checkpoints, root) is not None:  # refused by the pre-flight; never followed
        return []
    host = socket.gethostname()
    pids = set()
    for where in checkpoints.files(WORKER_FILE):
        record = _record(where, root)
        if record is not None and record.get("host") == host and record["pid"] not in (0, 1, os.getpid()) \
                and is_alive(record):
            pids.add(record["pid"])
    if not pids:
        return []
    end(sorted(pids))
    return [f"ended {len(pids)} trial worker{'s' if len(pids) > 1 else ''} of the sweep's previous run, "
            f"still running here (pid {', '.join(map(str, sorted(pids)))})"]
