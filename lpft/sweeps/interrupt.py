"""Ctrl-C (SIGINT) and SIGTERM during a sweep: the same graceful stop for both.

Ray Tune 2.60 stops an experiment on SIGINT by itself (`tune.run`'s handler, unless
TUNE_DISABLE_SIGINT_HANDLER=1), but only while `Tuner.fit` runs, without saying afterwards
that it did, and leaves SIGTERM to Python's default: the driver dies at once, its trials
table never written. So lpft handles both itself for the whole of `run_sweep`, with Tune's
handler turned off: the first signal is only recorded (a handler interrupts arbitrary code,
so it does nothing else), and `StopOnSignal.stop_all` ends the experiment at the Tune
controller's next step. Tune then stops every trial's actor without reporting it as ended,
so each cut-off trial keeps its last checkpoint and stays asked-but-unended in the sweep's
ledger: `--resume` runs it again from there. A second signal stops the sweep at once (Tune's
loop leaves at its next step, or is left running after `STOP_WAIT_S`): it raises `Stopped` in
the main thread, leaving the trials table as it was (the ledger is the resume
state either way); the command then shuts its Ray down as after any sweep (`lpft.leave`), or,
if Tune's loop has not left, leaves Ray's processes to end with it.

SIGUSR1 (Slurm's `--signal` warning) is handled as SIGTERM is.

`ray.init` installs SIGTERM handlers of its own (Python's: exit, or shut the local node down;
and its core worker's C handler, which logs a stack and dies), so the sweep installs these
again once Ray is up (`install`); leaving restores Ray's Python one.

Tune's loop runs in a thread of its own (`supervise`) while the main thread waits on it: a
signal is then handled at once, whatever Ray call Tune's loop is in. A SIGTERM to the whole
process group (`timeout`, systemd, Slurm: every process of the job, in no set order) also ends
the local Ray instance the sweep started (Ray's processes block only SIGINT). Tune's loop may
then be blocked in a call to the dead GCS (a query of the cluster's resources, a result's
object in the dead object store), which Ray ends after a minute with exit 1; the main thread
sees Ray's processes die, leaves that thread where it is (`RayGone`) and still writes the
trials table from the ledger. A second signal asks Tune's loop to stop at its next step (the
stopper raises `Stopped` there, as the handler did in the loop when it ran in the main thread)
and waits for it a moment; a loop that does not stop is left to end with the process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ray.tune.stopper import Stopper

# SIGUSR1 too: Slurm's --signal warning, and Tune's own stop signal when its loop ran in the main thread
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
TUNE_HANDLER = "TUNE_DISABLE_SIGINT_HANDLER"


class Interrupt:
    """While entered (in the main thread): SIGINT, SIGTERM and SIGUSR1 recorded in `signum`."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.say: Callable[[str], None] | None = None  # where `announce` says the sweep is stopping
        self.announced = False
        self.stop_now: int | None = None  # a second signal: Tune's loop stops at its next step
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
    """The local Ray instance died with the signal (`supervise`). A BaseException, as `Stopped`
    is: no handler on its way out of the sweep takes it for a failure to report."""


def local_ray_gone(wait: float = 0.0) -> bool:
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


TUNE_THREAD = "lpft-tune"
POLL_S = 0.1  # how often the main thread looks at the signal and at the local Ray's processes
STOP_WAIT_S = 5.0  # how long a second signal waits for Tune's loop to leave (it steps every ~0.1 s)


def supervise(fit: Callable[[], Any], interrupt: Interrupt) -> None:
    """`fit()` (Tune's loop) in a thread of its own while this, the main thread, waits: its
    signals are handled here at once. Raises what `fit` raised; `RayGone` once a signal that
    `reaches_ray` came and the local Ray died (the loop, maybe blocked on its GCS, is left where it
    is); `Stopped` on a second signal, once the loop has left or `STOP_WAIT_S` has passed. Outside
    the main thread (no handlers there) `fit` runs in this one."""
    if threading.current_thread() is not threading.main_thread():
        fit()
        return
    failed: list[BaseException] = []
    # Waited on, not the thread: a handler's exception inside Thread.join marks a live thread
    # stopped (CPython 3.11's join releases its lock on the way out)
    ended = threading.Event()

    def run() -> None:
        try:
            fit()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread, raised there
            failed.append(e)
        finally:
            ended.set()

    threading.Thread(target=run, name=TUNE_THREAD, daemon=True).start()  # daemon: never waited for at exit
    try:
        while not ended.wait(POLL_S):  # a signal's handler runs here, in the wait
            if reaches_ray(interrupt.signum) and local_ray_gone():
                raise RayGone
    except Stopped as stop:
        interrupt.stop_now = stop.signum
        ended.wait(STOP_WAIT_S)  # a third signal stops this wait too
        raise
    if failed:
        raise failed[0]


def reaches_ray(signum: int | None) -> bool:
    """Whether this signal of the sweep's, sent to its process group, can also have ended the local
    Ray: each but SIGINT, which Ray's processes block."""
    return signum in SIGNALS and signum != signal.SIGINT


def tune_running() -> bool:
    """Whether Tune's loop is still in its thread (left there by `RayGone` or a second signal)."""
    return any(t.name == TUNE_THREAD and t.is_alive() for t in threading.enumerate())


class StopOnSignal(Stopper):
    """Tune's stopper: no trial is stopped for its results; the whole experiment once signalled,
    and after a second signal the loop itself (`Stopped`, raised in it)."""

    def __init__(self, interrupt: Interrupt) -> None:
        self.interrupt = interrupt

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        if self.interrupt.stop_now is not None:
            raise Stopped(self.interrupt.stop_now)
        if self.interrupt.signum is None:
            return False
        self.interrupt.announce()
        return True
