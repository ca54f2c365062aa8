"""A sweep SIGKILLed at any instant resumes to every trial exactly once; one sweep per name at a time.

The kill matrix kills the sweep's whole process group (the driver and the local Ray it
started) at instants chosen by what the sweep has written, then runs `--resume` and checks
what a reader of the results relies on: every strategy's full budget completed, one row per
(trial, step, eval set), no results file without a trial in the trials table, and Optuna's
live journal continued with one trial per lpft trial. Mid-trial, the trial workers are stopped
before the kill: they stand for workers that have not noticed their Ray is gone (seconds here,
30-40 s on a loaded machine), which the next run must end before its first trial runs. Each of its
resumes takes the lock over from the killed holder; test_interrupt.py refuses a second sweep of a
running one's name (a sweep it then stops), and the lock's own rules are tested here without Ray.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from trial_workers import runs, workers

from lpft.errors import InputError
from lpft.storage import locate
from lpft.sweeps.lock import SweepLock, is_stale
from lpft.sweeps.trial_row import TrialRow

EPOCHS, EVERY = 2000, 200  # a few seconds per trial: long enough to be killed inside one


def spec(name: str) -> dict:
    return {
        "name": name,
        "benchmark": {"name": "synthetic", "eps": 0.1},
        "strategies": {
            "lp": {"num_cs": 10},
            "ft": {"num_samples": 2, "epochs": EPOCHS, "eval_every": EVERY,
                   "lr": {"low": 0.1, "high": 1.0, "log": True}},
            "lpft": {"num_samples": 2, "epochs": EPOCHS, "eval_every": EVERY,
                     "lr": {"low": 0.003, "high": 0.03, "log": True}},
        },
        "seeds": [0, 7],
        "replicate": 1,
        "max_concurrent": 2,
    }


# LP on the synthetic benchmark's fixed features is deterministic: no replicate is run for it.
BUDGET = {("lp", "search"): 1, ("ft", "search"): 2, ("lpft", "search"): 2,
          ("ft", "replicate"): 1, ("lpft", "replicate"): 1}


def lpft_sweep(path: Path, storage: Path, *extra: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lpft.cli", "sweep", str(path), "--storage", str(storage), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs)


def ended_entries(root: Path) -> int:
    n = 0
    for f in (root / "ledger").glob("*.json"):
        try:
            n += json.loads(f.read_text()).get("row") is not None
        except ValueError:
            pass
    return n


def newer_checkpoint(root: Path, t0: float) -> bool:
    for p in (root / "checkpoints").glob("*/step-*.pt"):
        try:
            if p.stat().st_mtime > t0:
                return True
        except FileNotFoundError:  # replaced by the next one this instant
            pass
    return False


# instant -> whether a run of the sweep (its Ray experiment folder `exp`, started at `t0` with
# `before` trials ended) has reached it
INSTANTS = {
    # Ray's tuner.pkl written, no trial asked for yet (issue 13, case 1: FT and LP-FT were lost)
    "no trial yet": lambda r, exp, before, t0: (exp / "tuner.pkl").exists()
    and not any((r / "ledger").glob("*.json")),
    # a trial asked for and started before Ray's first experiment state (case 2: re-run under new ids)
    "trial without experiment state": lambda r, exp, before, t0: bool(asked_not_ended(r))
    and not any(exp.glob("experiment_state-*.json")),
    "mid-trial": lambda r, exp, before, t0: newer_checkpoint(r, t0),
    "after a trial": lambda r, exp, before, t0: ended_entries(r) > before,
    # every trial's end recorded, the trials table and Optuna journal not yet written
    "during final writes": lambda r, exp, before, t0: ended_entries(r) == sum(BUDGET.values())
    and not (r / "trials.parquet").exists(),
}


def asked_not_ended(root: Path) -> list[str]:
    out = []
    for f in (root / "ledger").glob("*.json"):
        try:
            if json.loads(f.read_text()).get("row") is None:
                out.append(f.stem)
        except ValueError:
            pass
    return out


def check_complete(root: Path) -> None:
    trials = pq.read_table(root / "trials.parquet").to_pandas()
    assert set(trials.status) == {"completed"}, trials[["trial_id", "status"]]
    assert trials.groupby(["strategy", "stage"]).size().to_dict() == BUDGET
    assert trials.trial_id.is_unique
    df = ds.dataset(root / "results", format="parquet", partitioning="hive").to_table().to_pandas()
    assert not df.duplicated(["trial_id", "step", "eval_set"]).any()
    assert set(df.trial_id) == set(trials.trial_id)  # no orphan results file, none missing
    counts = df[df.strategy != "lp"].groupby("trial_id").step.nunique()
    assert (counts == EPOCHS // EVERY).all(), counts  # every evaluated epoch of every trial
    ledger = {f.stem for f in (root / "ledger").glob("*.json")}
    assert ledger == set(trials.trial_id)
    assert not any((root / "checkpoints").glob("*/*.pt"))  # ended trials keep no checkpoints


STOPPED_AT = "mid-trial"  # the instant whose trial workers are stopped before the kill


def test_a_sweep_killed_at_any_instant_resumes_to_every_trial_exactly_once(tmp_path):
    """One sweep, SIGKILLed once at each instant in turn (each kill in the next `--resume`),
    then resumed to the end: cheaper than a sweep per instant, and each run is a new Tuner
    continuing from the ledger, as after any kill."""
    path = tmp_path / "k.yaml"
    path.write_text(yaml.safe_dump(spec("k")))
    root = tmp_path / "k"
    matrix, stopped, seen_after_stop = [], {}, False
    try:
        for run, (instant, reached) in enumerate(INSTANTS.items(), start=1):
            before, t0 = ended_entries(root), time.time()
            proc = lpft_sweep(path, tmp_path, *(["--resume"] if run > 1 else []))
            exp = root / "ray" / f"k-{run}"
            deadline = time.time() + 240
            while time.time() < deadline and proc.poll() is None and not (root.exists()
                                                                           and reached(root, exp, before, t0)):
                if stopped and not seen_after_stop and set(workers(root)) - set(stopped):
                    # The first trial of the run after the stop runs: no stopped worker does any more.
                    seen_after_stop = True
                    assert not [pid for pid, start in stopped.items() if runs(pid, start)], \
                        "a killed run's trial worker still runs"
                time.sleep(0.005)
            if proc.poll() is not None:  # ended before the instant came: say so rather than test nothing
                pytest.fail(f"run {run} ended (rc {proc.returncode}) before '{instant}': {proc.stderr.read()[-2000:]}")
            if instant == STOPPED_AT:
                # Trial workers lead process groups of their own, so the kill below misses them;
                # stopped (a SIGKILLed driver's workers may outlive it by seconds), they stay.
                stopped = workers(root)
                assert stopped, "no trial recorded its worker"
                for pid in stopped:
                    os.kill(pid, signal.SIGSTOP)
                # A worker whose trial ended between the read and its stop removed its record with
                # the trial's checkpoints: it holds no trial, so nothing names it to the next run.
                # Such a worker is the test's own leftover, not a straggler: ended here.
                held = workers(root)
                for pid, start in list(stopped.items()):
                    if pid not in held and runs(pid, start):
                        os.kill(pid, signal.SIGKILL)
                stopped = {pid: start for pid, start in stopped.items() if pid in held}
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            assert proc.returncode == -signal.SIGKILL
            # A kill while the journal was appended to left Optuna's lock: released at the next start,
            # not waited out (Optuna breaks it after 30 s, with this warning).
            assert "Forcibly releasing the lock file" not in err, err[-2000:]
            if stopped and run == list(INSTANTS).index(STOPPED_AT) + 2:  # the run after the stop
                assert seen_after_stop, f"run {run} was killed before its first trial ran"
                note = re.search(r"note: ended (\d+) trial workers? of the sweep's previous run, still running "
                                 r"here \(pid ([\d, ]+)\)", out)
                ended = {int(p) for p in note.group(2).split(", ")} if note else set()
                assert ended <= set(stopped) and (not note or int(note.group(1)) == len(ended))  # only those
            matrix.append(f"{instant}: killed with {ended_entries(root)} trials ended, "
                          f"{len(asked_not_ended(root))} asked and not ended")
    finally:
        for pid, start in stopped.items():  # left stopped forever otherwise
            if runs(pid, start):
                os.kill(pid, signal.SIGKILL)
    print("\n".join(matrix))  # the kill matrix, for the record (pytest -s)

    resumed = lpft_sweep(path, tmp_path, "--resume")
    _out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    assert "Forcibly releasing the lock file" not in err, err[-2000:]
    check_complete(root)
    check_journal(root)
    # Resuming a finished sweep runs nothing again and changes nothing.
    before = {p: p.stat().st_mtime_ns for p in (root / "results").rglob("*.parquet")}
    again = lpft_sweep(path, tmp_path, "--resume")
    _out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert {p: p.stat().st_mtime_ns for p in (root / "results").rglob("*.parquet")} == before
    check_complete(root)


def check_journal(root: Path) -> None:
    """The live Optuna journal, continued by every resume: one Optuna trial per search trial,
    none counted twice, the ones cut off by a kill ended by their re-issued runs."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    trials = pq.read_table(root / "trials.parquet").to_pandas()
    storage = JournalStorage(JournalFileBackend(str(root / "optuna.journal")))
    for strategy in ("ft", "lpft"):
        study = optuna.load_study(study_name=f"k.{strategy}", storage=storage)
        named = [t for t in study.trials if "trial_id" in t.user_attrs]
        search = trials[(trials.strategy == strategy) & (trials.stage == "search")]
        assert sorted(t.user_attrs["trial_id"] for t in named) == sorted(search.trial_id)
        # A trial Optuna was asked for as a kill struck, before lpft named it, never ran: it failed.
        assert all(t.state == optuna.trial.TrialState.FAIL for t in study.trials if t not in named)
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in named)
        assert all(sorted(t.intermediate_values) == list(range(EVERY, EPOCHS + 1, EVERY)) for t in named), \
            [(t.user_attrs, sorted(t.intermediate_values)) for t in named]
        assert all(t.user_attrs["status"] == "completed" and 0 < t.user_attrs["ood_avg"] < 1 for t in named)
        assert study.metric_names == ["id_val"]


def test_the_lock_is_exclusive_and_taken_over_only_from_a_dead_holder(tmp_path):
    root = locate(tmp_path)
    with SweepLock(root, "x"), pytest.raises(InputError, match="already running"):
        SweepLock(root, "x").acquire()
    with SweepLock(root, "x"):  # released: the next one takes it
        pass
    # A holder on this machine whose process is gone (a SIGKILLed sweep) is stale at once.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    held = {"host": os.uname().nodename, "pid": int(dead.stdout), "process_start": 0.0,
            "since": time.time(), "heartbeat": time.time(), "released": False}
    assert is_stale(held)
    assert not is_stale({**held, "pid": os.getpid(), "process_start": __import__("psutil").Process().create_time()})
    # Another machine's holder is trusted while its heartbeat is fresh.
    assert not is_stale({**held, "host": "elsewhere"})
    assert is_stale({**held, "host": "elsewhere", "heartbeat": time.time() - 3600})
    folder = tmp_path / "locks"
    number = max(int(p.stem) for p in folder.glob("*.json"))
    (folder / f"{number + 1:08d}.json").write_text(json.dumps({**held, "host": "elsewhere"}))
    with pytest.raises(InputError, match="on elsewhere"):
        SweepLock(root, "x").acquire()


def test_a_searcher_rebuilt_from_the_ledger_reissues_unended_trials_and_never_ended_ones(tmp_path):
    """What --resume does, without Ray: FT's grid of three, one trial ended and one asked when
    the driver died; the new searcher re-issues the asked one under its name and config, runs
    no ended one again, queues the replicates, and its Optuna study holds LP-FT's ended trial."""
    from lpft.search_spaces import Param
    from lpft.sweeps.ledger import Ledger
    from lpft.sweeps.searcher import OptunaBranch, SweepSearcher, grid_configs

    ledger = Ledger(locate(tmp_path))

    def build():
        grid = grid_configs({"lr": [0.1, 0.3, 1.0]}, {"strategy": "ft", "seed": 0})
        tpe = OptunaBranch("t.lpft", {"lr": Param("float", low=1e-4, high=1e-2, log=True)},
                           {"strategy": "lpft", "seed": 0}, ["id_val"], 0)
        return SweepSearcher({"ft": grid, "lpft": tpe}, {"ft": 3, "lpft": 1}, [7], "id_val", ledger)

    first = build()
    first.restore_from(ledger.entries())
    a, b, c = (first.suggest(f"ray{i}") for i in range(3))
    assert [x["trial"] for x in (a, b, c)] == ["ft-000", "ft-001", "ft-002"]
    done = {"status": "completed", "id_val": 0.9, "id_test": 0.9, "ood_avg": 0.5, "final": True}
    for x in (a, c):  # ft-000 and ft-002 end; ft-001 is running when the driver dies
        first.on_trial_complete(f"ray{[a, b, c].index(x)}", done)
        ledger.ended(first.entries[x["trial"]], TrialRow.from_record({**done, "trial_id": x["trial"]}))
    d = first.suggest("ray3")
    assert d["trial"] == "lpft-000"
    first.on_trial_complete("ray3", done)
    ledger.ended(first.entries["lpft-000"], TrialRow.from_record({**done, "trial_id": "lpft-000"}))

    second = build()
    second.restore_from(ledger.entries())
    assert len(second.branches["lpft"].study.trials) == 1  # Optuna knows the ended LP-FT trial
    again = second.suggest("new0")
    assert again == b  # the same trial, the same config
    # LP-FT's search ended before the driver died, its replicate not yet asked for: now it is
    assert second.suggest("new1")["trial"] == "lpft-seed7"
    assert second.suggest("new9") is None  # FT's replicate waits for FT's search to end
    second.on_trial_complete("new1", done)
    second.on_trial_complete("new0", {**done, "id_val": 0.95})
    ledger.ended(second.entries["ft-001"], TrialRow.from_record({**done, "trial_id": "ft-001"}))
    replicate = second.suggest("new2")
    assert replicate["trial"] == "ft-seed7" and replicate["lr"] == b["lr"] and replicate["seed"] == 7
    second.on_trial_complete("new2", done)
    assert second.suggest("new3") == "FINISHED"
    assert sorted(ledger.entries()) == ["ft-000", "ft-001", "ft-002", "ft-seed7", "lpft-000", "lpft-seed7"]


def test_a_ledger_entry_naming_a_path_outside_the_sweep_is_refused(tmp_path):
    from lpft.sweeps.ledger import Ledger

    ledger = Ledger(locate(tmp_path))
    ledger.asked("ft-000", 0, {"strategy": "ft", "trial": "ft-000"})
    assert list(ledger.entries()) == ["ft-000"]
    (tmp_path / "ledger" / "x.json").write_text(json.dumps({"trial": "../../victim", "order": 1, "config": {}}))
    with pytest.raises(InputError, match="not this file's plain name"):
        ledger.entries()


def test_a_trial_keeps_only_its_latest_checkpoints_and_refuses_a_tampered_one(tmp_path):
    """Issue 13, case 15 (every checkpoint was kept), and case 13 for lpft's own checkpoints."""
    import torch

    from lpft.trainables.trainable import Checkpoints

    folder = locate(tmp_path / "checkpoints" / "ft-000")
    checkpoints = Checkpoints(folder, keep=2)
    assert checkpoints.latest() is None
    for step in range(1, 6):
        checkpoints.save(step, {"epoch": step, "weights": torch.full((3,), float(step))})
    assert sorted(p.name for p in Path(folder.path).glob("*.pt")) == ["step-000004.pt", "step-000005.pt"]
    assert checkpoints.latest()["epoch"] == 5
    from conftest import code_running_pickle

    marker = tmp_path / "ran"
    (Path(folder.path) / "step-000009.pt").write_bytes(code_running_pickle("epoch", marker))
    with pytest.raises(InputError, match="not a plain lpft checkpoint"):
        checkpoints.latest()
    assert not marker.exists()
