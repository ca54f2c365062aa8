"""Warm nodes (`lpft.cluster.warm`): on a real two-node cluster whose nodes started with
WARM_NODE_ENV, the sweep's trials run in the workers the nodes started before it; no worker
is started for them. Without the idle-worker threshold in WARM_NODE_ENV, Ray killed a warm
worker as a trial's lease arrived and started a fresh one: this test failed in 2 of 3 runs.
The nodes are pinned (`LocalCluster(pin=True)`), as bench/two_nodes.py's are: every process a
node starts, its warm worker included, runs on that node's core alone."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from lpft.cluster.local import LocalCluster
from lpft.cluster.warm import WARM_NODE_ENV


def _workers(cluster: LocalCluster) -> dict[int, str]:
    """Ray workers the nodes started, by pid: an idle one is `ray::IDLE`, a starting one
    still runs default_worker.py; Ray's agents are not workers."""
    found = {}
    for proc in cluster._started():
        try:
            name, argv = proc.name(), proc.cmdline()
        except psutil.NoSuchProcess:
            continue
        script = argv[1] if len(argv) > 1 else ""  # the raylet's own argv names default_worker.py too
        if script.endswith("default_worker.py") or (name.startswith("ray::") and "Agent" not in name):
            found[proc.pid] = name
    return found


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two pinned nodes need two cores")
def test_a_sweeps_trials_run_in_the_workers_the_nodes_started_before_it(tmp_path):
    spec = tmp_path / "warm.yaml"
    # 3,000 epochs (seconds a trial): with 500 (under one), the first node's reused actor ran all
    # eight trials before Tune started one on the second in 2 of ~8 runs on a loaded machine.
    spec.write_text(yaml.safe_dump({
        "name": "warm", "benchmark": {"name": "synthetic", "eps": 0.1},
        "strategies": {"ft": {"num_samples": 8, "epochs": 3000, "eval_every": 3000,
                              "lr": {"low": 0.1, "high": 1.0, "log": True}}},
        "max_concurrent": 8, "resources": {"cpu": 1}}))
    cluster = LocalCluster(cpus_per_node=1, warm=True, pin=True)
    try:
        cluster.start(nodes=2)
        # One per node's CPU, before any sweep: up once both are idle. Waited for by name, not by
        # the nodes' CPU (wait_idle): with the suite's other xdist worker on the same two cores,
        # the nodes' importing took longer than wait_idle's 120 s.
        deadline = time.time() + 300
        while sorted((warm := _workers(cluster)).values()) != ["ray::IDLE", "ray::IDLE"] and time.time() < deadline:
            time.sleep(0.5)
        assert sorted(warm.values()) == ["ray::IDLE", "ray::IDLE"], warm
        for index, node in enumerate(cluster.nodes):
            cores = {}
            for proc in [psutil.Process(node.pid), *psutil.Process(node.pid).children(recursive=True)]:
                try:
                    cores[proc.pid] = proc.cpu_affinity()
                except psutil.NoSuchProcess:  # a short-lived helper
                    pass
            assert set(warm) & set(cores)  # the node's own warm worker, among what it started
            assert all(set(c) == cluster.node_cores(index) for c in cores.values()), (index, cores)

        seen: dict[int, str] = {}
        done = threading.Event()

        def watch() -> None:  # every worker that exists while the sweep runs
            while not done.is_set():
                seen.update(_workers(cluster))
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(spec), "--address", cluster.address,
                                "--storage", str(tmp_path)], env=cluster.env, capture_output=True, text=True,
                               timeout=600)
        finally:
            done.set()
            watcher.join()
        assert p.returncode == 0, p.stderr[-3000:]
        trials = pd.read_parquet(tmp_path / "warm" / "trials.parquet")
        assert set(trials.status) == {"completed"} and trials.node.nunique() == 2  # both nodes ran trials
        started = {pid: name for pid, name in seen.items() if pid not in warm}
        assert not started, f"workers started during the sweep: {started}"
    finally:
        cluster.stop()
    assert not Path(cluster.temp_dir).exists()  # stop() removes the logs' folder it made


def test_a_pinned_node_needs_cores_of_its_own(tmp_path):
    cores = len(os.sched_getaffinity(0))
    cluster = LocalCluster(cpus_per_node=cores + 1, pin=True, temp_dir=str(tmp_path))
    with pytest.raises(ValueError, match=rf"pinned node 0 needs cores 0-{cores}: this process may use {cores}"):
        cluster.start()
    assert not cluster.nodes  # nothing started
    cluster.stop()
    assert tmp_path.is_dir()  # a folder the caller gave is the caller's


def test_the_warm_environment_is_printable_for_ray_start():
    p = subprocess.run([sys.executable, "-m", "lpft.cluster.warm"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    assert dict(line.split("=", 1) for line in p.stdout.split()) == WARM_NODE_ENV
