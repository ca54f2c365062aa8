"""Sweeps writing to an S3-compatible object store (moto's server on loopback), read back by analyze."""

import subprocess
import sys

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import half_up
from oracle import selected, table_means

from lpft.storage import locate


def lpft(*args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "lpft.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_locate_local_and_s3(tmp_path, monkeypatch):
    local = locate(str(tmp_path / "a"))
    assert local.is_local and local.uri == str(tmp_path / "a") and (local / "b").path == str(tmp_path / "a" / "b")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    remote = locate("s3://bucket/prefix")
    assert not remote.is_local and remote.path == "bucket/prefix"
    assert "endpoint_override=127.0.0.1%3A9" in remote.uri and "scheme=http" in remote.uri
    assert locate((remote / "x").uri).path == "bucket/prefix/x"  # another process resolves the same place


def test_sweep_results_on_s3_read_back_by_analyze(tmp_path, s3_env, monkeypatch):
    spec = {"name": "s3sweep", "benchmark": {"name": "synthetic", "eps": 0.1},
            "strategies": {"lp": {"num_cs": 10},
                           "ft": {"num_samples": 2, "epochs": 40, "eval_every": 20,
                                  "lr": {"low": 0.1, "high": 1.0, "log": True}}},
            "storage": "s3://lpft/sweeps"}
    path = tmp_path / "s3sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    p = lpft("sweep", path, env=s3_env)
    assert p.returncode == 0, p.stderr[-3000:]
    for key, value in s3_env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    root = locate("s3://lpft/sweeps/s3sweep")
    results = (root / "results").files(".parquet")
    assert len(results) == 3 and all("/strategy=" in f for f in results)
    assert pq.read_table((root / "trials.parquet").path, filesystem=root.fs).num_rows == 3
    assert (root / "optuna.journal").exists() and (root / "ray").is_dir()
    out = tmp_path / "report"
    p = lpft("analyze", "s3://lpft/sweeps/s3sweep", "--out", out, env=s3_env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (out / "report.html").is_file()
    # The numbers analyze printed from S3 are what the rows on S3 say (tests/oracle.py, pandas alone).
    rows = ds.dataset((root / "results").path, filesystem=root.fs, format="parquet",
                      partitioning="hive").to_table().to_pandas()
    chosen = selected(rows)
    means = table_means(pd.read_csv(out / "table.csv"))
    assert set(chosen) == {"lp", "ft"}
    printed = {}  # each strategy's first line: its table row (notes below may start with its name too)
    for line in p.stdout.splitlines():
        if line.split():
            printed.setdefault(line.split()[0], line)
    for strategy, trials in chosen.items():
        for column in ("id_test", "ood_avg"):
            assert means[strategy, column] == pytest.approx(trials[column].mean(), abs=1e-12), (strategy, column)
        # * marks a column's best
        assert half_up(trials["id_test"].mean()) in printed[strategy].replace("*", " ").split()
    assert not (tmp_path / "s3sweep").exists()


def test_credentials_are_redacted_from_what_is_printed_or_stored():
    from lpft.storage import redact

    uri = "s3://AKIAKEY:sup3rsecret@bucket/prefix?endpoint_override=127.0.0.1:9000&secret_key=abc&scheme=http"
    clean = redact(uri)
    assert "sup3rsecret" not in clean and "AKIAKEY" not in clean and "abc" not in clean
    assert clean == "s3://bucket/prefix?endpoint_override=127.0.0.1:9000&scheme=http"
    assert redact("results/x") == "results/x"


def test_the_sweep_lock_on_s3_is_a_conditional_create(s3_env, monkeypatch):
    """Of two sweeps taking the lock on S3 one wins, by `If-None-Match: *`, not by luck."""
    from lpft.errors import InputError
    from lpft.sweeps.lock import SweepLock, _create_exclusive

    for key, value in s3_env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    root = locate("s3://lpft/locktest")
    assert _create_exclusive(root / "once.json", b"1") and not _create_exclusive(root / "once.json", b"2")
    assert (root / "once.json").read_bytes() == b"1"
    with SweepLock(root, "locktest"), pytest.raises(InputError, match="already running"):
        SweepLock(root, "locktest").acquire()
    with SweepLock(root, "locktest") as lock:  # the first released it
        assert lock.mine is not None and lock.mine.exists()
