"""Plugins reach every Ray worker: a package under tests/ registers a benchmark and a strategy,
installed (entry points) or named by a spec's `imports:`, and a sweep uses both on a real
two-node cluster with trials on both nodes."""

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from lpft.cluster.local import LocalCluster

PLUGIN = Path(__file__).parent / "plugin_example"


def spec(tmp_path: Path, name: str, **extra) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "benchmark": {"name": "blobs", "shift": 1.0},
        # The first two centroid trials meet, so they run on different nodes (one CPU each).
        "strategies": {"centroid": {"num_samples": 4, "busy_s": 3.0, "meet": 2,
                                    "meet_dir": str(tmp_path / f"meet-{name}")},
                       "lp": {"num_cs": 4}},
        "max_concurrent": 2, "storage": str(tmp_path / "out"), **extra}))
    return path


def sweep_on_both_nodes(cluster: LocalCluster, spec_path: Path, env: dict, name: str) -> None:
    p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(spec_path), "--address", cluster.address],
                       capture_output=True, text=True, env=env, timeout=600, cwd=spec_path.parent)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    trials = pq.read_table(spec_path.parent / "out" / name / "trials.parquet").to_pandas()
    assert sorted(trials.strategy) == ["centroid"] * 4 + ["lp"] and set(trials.status) == {"completed"}
    # Every trial loads the plugin's benchmark, so a trial on a node shows the package reached it.
    # Not the centroid trials alone: under load the LP trial can hold one node while all four
    # centroid trials run on the other (seen with the suite on two xdist workers).
    assert set(trials.node) == set(cluster.node_ids()), trials[["strategy", "node"]].to_string()


@pytest.mark.slow  # a minute: its own two-node cluster; test_cluster.py ships the same package by imports:
def test_an_installed_plugin_reaches_both_nodes(tmp_path):
    site, source = tmp_path / "site", tmp_path / "plugin"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(source)], check=True, capture_output=True)
    # As on a cluster whose image has the package: every node's Python path has it.
    cluster = LocalCluster(cpus_per_node=1, extra_env={"PYTHONPATH": str(site)})
    try:
        cluster.start(nodes=2)
        sweep_on_both_nodes(cluster, spec(tmp_path, "installed"), cluster.env, "installed")
    finally:
        cluster.stop()


@pytest.mark.parametrize("imports, message", [
    (["no_such_module"], "imports: no module named 'no_such_module'"),
    (["bad name"], "imports: 'bad name' is not a module name"),
])
def test_bad_imports_are_one_line(tmp_path, imports, message):
    p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(spec(tmp_path, "bad", imports=imports))],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
