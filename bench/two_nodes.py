"""Scaling out: the same 8-trial CPU-bound sweep on one node with 1 CPU, then on two nodes with 1 CPU each.

Both clusters are real Ray clusters on this machine (`lpft.cluster.local.LocalCluster`:
ray start --head / --address on loopback, token authentication on); the sweep is
`lpft sweep` with --address, 8 FT trials on `synthetic` (full-batch epochs, one thread
each). Each arm runs --repeat times, alternating, so load on the machine hits both alike;
prints each run, the medians and spread, and two-node / one-node of the medians (ideal 0.5,
target 0.55). The clusters are started, and left to settle (`LocalCluster.wait_idle`), before
the clock starts: the time is the sweep's. The nodes are warm (`lpft.cluster.warm`): each starts
a worker per CPU that imports torch, Tune and lpft before taking work. `--cold`: nodes with
Ray's defaults, whose trials import those in the trial's own worker.

Each node is pinned to a core of its own, and the driver to the head's, as on separate machines
where the driver runs on the head (a RayJob's): a node with 1 CPU then has one core for its trials
and its Ray processes alike. `--shared-cores`: every process may use every core, so the one-node
arm's Ray processes run on the core its trials leave free, while the two-node arm's share the
cores with both nodes' trials.

    python bench/two_nodes.py [--epochs 9600] [--trials 8] [--repeat 3] [--cold] [--shared-cores]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from lpft.cluster.local import LocalCluster, on_cores


def sweep_seconds(nodes: int, spec: Path, storage: Path, run: int, warm: bool, pin: bool) -> float:
    with LocalCluster(cpus_per_node=1, warm=warm, pin=pin) as cluster:
        if nodes > 1:
            for _ in range(nodes - 1):
                cluster.add_node()
        cluster.wait_idle()  # as a cluster is before a sweep: its warm workers done importing
        driver_on_head = on_cores(cluster.node_cores(0) if pin else None)
        start = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(spec), "--address", cluster.address,
                            "--storage", str(storage / f"{nodes}-node-{run}")], env=cluster.env, capture_output=True,
                           text=True, preexec_fn=driver_on_head)
        seconds = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(p.stderr[-3000:])
    print(f"{nodes} node(s) x 1 CPU: {seconds:.1f} s", flush=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=9600)  # ~7 s per trial here (2026-11-27), as issue 16 sizes it
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cold", action="store_true", help="nodes with Ray's defaults, not lpft.cluster.warm")
    ap.add_argument("--shared-cores", action="store_true", help="nodes not pinned to cores of their own")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "scale.yaml"
        spec.write_text(yaml.safe_dump({
            "name": "scale", "benchmark": {"name": "synthetic", "eps": 0.1},
            "strategies": {"ft": {"num_samples": args.trials, "epochs": args.epochs, "eval_every": args.epochs,
                                  "lr": {"low": 0.1, "high": 1.0, "log": True}}},
            "max_concurrent": args.trials, "resources": {"cpu": 1}}))
        runs: dict[int, list[float]] = {1: [], 2: []}
        for run in range(args.repeat):
            for nodes in (1, 2):
                runs[nodes].append(sweep_seconds(nodes, spec, Path(d), run, not args.cold, not args.shared_cores))
    one, two = statistics.median(runs[1]), statistics.median(runs[2])
    spread = {n: f"{min(xs):.1f}-{max(xs):.1f}" for n, xs in runs.items()}
    kind = f"{'cold' if args.cold else 'warm'} nodes{' sharing the cores' if args.shared_cores else ', a core each'}"
    print(f"{args.trials} trials on {kind}, median of {args.repeat}: one node {one:.1f} s ({spread[1]}), "
          f"two nodes {two:.1f} s ({spread[2]}), ratio {two / one:.3f} (ideal 0.5, target 0.55)")


if __name__ == "__main__":
    main()
