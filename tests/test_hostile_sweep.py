"""A sweep folder is data someone else may have written (issue 25): each file lpft reads back from
it (spec.yaml, the ledger, the lock, checkpoints, saved models, trials.parquet) is checked when
read, and a bad one is one line naming it (exit 2) that says what to do, never a traceback, code
run, or a write outside the folder. The folders here are made by hand: no Ray, no sweep."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from conftest import code_running_pickle

from lpft.cli import main


def one_line(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    return err


def finished_sweep(root):
    """A sweep folder as `lpft wise` reads it: its spec, one completed ft trial, its saved model."""
    root.mkdir()
    (root / "spec.yaml").write_text(yaml.safe_dump({"name": "s", "benchmark": {"name": "synthetic"},
                                                    "strategies": {"ft": {}}}))
    row = {"trial_id": "ft-000", "strategy": "ft", "stage": "search", "seed": 0, "status": "completed",
           "id_val": 0.9, "id_test": 0.9, "ood_avg": 0.5, "hp.lr": 0.1}
    pq.write_table(pa.Table.from_pylist([row]), root / "trials.parquet")
    (root / "models").mkdir()
    return root / "models" / "ft-000.pt"


def test_lpft_wise_refuses_a_saved_model_that_is_not_one(tmp_path, capsys):
    model = finished_sweep(tmp_path / "s")
    marker = tmp_path / "ran"
    model.write_bytes(code_running_pickle("w", marker))  # was: UnpicklingError's traceback
    err = one_line(capsys, "wise", tmp_path / "s")
    assert f"model {model}: refused: not a model lpft saved" in err and "posix.system" in err
    assert not marker.exists()
    model.unlink()
    torch.save({"w": torch.zeros(2)}, tmp_path / "elsewhere.pt")
    model.symlink_to(tmp_path / "elsewhere.pt")  # a model the sweep did not save
    assert f"{model}: a symbolic link out of the sweep folder" in one_line(capsys, "wise", tmp_path / "s")
    (tmp_path / "s" / "trials.parquet").write_bytes(b"PAR1 not really")  # was: ArrowInvalid's traceback
    assert f"{tmp_path / 's' / 'trials.parquet'}: not a trials table lpft wrote" in one_line(
        capsys, "wise", tmp_path / "s")


@pytest.mark.parametrize("content, needle", [
    (None, "refused: not a model lpft saved"),  # /etc/passwd itself: was IndexError's traceback
    ([1, 2], "a state dict of named tensors"),  # a torch file, but no model
    ("folder", "cannot read it"),
])
def test_lpft_run_wise_refuses_a_model_that_is_not_one(tmp_path, capsys, content, needle):
    path = "/etc/passwd" if content is None else tmp_path if content == "folder" else tmp_path / "m.pt"
    if isinstance(content, list):
        torch.save(content, path)
    err = one_line(capsys, "run", "synthetic", "--strategy", "wise", "--set", f"model={path}")
    assert f"model {path}" in err and needle in err


def lock_file(root, body):
    (root / "locks").mkdir(parents=True, exist_ok=True)
    path = root / "locks" / "00000003.json"
    path.write_bytes(body)
    return path


@pytest.mark.parametrize("body, problem", [
    (b'{"host": "h", "pid": "x", "since": 0, "heartbeat": 0}', "pid is 'x'"),  # was: ValueError's traceback
    (b"{\"host\": \"h\", \"pi", "not JSON"),  # was: "already running ... heartbeat 0 s ago", forever
    (b"[1, 2]", "not a JSON object"),
    (b'{"host": "h", "pid": 1, "since": 0, "heartbeat": 0, "process_start": "x"}', "process_start is 'x'"),
])
def test_a_damaged_lock_is_reported_with_the_command_that_clears_it(tmp_path, body, problem):
    import subprocess

    from lpft.errors import InputError
    from lpft.storage import locate
    from lpft.sweeps.lock import SweepLock

    path = lock_file(tmp_path, body)
    with pytest.raises(InputError) as e:
        SweepLock(locate(str(tmp_path)), "s").acquire()
    message = str(e.value)
    assert f"its lock {path} is damaged ({problem})" in message and "running" not in message.split(";", maxsplit=1)[0]
    command = message.rsplit("clear it with: ", 1)[1]
    assert command == f"rm {path}"
    subprocess.run(command, shell=True, check=True)  # the command given clears it: the sweep takes the lock
    with SweepLock(locate(str(tmp_path)), "s") as lock:
        assert lock.mine is not None and lock.mine.exists()


@pytest.mark.parametrize("body, problem", [
    (b"{not json", "not JSON"),  # was: JSONDecodeError's traceback
    (b"[]", "not a JSON object"),
    (b'{"trial": "ft-000", "order": "first", "config": {"strategy": "ft"}}', "order is 'first'"),
    (b'{"trial": "ft-000", "order": 0, "config": ["ft"]}', "config is ['ft']"),
    (b'{"trial": "ft-000", "order": 0, "config": {"strategy": "ft"}, "row": 3}', "row is 3"),
    (b'{"trial": "wise-ft-000", "order": 0, "config": {"strategy": "wise", "source_trial": "ft-000", '
     b'"model": "/etc/passwd"}}', "config.model '/etc/passwd' is not one of this sweep's saved models"),
])
def test_a_damaged_ledger_entry_is_one_line_naming_it(tmp_path, body, problem):
    from lpft.errors import InputError
    from lpft.storage import locate
    from lpft.sweeps.ledger import Ledger

    ledger = Ledger(locate(str(tmp_path)))
    ledger.asked("ft-001", 1, {"strategy": "ft", "trial": "ft-001"})
    stem = "wise-ft-000" if b"wise" in body else "ft-000"
    (tmp_path / "ledger" / f"{stem}.json").write_bytes(body)
    with pytest.raises(InputError) as e:
        ledger.entries()
    assert str(e.value).startswith(f"{tmp_path / 'ledger' / stem}.json: not a ledger entry as lpft writes it "
                                   f"({problem})") and "delete it" in str(e.value)
    (tmp_path / "ledger" / f"{stem}.json").unlink()  # as the message says: the rest reads again
    assert list(ledger.entries()) == ["ft-001"]
    model = f"{tmp_path}/models/ft-000.pt"  # the sweep's own saved model, as its searcher names it
    ledger.asked("wise-ft-000", 2, {"strategy": "wise", "trial": "wise-ft-000", "source_trial": "ft-000",
                                    "model": model})
    assert ledger.entries()["wise-ft-000"].config["model"] == model


def test_a_checkpoints_folder_linked_out_of_the_sweep_is_refused_and_never_written(tmp_path):
    import os

    from lpft.errors import InputError
    from lpft.storage import locate
    from lpft.sweeps.preflight import check_links
    from lpft.trainables.trainable import Checkpoints

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "step-000001.pt").write_bytes(b"someone else's file")
    root = tmp_path / "sweep"
    (root / "checkpoints").mkdir(parents=True)
    (root / "checkpoints" / "ft-000").symlink_to(victim)
    with pytest.raises(InputError, match=f"{root / 'checkpoints' / 'ft-000'}: a symbolic link out of the sweep "
                                         f"folder \\(to '{victim}'\\).*rm {root / 'checkpoints' / 'ft-000'}"):
        check_links(locate(str(root)))
    # The trial itself never writes through it either (a link made while the sweep runs).
    with pytest.raises(InputError, match="a symbolic link out of the sweep's checkpoints"):
        Checkpoints(locate(str(root / "checkpoints" / "ft-000")), 1, within=locate(str(root / "checkpoints")))
    assert os.listdir(victim) == ["step-000001.pt"]
    (root / "checkpoints" / "ft-000").unlink()
    (root / "checkpoints" / "ft-000").symlink_to(root / "checkpoints" / "elsewhere")  # inside the sweep: fine
    check_links(locate(str(root)))
    (root / "checkpoints" / "ft-000").unlink()
    os.rmdir(root / "checkpoints")
    (root / "checkpoints").symlink_to(victim)  # the whole folder too
    with pytest.raises(InputError, match="checkpoints: a symbolic link out of the sweep folder"):
        check_links(locate(str(root)))


def test_lpft_sweep_resume_refuses_the_link_before_ray_starts(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "s", "benchmark": {"name": "synthetic"}, "strategies": {"ft": {}}}))
    (tmp_path / "runs" / "s" / "checkpoints").mkdir(parents=True)
    (tmp_path / "runs" / "s" / "checkpoints" / "ft-000").symlink_to(tmp_path)
    err = one_line(capsys, "sweep", spec, "--storage", tmp_path / "runs", "--resume")
    assert "checkpoints/ft-000: a symbolic link out of the sweep folder" in err
    assert not (tmp_path / "runs" / "s" / "locks").exists()


@pytest.mark.parametrize("text, needle", [
    ("name: !!python/object/apply:os.system [touch ran]\n", "could not determine a constructor"),  # ConstructorError
    ("- a\n- b\n", "not a spec (a mapping of fields) but ['a', 'b']"),
])
def test_a_tampered_spec_yaml_in_the_sweep_folder_is_one_line_saying_what_to_do(tmp_path, capsys, text, needle):
    from lpft.errors import InputError
    from lpft.storage import locate
    from lpft.sweeps import parse_spec
    from lpft.sweeps.preflight import check_same_spec

    finished_sweep(tmp_path / "s")
    (tmp_path / "s" / "spec.yaml").write_text(text)
    err = one_line(capsys, "wise", tmp_path / "s")
    assert f"{tmp_path / 's' / 'spec.yaml'}" in err and needle in err and "lpft sweep SPEC --resume" in err
    spec = parse_spec({"name": "s", "benchmark": {"name": "synthetic"}, "strategies": {"ft": {}}}, "s.yaml")
    with pytest.raises(InputError, match="delete it and run `lpft sweep SPEC --resume`"):
        check_same_spec(locate(str(tmp_path / "s")), spec)  # what --resume reads, before any trial
    assert not (tmp_path / "ran").exists()
