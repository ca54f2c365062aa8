"""Interrupted is not finished (issue 24): SIGINT or SIGTERM stops a sweep gracefully, says so in
one line with the trials missing of each strategy's budget and the exact resume command, exits
130 or 143, and records the cut-off trials as `interrupted`; the printed command completes the
budget, each trial once; `lpft analyze` of the incomplete sweep names the strategies short.

One sweep is interrupted with Ctrl-C (SIGINT to its process group, as a terminal sends it) and
shared: its output and files, a copy analysed, then the resume. Real Ray, real files.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import psutil
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from lpft.dataset import BUDGET_KEY, INTERRUPTED_KEY
from lpft.results import ENDED, INTERRUPTED

EPOCHS, EVERY = 1000, 200  # seconds per trial: long enough to be cut off inside one
LR = {"ft": {"low": 0.1, "high": 1.0, "log": True}, "lpft": {"low": 0.003, "high": 0.03, "log": True}}
SPEC = {
    "name": "k",
    "benchmark": {"name": "synthetic", "eps": 0.1},
    "strategies": {
        "lp": {"num_cs": 5},
        "ft": {"num_samples": 2, "epochs": EPOCHS, "eval_every": EVERY, "lr": LR["ft"]},
        "lpft": {"num_samples": 1, "epochs": EPOCHS, "eval_every": EVERY, "lr": LR["lpft"]},
    },
    "seeds": [0, 7],
    "replicate": 1,
    "max_concurrent": 2,
}
# Search trials + one replicate seed each; LP on the synthetic benchmark's fixed features is
# deterministic, so once its search trial has ended its budget has no replicate.
BUDGET = {"lp": 1, "ft": 3, "lpft": 2}


def lpft(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lpft", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=None if env is None else {**os.environ, **env})


def wait_for(proc: subprocess.Popen, ready, what: str, limit: float = 240) -> None:
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"the sweep ended (rc {proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
    assert ready(), f"no {what} within {limit} s"


def results_of(root: Path, strategy: str) -> bool:
    return any((root / "results" / f"strategy={strategy}").glob("*.parquet"))


def ended(root: Path, trial: str) -> bool:
    try:
        return json.loads((root / "ledger" / f"{trial}.json").read_text())["row"] is not None
    except (OSError, ValueError):
        return False


def in_group(p: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(p.pid) == pgid
    except (ProcessLookupError, psutil.Error):
        return False


def ray_left(pgid: int) -> list[str]:
    """Live processes still in the sweep's process group (its local Ray's, had it leaked them)."""
    left = []
    for p in psutil.process_iter(["name", "status"]):
        try:
            if os.getpgid(p.pid) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(p.info["name"])
        except (ProcessLookupError, psutil.Error):
            pass
    return left


def no_ray_left(pgid: int) -> None:
    deadline = time.time() + 15
    while ray_left(pgid) and time.time() < deadline:
        time.sleep(0.2)
    assert not ray_left(pgid)


def trials_of(root: Path):
    file = pq.ParquetFile(root / "trials.parquet")
    return file.read().to_pandas(), file.metadata.metadata


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """The sweep, Ctrl-C'd while FT's first trials run (each with a checkpoint and results), LP's ended."""
    cwd = tmp_path_factory.mktemp("interrupted")
    (cwd / "k.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    root = cwd / "store" / "k"
    proc = lpft(cwd, "sweep", "k.yaml", "--storage", "store", "--progress-every", "1")
    wait_for(proc, lambda: results_of(root, "ft") and ended(root, "lp-000"), "an FT trial's first checkpoint")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the driver and the local Ray it started
    out, err = proc.communicate(timeout=120)
    no_ray_left(proc.pid)
    shutil.copytree(root, cwd / "copy" / "k")  # as interrupted, for the analysis (the resume completes root)
    return SimpleNamespace(cwd=cwd, root=root, copy=cwd / "copy" / "k", rc=proc.returncode, out=out, err=err)


def test_sigint_stops_the_sweep_says_what_is_missing_and_how_to_resume_and_exits_130(interrupted):
    assert interrupted.rc == 130, interrupted.err[-3000:]
    assert "Traceback" not in interrupted.out + interrupted.err, interrupted.err[-3000:]
    lines = interrupted.out.splitlines()
    headed = [i for i, line in enumerate(lines) if line.startswith("== k interrupted")]
    assert len(headed) == 1 and lines[headed[0] + 1].startswith("== k: "), interrupted.out  # heads the summary
    line = lines[headed[0]]
    assert line.startswith("== k interrupted (SIGINT) after ")
    assert line.endswith("; resume with: lpft sweep k.yaml --storage store --resume")

    trials, footer = trials_of(interrupted.root)
    assert json.loads(footer[BUDGET_KEY]) == BUDGET and footer[INTERRUPTED_KEY] == b"SIGINT"
    assert set(trials.status) <= {*ENDED, INTERRUPTED}  # none left `running`
    cut = trials[trials.status == INTERRUPTED]
    assert "ft" in set(cut.strategy)  # cut off inside its first trials
    # each strategy short of its budget, as the line says: missing = budget - ended (cut off)
    expected = []
    for name, budget in json.loads(footer[BUDGET_KEY]).items():  # the spec's order
        mine = trials[trials.strategy == name]
        ended = int(mine.status.isin(ENDED).sum())
        if ended < budget:
            n_cut = len(mine) - ended
            expected.append(f"{name} {budget - ended} of {budget}" + (f" ({n_cut} cut off)" if n_cut else ""))
    assert f"trials missing of the budget: {', '.join(expected)}; resume" in line
    # the ledger still holds each cut-off trial as asked and not ended: --resume runs it again
    for trial in cut.trial_id:
        assert json.loads((interrupted.root / "ledger" / f"{trial}.json").read_text())["row"] is None
    assert any((interrupted.root / "checkpoints" / t).glob("step-*.pt") for t in cut.trial_id)


def test_analyze_of_the_interrupted_sweep_names_the_strategies_short_of_their_budget(interrupted, tmp_path, capsys):
    from lpft.cli import main

    assert main(["analyze", str(interrupted.copy), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    note = out.splitlines()[0]  # first: the table below is of part of the sweep
    assert note.startswith("note: k: incomplete sweep (interrupted by SIGINT): ")
    trials, _ = trials_of(interrupted.copy)
    for name, budget in BUDGET.items():
        ended = int(trials[trials.strategy == name].status.isin(ENDED).sum())
        assert (f"{name} {ended} of {budget} trials ended" in note) == (ended < budget), note
    html = unescape((tmp_path / "report" / "report.html").read_text())
    assert note.removeprefix("note: k: ") in html


def test_the_printed_resume_command_completes_the_budget_each_trial_once(interrupted):
    cut = set(trials_of(interrupted.root)[0].query("status == @INTERRUPTED").trial_id)
    command = interrupted.out.split("resume with: ")[1].splitlines()[0]
    words = shlex.split(command)
    assert words[:2] == ["lpft", "sweep"]
    resumed = lpft(interrupted.cwd, *words[1:])
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    assert not any(line.startswith("== k interrupted") for line in out.splitlines())

    trials, footer = trials_of(interrupted.root)
    assert set(trials.status) == {"completed"}, trials[["trial_id", "status"]]
    assert trials.groupby("strategy").size().to_dict() == BUDGET
    assert trials.trial_id.is_unique and INTERRUPTED_KEY not in footer
    assert (trials[trials.trial_id.isin(cut)].resumed_from_step >= 0).any()  # from their checkpoints
    df = ds.dataset(interrupted.root / "results", format="parquet", partitioning="hive").to_table().to_pandas()
    assert not df.duplicated(["trial_id", "step", "eval_set"]).any()
    assert set(df.trial_id) == set(trials.trial_id)
    counts = df[df.strategy != "lp"].groupby("trial_id").step.nunique()
    assert (counts == EPOCHS // EVERY).all(), counts  # every evaluated epoch of every trial, once
    assert not any((interrupted.root / "checkpoints").glob("*/*.pt"))


# How else a sweep is stopped: `kill PID` (docker stop, Kubernetes), a SIGTERM to the whole
# process group (timeout(1), systemd, Slurm: the local Ray's processes get it too), and a second
# Ctrl-C while the first is being handled.
def ray_first(pgid: int, sig: int) -> None:
    """The whole process group signalled, as systemd or Slurm stop a job (every process, in no set
    order): here the local Ray's processes first, and the driver once Tune's loop is blocked on
    the dead GCS (its query of the cluster's resources, every 0.5 s here: `REFRESH`). Ray ends a
    driver blocked so with exit 1 a minute later; lpft's main thread is not the one blocked
    (`lpft.sweeps.interrupt.supervise`). CI met this once with the signal to the whole group."""
    for p in psutil.process_iter():
        try:
            if p.pid != pgid and os.getpgid(p.pid) == pgid:
                p.send_signal(sig)
        except (ProcessLookupError, psutil.Error):
            pass
    time.sleep(2)
    os.killpg(pgid, sig)


# Tune's query of the cluster's resources every 0.5 s (10 s by default), so that `ray_first` meets it.
REFRESH = {"TUNE_STATE_REFRESH_PERIOD": "0.5"}
STOPS = {
    "sigterm": ([signal.SIGTERM], os.kill, 143, "== t interrupted (SIGTERM) after "),
    "sigterm to the group, Ray first": ([signal.SIGTERM], ray_first, 143, "== t interrupted (SIGTERM) after "),
    "sigint twice": ([signal.SIGINT, signal.SIGINT], os.killpg, 130, "== t stopped at once (SIGINT again); "),
}
# The first Ctrl-C's graceful stop can end the sweep before the second arrives (0.2 s later):
# then the second lands while the process leaves, and must change nothing but the speed.
STOPPED_FIRST = "== t interrupted (SIGINT) after "


@pytest.mark.parametrize("how", STOPS)
def test_other_stops_exit_with_their_status_and_leave_a_resumable_sweep(tmp_path, how):
    signals, send, status, head = STOPS[how]
    spec = {"name": "t", "benchmark": {"name": "synthetic", "eps": 0.1}, "seeds": [0],
            "strategies": {"ft": {"num_samples": 1, "epochs": 100 * EPOCHS, "eval_every": EVERY, "lr": LR["ft"]}}}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(spec))
    root = tmp_path / "store" / "t"
    proc = lpft(tmp_path, "sweep", "t.yaml", "--storage", "store", env=REFRESH)
    wait_for(proc, lambda: results_of(root, "ft"), "the trial's first checkpoint")
    if how == "sigterm":  # while it runs, a second sweep of its name and storage is refused, --resume too
        lean = [" ".join(p.cmdline()) for p in psutil.process_iter() if p.pid != proc.pid and in_group(p, proc.pid)]
        assert any("raylet" in c for c in lean) and not any("monitor.py" in c for c in lean), lean  # ray_patches
        for extra in ((), ("--resume",)):
            second = lpft(tmp_path, "sweep", "t.yaml", "--storage", "store", *extra)
            lines = second.communicate(timeout=300)[1].strip().splitlines()
            assert second.returncode == 2 and len(lines) == 1 and "already running" in lines[0], lines
            assert f"pid {proc.pid}" in lines[0] and proc.poll() is None  # the first is untouched
    for k, sig in enumerate(signals):
        if k:
            time.sleep(0.2)
        send(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, (out[-2000:], err[-3000:])  # stdout too: what the sweep said it saw
    assert "Traceback" not in out + err, err[-3000:]
    line = next(line for line in out.splitlines() if line.startswith("== t "))
    assert line.startswith(head) or (len(signals) == 2 and line.startswith(STOPPED_FIRST)), out
    assert line.endswith("resume with: lpft sweep t.yaml --storage store --resume"), out
    no_ray_left(proc.pid)
    ledger = json.loads((root / "ledger" / "ft-000.json").read_text())
    assert ledger["row"] is None  # asked, not ended: --resume runs it again
    if len(signals) == 1:  # stopped gracefully: the trials table written, the trial cut off
        assert "ft 1 of 1 (1 cut off)" in line
        trials, footer = trials_of(root)
        assert list(trials.status) == [INTERRUPTED] and footer[INTERRUPTED_KEY] == b"SIGTERM"


# Without Ray: the second signal, the notes and the command.

def test_a_second_signal_stops_the_sweep_where_it_is():
    from lpft.sweeps.interrupt import Interrupt, Stopped

    before = signal.getsignal(signal.SIGINT)  # another test's in-process `lpft sweep` may have set lpft.leave's
    with Interrupt() as interrupt:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # Python runs the handler between bytecodes
        assert interrupt.name == "SIGTERM"
        with pytest.raises(Stopped) as stopped:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert stopped.value.exit_status == 130
    assert signal.getsignal(signal.SIGINT) is before  # restored


def send_later(*signals: int) -> None:
    """Each signal to this process 0.3 s after the last, from a thread (the main one waits)."""
    import threading

    def send():
        for sig in signals:
            time.sleep(0.3)
            os.kill(os.getpid(), sig)

    threading.Thread(target=send, daemon=True).start()


def left_running(tune_running) -> bool:
    deadline = time.monotonic() + 1  # the loop's thread ends just after it says it has
    while tune_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    return tune_running()


def test_the_main_thread_handles_signals_while_tunes_loop_runs_in_a_thread_of_its_own():
    """`supervise`: the loop (here a stand-in stepping every 10 ms, asking Tune's stopper) sees
    the first signal (SIGUSR1, Slurm's warning) as a graceful stop; a second raises Stopped in the
    main thread once the loop has left at its next step; what the loop raises reaches the main
    thread."""
    from lpft.sweeps.interrupt import Interrupt, StopOnSignal, Stopped, supervise, tune_running

    answers = []

    with Interrupt() as interrupt:
        stopper = StopOnSignal(interrupt)

        def loop():
            while True:
                answers.append(stopper.stop_all())
                time.sleep(0.01)

        send_later(signal.SIGUSR1, signal.SIGTERM)
        start = time.monotonic()
        with pytest.raises(Stopped) as stopped:
            supervise(loop, interrupt)
        assert time.monotonic() - start < 2  # at once, not after STOP_WAIT_S
        assert not left_running(tune_running)
        assert interrupt.name == "SIGUSR1"
        with pytest.raises(ZeroDivisionError):
            supervise(lambda: 1 / 0, interrupt)
    assert stopped.value.exit_status == 143
    assert answers[0] is False and answers[-1] is True  # stepping on, then stopping gracefully


def test_a_loop_blocked_on_a_dead_ray_is_left_where_it_is(monkeypatch):
    """The loop blocked (as in a call to a dead GCS: here a lock it never gets) when a SIGTERM
    comes and the local Ray has died: the main thread leaves it (RayGone) at once."""
    import threading

    from lpft.sweeps import interrupt as module

    monkeypatch.setattr(module, "local_ray_gone", lambda wait=0.0: True)
    held = threading.Lock()
    held.acquire()
    with module.Interrupt() as interrupt:
        send_later(signal.SIGTERM)
        start = time.monotonic()
        with pytest.raises(module.RayGone):
            module.supervise(lambda: held.acquire(timeout=10), interrupt)
        assert time.monotonic() - start < 2
        assert module.tune_running()  # left where it is
    held.release()
    assert not left_running(module.tune_running)


LEAVING = """
import atexit, os, signal, sys, time
from lpft.leave import leave
atexit.register(lambda: print("the exit hooks ran", flush=True))
def signals():
    for name in sys.argv[2:]:
        os.kill(os.getpid(), getattr(signal, name))
        time.sleep(0.2)
atexit.register(signals)  # runs first (last in, first out), as a signal during Ray's shutdown
leave(int(sys.argv[1]))
"""


@pytest.mark.parametrize("code, signals, status, hooks_ran", [
    (130, ["SIGINT"], 130, True),  # noted, the exit hooks run on, the command's own status
    (0, ["SIGTERM"], 0, True),
    (130, ["SIGINT", "SIGINT"], 130, False),  # again: at once
    (0, ["SIGTERM", "SIGTERM"], 143, False),
])
def test_signals_while_the_process_leaves_never_print_a_traceback(code, signals, status, hooks_ran):
    done = subprocess.run([sys.executable, "-c", LEAVING, str(code), *signals], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    assert ("the exit hooks ran" in done.stdout) == hooks_ran
    assert done.stderr.startswith(f"lpft: {signals[0]}: already finishing; {signals[0]} again to leave at once")

def test_incomplete_note_only_for_a_sweep_that_did_not_run_to_its_end():
    from lpft.analysis.incomplete import incomplete_note

    budget = {BUDGET_KEY: json.dumps({"lp": 1, "ft": 3, "wise": 1}).encode()}
    ended = (["lp", "ft", "ft", "ft"], ["completed", "completed", "error", "stopped"])
    assert incomplete_note(*ended, budget) is None  # whole
    # ended by itself short of a budget (FT's search completed nothing: no replicate) is whole too
    assert incomplete_note(["lp", "ft", "ft"], ["completed", "error", "error"], budget) is None
    note = incomplete_note(["lp", "ft", "ft"], ["completed", "completed", "interrupted"],
                           {**budget, INTERRUPTED_KEY: b"SIGTERM"})
    assert note.startswith("incomplete sweep (interrupted by SIGTERM): ft 1 of 3 trials ended (1 cut off), "
                           "wise 0 of 1 trials ended; ")
    # a table from before budgets were recorded: what was cut off, from its `running` rows
    note = incomplete_note(["lp", "ft", "ft"], ["completed", "completed", "running"], {})
    assert note.startswith("incomplete sweep (stopped before its end): ft 1 trials ended (1 cut off); ")
    # the signal came once every trial had ended
    assert incomplete_note(*ended, {**budget, INTERRUPTED_KEY: b"SIGINT"}) is not None  # wise is missing
    assert incomplete_note(["lp"], ["completed"], {BUDGET_KEY: b'{"lp": 1}', INTERRUPTED_KEY: b"SIGINT"}) is None


def test_the_resume_command_is_the_users_own_quoted_for_a_shell():
    from lpft.cli import build_parser, resume_command

    args = build_parser().parse_args(["sweep", "my specs/a b.yaml", "--address", "ray://head:10001", "--import",
                                      "mymod", "--logger", "tensorboard", "--progress-every", "5"])
    assert resume_command(args, "s3://KEY:SECRET@bucket/sweeps") == (
        "lpft sweep 'my specs/a b.yaml' --storage s3://bucket/sweeps --address ray://head:10001 "
        "--import mymod --logger tensorboard --resume")
    args = build_parser().parse_args(["sweep", "synthetic", "--storage", "results"])
    assert resume_command(args, "/elsewhere") == "lpft sweep synthetic --storage results --resume"
