"""A process as lpft records it, `{"host", "pid", "process_start"}`, and what lpft does with one:
ask whether it still runs, and end it. The start time tells a recorded process from a later one
that was given the same pid, so a record never leads to another program's process."""

from __future__ import annotations

import os
import signal
import socket
from typing import Any


def process_start(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None if there is none."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError, OverflowError):  # gone, not ours to see, or no pid at all
        return None


def this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "process_start": process_start(pid)}


def is_alive(record: dict[str, Any]) -> bool:
    """The recorded process (on this host) still runs: its pid lives, started when recorded, and
    is not a zombie (ended, waiting to be reaped: it runs nothing)."""
    pid = int(record.get("pid", -1))
    start = process_start(pid)
    return start is not None and abs(start - float(record.get("process_start") or 0.0)) <= 1.0 and _runs(pid)


def _runs(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def end(pids: list[int], grace_s: float = 3.0) -> None:
    """Ends processes lpft recorded and found alive: SIGTERM (with SIGCONT, so a stopped one takes
    it), SIGKILL after `grace_s`, then waits until they are gone. A Ray worker leads a process
    group of its own (with any data-loader children), so a group leader gets the signal as a group."""
    import psutil

    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            continue
    for sig in (signal.SIGTERM, signal.SIGCONT):
        _signal(procs, sig)
    left = _wait(procs, grace_s)
    _signal(left, signal.SIGKILL)
    _wait(left, 10.0)


def _wait(procs: list[Any], timeout_s: float) -> list[Any]:
    """Those of `procs` still running after up to `timeout_s` (they are not this process's
    children to wait for: their pids are polled; a zombie has ended)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        left = [p for p in procs if p.is_running() and _runs(p.pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _signal(procs: list[Any], sig: int) -> None:
    for p in procs:
        try:
            if os.getpgid(p.pid) == p.pid:
                os.killpg(p.pid, sig)
            else:
                os.kill(p.pid, sig)
        except (ProcessLookupError, PermissionError):  # gone meanwhile, or not ours after all
            pass
