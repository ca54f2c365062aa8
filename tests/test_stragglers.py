"""`end_stragglers` on processes this test starts and records as a killed run's trial workers would
be: the mechanism `--resume` relies on for exactly-once, checked without Ray (whose workers may or
may not outlive a killed driver, so the end-to-end kill test cannot tell which ones were left)."""

import json
import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from lpft.storage import locate
from lpft.sweeps.stragglers import end_stragglers


def start_worker(group_of_its_own: bool = True) -> subprocess.Popen:
    """A process that ignores SIGTERM, as a busy worker may, then stopped: only SIGCONT+SIGKILL, or
    SIGTERM with SIGCONT, ends it."""
    p = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                          "print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE,
                         start_new_session=group_of_its_own)
    p.stdout.readline()  # its handler is set
    os.kill(p.pid, signal.SIGSTOP)
    return p


def record(root, trial, pid, host=None, start=None):
    folder = root / "checkpoints" / trial
    folder.mkdir(parents=True)
    start = psutil.Process(pid).create_time() if start is None else start
    (folder / "worker.json").write_text(json.dumps({"host": host or socket.gethostname(), "pid": pid,
                                                   "process_start": start}))


@pytest.fixture
def started():
    procs = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_ends_every_live_recorded_worker_and_names_it(tmp_path, started):
    a, b = start_worker(), start_worker()
    started += [a, b]
    record(tmp_path, "ft-000", a.pid)
    record(tmp_path, "lpft-001", b.pid)
    notes = end_stragglers(locate(tmp_path))
    assert a.wait(timeout=20) == -signal.SIGKILL and b.wait(timeout=20) == -signal.SIGKILL  # past the grace
    assert notes == [f"ended 2 trial workers of the sweep's previous run, still running here "
                     f"(pid {', '.join(map(str, sorted([a.pid, b.pid])))})"]


def test_a_worker_in_its_starters_group_is_ended_alone(tmp_path, started):
    """Not a group leader: signalled by pid, so the group it shares (this test's) is left alone."""
    a = start_worker(group_of_its_own=False)
    started.append(a)
    record(tmp_path, "ft-000", a.pid)
    assert end_stragglers(locate(tmp_path)) == [f"ended 1 trial worker of the sweep's previous run, still "
                                                f"running here (pid {a.pid})"]
    assert a.wait(timeout=20) == -signal.SIGKILL


def test_leaves_what_is_not_a_live_straggler_of_this_machine(tmp_path, started):
    other_host, reused_pid, done = start_worker(), start_worker(), start_worker()
    started += [other_host, reused_pid, done]
    record(tmp_path, "ft-000", other_host.pid, host=socket.gethostname() + "-elsewhere")
    # the pid now belongs to a process started later than the recorded one
    record(tmp_path, "ft-001", reused_pid.pid, start=psutil.Process(reused_pid.pid).create_time() - 5)
    record(tmp_path, "ft-002", done.pid)
    done.kill()  # ended since it was recorded
    done.wait()
    record(tmp_path, "ft-003", os.getpid())  # the resume itself
    (tmp_path / "checkpoints" / "ft-004").mkdir()
    (tmp_path / "checkpoints" / "ft-004" / "worker.json").write_text('{"pid": true, "process_start": 1}')
    (tmp_path / "checkpoints" / "ft-005").mkdir()
    (tmp_path / "checkpoints" / "ft-005" / "worker.json").write_text("{not json")
    assert end_stragglers(locate(tmp_path)) == []
    assert other_host.poll() is None and reused_pid.poll() is None  # still there (stopped)
