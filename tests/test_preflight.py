"""What `lpft sweep` refuses before Ray starts (issue 25): each case is one line and exit 2 from
`main` in this process, with Ray never initialised here and nothing written. Before, each came
after Ray's 15-30 s start-up."""

import json
import os
import time

import pytest
import ray
import yaml

from lpft.cli import main


def refused(capsys, tmp_path, *argv, spec=None):
    """`lpft sweep` on a small spec: its one-line error, checked to come before Ray and quickly."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec or {"name": "s", "benchmark": {"name": "synthetic"},
                                            "strategies": {"ft": {"epochs": 5}}}))
    assert not ray.is_initialized()
    start = time.perf_counter()
    code = main(["sweep", str(path), *map(str, argv)])
    took = time.perf_counter() - start
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert not ray.is_initialized(), "Ray was started before the refusal"
    assert took < 5, f"{took:.1f} s"
    return err


def listing(root):
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_storage_that_is_a_file_is_refused_before_ray(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    err = refused(capsys, tmp_path, "--storage", tmp_path / "file")
    assert "storage: cannot create the sweep folder" in err and "file/s" in err
    assert (tmp_path / "file").read_text() == "x"


def test_storage_that_cannot_be_written_is_refused_before_ray(tmp_path, capsys):
    # /proc takes no folder, even from root (tests here run as root, where chmod stops nothing)
    err = refused(capsys, tmp_path, "--storage", "/proc/lpft-nowhere")
    assert "storage: cannot create the sweep folder /proc/lpft-nowhere/s" in err


def test_a_folder_with_results_is_refused_without_resume_before_ray(tmp_path, capsys):
    results = tmp_path / "runs" / "s" / "results" / "strategy=ft"
    results.mkdir(parents=True)
    (results / "ft-000.parquet").write_bytes(b"")
    before = listing(tmp_path / "runs")
    err = refused(capsys, tmp_path, "--storage", tmp_path / "runs")
    assert "already holds results of sweep 's': pass --resume" in err
    assert listing(tmp_path / "runs") == before  # no lock, no spec.yaml written


def test_a_sweep_that_is_running_is_refused_before_ray(tmp_path, capsys):
    import socket

    import psutil

    locks = tmp_path / "runs" / "s" / "locks"
    locks.mkdir(parents=True)
    me = os.getpid()  # a live holder on this host: this process
    holder = {"host": socket.gethostname(), "pid": me, "process_start": psutil.Process(me).create_time(),
              "since": time.time(), "heartbeat": time.time(), "released": False}
    (locks / "00000000.json").write_text(json.dumps(holder))
    before = listing(tmp_path / "runs")
    err = refused(capsys, tmp_path, "--storage", tmp_path / "runs", "--resume")
    assert f"sweep 's' at {tmp_path / 'runs' / 's'} is already running (pid {me}" in err
    assert listing(tmp_path / "runs") == before


@pytest.mark.parametrize("resources, needle", [
    ({"cpu": 100_000}, "resources: a ft trial needs 100000 CPU and 0 GPU, but no node here has that"),
    ({"gpu": 1_000}, "resources: a ft trial needs 1 CPU and 1000 GPU, but no node here has that"),
])
def test_a_trial_larger_than_this_machine_is_refused_before_ray(tmp_path, capsys, resources, needle):
    spec = {"name": "s", "benchmark": {"name": "synthetic"}, "strategies": {"ft": {"epochs": 5}},
            "resources": resources}
    err = refused(capsys, tmp_path, "--storage", tmp_path / "runs", spec=spec)
    assert needle in err
    assert not (tmp_path / "runs").exists()


SPEC = {"name": "s", "benchmark": {"name": "synthetic", "eps": 0.1},
        "strategies": {"lp": {"num_cs": 3}, "ft": {"epochs": 5, "lr": {"low": 0.01, "high": 0.1, "log": True}}}}


def stored(tmp_path, raw):
    """A sweep folder as a run of `raw` leaves it: its spec.yaml, written as lpft writes it."""
    from lpft.storage import locate
    from lpft.sweeps import parse_spec
    from lpft.sweeps.preflight import stored_spec

    root = tmp_path / "runs" / "s"
    root.mkdir(parents=True)
    (root / "spec.yaml").write_text(yaml.safe_dump(stored_spec(parse_spec(raw)), sort_keys=False))
    return locate(str(root))


def test_resume_takes_a_spec_that_only_spells_out_defaults_or_reorders_keys(tmp_path):
    from lpft.sweeps import parse_spec
    from lpft.sweeps.preflight import check_same_spec

    root = stored(tmp_path, SPEC)
    spelled = {  # every key in another order, and defaults written out (top level, benchmark, hyperparameters)
        "strategies": {"ft": {"lr": {"high": 0.1, "low": 0.01, "log": True}, "momentum": 0.9, "epochs": 5,
                              "num_samples": 1}, "lp": {"num_cs": 3, "max_iter": 1000}},
        "metric": ["id_val"], "seeds": 0, "replicate": 0, "search": "optuna", "scheduler": "fifo",
        "resources": {"cpu": 1, "gpu": 0}, "max_concurrent": 2, "save_models": False, "loggers": [],
        "benchmark": {"d": 50, "eps": 0.1, "name": "synthetic"}, "name": "s",
    }
    check_same_spec(root, parse_spec(spelled))


def test_resume_names_each_real_change_of_the_spec(tmp_path, capsys):
    root = stored(tmp_path, SPEC)
    kept = (tmp_path / "runs" / "s" / "spec.yaml").read_text()
    changed = {**SPEC, "benchmark": {"name": "synthetic", "eps": 1.0}, "metric": "ood_avg",
               "strategies": {"lp": {"num_cs": 3}, "ft": {"epochs": 5, "lr": 0.05}}}
    err = refused(capsys, tmp_path, "--storage", tmp_path / "runs", "--resume", spec=changed)
    assert ("was started with another spec (benchmark.eps: 0.1 -> 1.0; strategies.ft.lr: "
            "'0.01..0.1 log' -> 0.05; metric: ['id_val'] -> "
            "['ood_avg']); resume with the spec it ran") in err, err
    assert (tmp_path / "runs" / "s" / "spec.yaml").read_text() == kept and root.exists()
