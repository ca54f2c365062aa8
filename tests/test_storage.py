"""Sweeps writing to an S3-compatible object store (moto's server on loopback), read back by analyze."""

import os
import socket
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import yaml

from lpft.storage import locate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env():
    """A moto S3 server on loopback with one bucket; the env a client needs to reach it."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import boto3

        deadline = time.time() + 30
        while True:
            try:
                boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                             aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket="lpft")
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        yield env
    finally:
        server.terminate()
        server.wait(10)


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
    assert "ft" in p.stdout and "lp" in p.stdout and (out / "report.html").is_file()
    assert not (tmp_path / "s3sweep").exists()


def test_credentials_are_redacted_from_what_is_printed_or_stored():
    from lpft.storage import redact

    uri = "s3://AKIAKEY:sup3rsecret@bucket/prefix?endpoint_override=127.0.0.1:9000&secret_key=abc&scheme=http"
    clean = redact(uri)
    assert "sup3rsecret" not in clean and "AKIAKEY" not in clean and "abc" not in clean
    assert clean == "s3://bucket/prefix?endpoint_override=127.0.0.1:9000&scheme=http"
    assert redact("results/x") == "results/x"
