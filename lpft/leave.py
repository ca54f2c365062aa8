"""How the `lpft` process ends once its command has returned.

Without tearing down the interpreter: after a sweep that teardown (torch's and Ray's modules)
took ~0.8 s. Every exit hook still runs first (logging, trackers), Ray is left without its exit
hook's 0.5 s wait, and the output is flushed.

A signal in that time (a second Ctrl-C that came just after a stopped sweep had returned) must
not turn a clean end into a traceback from inside `ray.shutdown`, nor cut a sweep's summary
short: from the end of a sweep (`hold_signals`) or of any command, the first SIGINT or SIGTERM
is only noted (the results are already written), another one ends the process at once.
Nothing here imports Ray: `lpft analyze` never loads it.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import Any, NoReturn

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)  # a sweep's (lpft.sweeps.interrupt)


class _Finishing:
    """SIGINT and SIGTERM once the command's work is done: the first noted, another leaves at once."""

    def __init__(self) -> None:
        self.code: int | None = None  # the command's status, once it has returned
        self.signals = 0

    def __call__(self, signum: int, frame: Any) -> None:
        self.signals += 1
        name = signal.Signals(signum).name
        if self.signals > 1:
            _flush()
            os._exit(self.code or 128 + signum)
        print(f"lpft: {name}: already finishing; {name} again to leave at once", file=sys.stderr, flush=True)


_FINISHING = _Finishing()


def hold_signals() -> None:
    """From now on a signal does not interrupt what is left (a sweep's summary, the teardown):
    `lpft sweep` installs this before its sweep, whose own handlers (`lpft.sweeps.interrupt`)
    then give it back, not Python's KeyboardInterrupt, when the sweep returns."""
    if threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            signal.signal(s, _FINISHING)


def _leave_ray(code: int) -> bool:
    """Disconnects from Ray, if this run connected. Ray's own exit hook first sleeps 0.5 s so
    that workers' log lines can reach the driver; lpft's driver never streams them
    (`log_to_driver=False`: `lpft.sweeps.ray_start.init_ray`), so it leaves without the wait.
    False when the local Ray this run started has died (a SIGTERM to the whole process group:
    after one, up to a second is given for its processes to die; a plain SIGTERM to the driver
    pays that second) or Tune's loop is still in its thread (`lpft.sweeps.interrupt.supervise`):
    then Ray's shutdown and Ray's and Tune's exit hooks could each wait a minute for a dead GCS
    or on that loop, so no exit hook is run, lpft's own included (a local Ray's processes end with
    this one: Ray ties them to it; a cluster ends the job of a driver gone)."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        from lpft.sweeps.interrupt import local_ray_gone, reaches_ray, tune_running

        if tune_running() or local_ray_gone(wait=1.0 if reaches_ray(code - 128) else 0.0):
            return False
        ray.shutdown()
    return True


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass


def leave(code: int) -> NoReturn:
    """Ends the process with `code` once its threads, Ray and its exit hooks are done."""
    _FINISHING.code = code
    hold_signals()
    for thread in threading.enumerate():  # as the interpreter would before its exit hooks
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    if _leave_ray(code):
        atexit._run_exitfuncs()
    _flush()
    os._exit(code)
