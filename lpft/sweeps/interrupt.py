"""Ctrl-C (SIGINT) and SIGTERM during a sweep: the same graceful stop for both.

Ray Tune 2.60 stops an experiment on SIGINT by itself (`tune.run`'s handler, unless
TUNE_DISABLE_SIGINT_HANDLER=1), but only while `Tuner.fit` runs, without saying afterwards
that it did, and leaves SIGTERM to Python's default: the driver dies at once, its trials
table never written. So lpft handles both itself for the whole of `run_sweep`, with Tune's
handler turned off: the first signal is only recorded (a handler interrupts arbitrary code,
so it does nothing else), and `StopOnSignal.stop_all` ends the experiment at the Tune
controller's next step. Tune then stops every trial's actor without reporting it as ended,
so each cut-off trial keeps its last checkpoint and stays asked-but-unended in the sweep's
ledger: `--resume` runs it again from there. A second signal stops the sweep at once: it raises
`Stopped` wherever the driver is, leaving the trials table as it was (the ledger is the resume
state either way); the command then shuts its Ray down as after any sweep.

`ray.init` installs SIGTERM handlers of its own (Python's: exit, or shut the local node down;
and its core worker's C handler, which logs a stack and dies), so the sweep installs these
again once Ray is up (`install`); leaving restores Ray's Python one.

A SIGTERM to the whole process group (`timeout`, systemd, Slurm) also ends the local Ray
instance the sweep started (Ray's processes block only SIGINT); Tune's stop would then wait a
minute for its dead GCS, so the sweep leaves the Tuner at once (`RayGone`) and still writes
its trials table from the ledger. Tune's periodic query of the cluster's resources is off
(`lpft.sweeps.ray_start`): on a dead GCS it blocked the driver before it reached the stop, and
Ray ended it a minute later with exit 1.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ray.tune.stopper import Stopper

SIGNALS = (signal.SIGINT, signal.SIGTERM)
TUNE_HANDLER = "TUNE_DISABLE_SIGINT_HANDLER"


class Interrupt:
    """While entered (in the main thread): SIGINT and SIGTERM recorded in `signum`."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.say: Callable[[str], None] | None = None  # where `announce` says the sweep is stopping
        self.announced = False
        self._previous: dict[int, Any] = {}
        self._tune_handler: str | None = None

    @property
    def name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum else None

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():  # Python's rule for handlers
            self._tune_handler = os.environ.get(TUNE_HANDLER)
            os.environ[TUNE_HANDLER] = "1"  # Tune's would replace this one while fit() runs
            self.install()
        return self

    def install(self) -> None:
        """These handlers (again, after something replaced them: `ray.init`); the ones they
        replace are restored on leaving."""
        if threading.current_thread() is not threading.main_thread():
            return
        for s in SIGNALS:
            before = signal.signal(s, self._received)
            if before != self._received:
                self._previous[s] = before

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)  # None: not set from Python
        if self._previous:
            if self._tune_handler is None:
                os.environ.pop(TUNE_HANDLER, None)
            else:
                os.environ[TUNE_HANDLER] = self._tune_handler
        self._previous = {}

    def _received(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            return
        raise Stopped(signum)

    def announce(self) -> None:
        """Says once that the sweep is stopping: from Tune's loop, not the handler (which may have
        interrupted a line being written)."""
        if self.signum is None or self.announced or self.say is None:
            return
        self.announced = True
        self.say(f"  {self.name}: stopping the sweep; its running trials keep their last checkpoints "
                 f"({self.name} again to stop at once)")

    def __reduce__(self) -> Any:
        # Ray pickles the run's callbacks and stopper into its experiment (tuner.pkl): a fresh
        # one there, never the handlers this process installed.
        return (Interrupt, ())


class Stopped(KeyboardInterrupt):
    """A second signal: the sweep stops where it is. A KeyboardInterrupt (not an Exception) as a
    second Ctrl-C is anywhere: no handler on the way (Tune's loop has some) takes it for a
    trial's or a callback's failure."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_status = 128 + signum


class RayGone(BaseException):
    """The local Ray instance died with the signal. A BaseException: Tune's loop cleans up
    (a minute's wait on the dead GCS) for an Exception only."""


def local_ray_gone(wait: float = 1.0) -> bool:
    """Whether a process of the Ray instance this driver started (none for a cluster's) has
    died, waiting up to `wait` s for one to (they got the signal at the same instant)."""
    from ray._private import worker

    node = worker._global_node
    deadline = time.monotonic() + wait
    while node is not None and node.all_processes:
        if node.dead_processes():
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return False


class StopOnSignal(Stopper):
    """Tune's stopper: no trial is stopped for its results; the whole experiment once signalled."""

    def __init__(self, interrupt: Interrupt) -> None:
        self.interrupt = interrupt
        self.checked = False

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        if self.interrupt.signum is None:
            return False
        self.interrupt.announce()
        if self.interrupt.signum == signal.SIGTERM and not self.checked:
            self.checked = True
            if local_ray_gone():
                raise RayGone
        return True
