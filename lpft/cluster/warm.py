"""The environment for a Ray node whose workers are warm before a sweep arrives.

Set it where Ray starts on a node that runs trials (`env $(python -m lpft.cluster.warm) ray
start ...`, or a container's env). The node then starts one worker per CPU as it comes up,
and each worker imports torch, Ray Tune and lpft before it takes work (`lpft.trainables.preload`).
A trial actor takes one of those workers and starts training at once, on every node.

Without it, Ray pre-starts workers only on the node where the first driver connects, and
without torch. On every other node a sweep's first trial waited for a fresh worker to start
and import torch: 3.4 s on `bench/two_nodes.py`'s second node.

What it costs and what it does not do (measured with Ray 2.60):
- Each warm worker holds ~470 MB of its own memory (634 MB PSS), one per CPU of the node.
- Ray starts them once, when the node starts. A trial's worker belongs to its sweep and ends
  with it, and Ray does not start new warm ones. So the node's first sweep gains: a KubeRay
  RayJob's cluster, an autoscaled node. A later sweep on the same nodes starts its workers
  as before, and they import lpft's modules when they start.
- A trial actor with a runtime_env never takes a warm worker: one from the AWS_* variables
  Ray Tune copies from the driver, or from plugins the driver loaded (`lpft.plugins`).
"""

from __future__ import annotations

WARM_NODE_ENV: dict[str, str] = {
    "RAY_preload_python_modules": "lpft.trainables.preload",
    # One worker per CPU when the node starts, serving any job (not only at a driver's first connection).
    "RAY_enable_worker_prestart": "1",
    # Those workers serve the first job too: no second set started when a driver connects.
    "RAY_prestart_worker_first_driver": "0",
    # Ray kills idle workers beyond the node's free CPUs. A trial's lease can take the CPU a
    # moment before it takes the worker, and the killer (every 200 ms) then ends the warm
    # worker: in 6 of 14 node starts measured, and a fresh worker imported torch for the
    # trial. An idle worker now becomes killable after a week, not after 1 s. A job's workers
    # still end with their job.
    "RAY_idle_worker_killing_time_threshold_ms": str(7 * 24 * 3600 * 1000),
}


def main() -> None:
    for name, value in WARM_NODE_ENV.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
