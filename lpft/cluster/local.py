"""A real multi-node Ray cluster on this machine, for tests and benchmarks.

`ray start --head` plus `ray start --address` per extra node, each with its own CPUs, on
loopback, with token authentication on (a fresh token in RAY_AUTH_TOKEN). Every node runs
under `--block` in its own process group, so one node can be killed (SIGKILL: a lost
machine) without touching the others, and `stop()` removes exactly this cluster's
processes, never other Ray instances on the machine, and the temp dir it made. `pin=True`
confines each node, and everything it starts, to cores of its own, as separate machines
are: unpinned nodes share every core, so one node's Ray processes slow another node's trials.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lpft.cluster.warm import WARM_NODE_ENV

if TYPE_CHECKING:
    import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Fast failure detection: a killed node is declared dead in a few seconds, not ~30.
HEALTH_CHECK = {"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "500",
                "RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "4"}
def on_cores(cores: set[int] | None) -> Callable[[], None] | None:
    """A `preexec_fn` that confines a child process (and all it starts) to `cores`; None: none."""
    return None if cores is None else lambda: os.sched_setaffinity(0, cores)


# On SIGTERM a node drains first, for up to 30 s (for Ray Serve's replicas), which this
# cluster's nodes never need: stop() waited 15 s per node, then killed it.
NO_DRAIN = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
# Ray pre-starts workers for the first driver that connects: here `node_ids`' short-lived probe,
# whose workers then sat idle, polling, for the cluster's life (0.6 CPU seconds per 30 s). Warm
# nodes (lpft.cluster.warm) pre-start theirs for any job.
NO_FIRST_DRIVER_WORKERS = {"RAY_prestart_worker_first_driver": "0"}
# A lean cluster (`LocalCluster.lean`), for drivers that only run sweeps: no metrics collection.
LEAN_ENV = {"RAY_enable_metrics_collection": "0"}
# Nor, on its head, the processes only dashboards, Ray Jobs, the autoscaler and drivers that stream
# workers' logs use: an idle lean head used 1.9 CPU seconds per 30 s where a full one used 6.0.
LEAN_HEAD = ("--include-dashboard", "false", "--no-monitor", "--include-log-monitor", "false")


@dataclass
class LocalCluster:
    cpus_per_node: int = 1
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    temp_dir: str = ""  # Ray's session files and logs; "": a fresh /tmp/lpftray-*, which stop() removes
    nodes: list[subprocess.Popen] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. PYTHONPATH with a plugin installed
    warm: bool = False  # each node starts a worker per CPU that imports what a trial imports (lpft.cluster.warm)
    pin: bool = False  # node i runs on the i-th `cpus_per_node` cores this process may use (node_cores)
    # For sweeps only (`lpft sweep --address`): no dashboard (so no Ray Jobs: `lpft submit` needs
    # one), autoscaler monitor, log monitor or metrics (LEAN_HEAD, LEAN_ENV).
    lean: bool = False
    _own_temp: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.temp_dir:
            self.temp_dir = tempfile.mkdtemp(prefix="lpftray-", dir="/tmp")
            self._own_temp = True

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment a client of this cluster needs (its token, no stray RAY_ADDRESS)."""
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")}
        # Jobs run `python` from the nodes' PATH: on this machine, this environment's, as a cluster's image.
        path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return {**env, **HEALTH_CHECK, "PATH": path, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token,
                **self.extra_env}

    def node_cores(self, index: int) -> set[int]:
        """The cores node `index` (0 is the head) runs on when pinned: a driver that should
        run on the head, as a RayJob's does, is pinned to node_cores(0)."""
        cores = sorted(os.sched_getaffinity(0))
        mine = cores[index * self.cpus_per_node:(index + 1) * self.cpus_per_node]
        if len(mine) < self.cpus_per_node:
            raise ValueError(f"pinned node {index} needs cores {index * self.cpus_per_node}-"
                             f"{(index + 1) * self.cpus_per_node - 1}: this process may use {len(cores)}")
        return set(mine)

    def _ray(self, *args: str) -> subprocess.Popen:
        ray = str(Path(sys.executable).with_name("ray"))
        # Each node's dashboard agent on a port of its own: Ray's fixed default (52365) is taken by
        # whichever Ray on this machine started first (another node, a local sweep), and a head
        # without its agent refuses every job ("No available agent to submit job").
        cmd = [ray, "start", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1",
               "--num-cpus", str(self.cpus_per_node), "--dashboard-agent-listen-port", str(free_port()), *args]
        env = {**NO_DRAIN, **NO_FIRST_DRIVER_WORKERS, **self.env, **(WARM_NODE_ENV if self.warm else {}),
               **(LEAN_ENV if self.lean else {})}
        cores = self.node_cores(len(self.nodes)) if self.pin else None
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True,
                                preexec_fn=on_cores(cores))  # noqa: PLW1509 - one syscall, no lock a thread could hold
        self.nodes.append(proc)
        return proc

    def start(self, nodes: int = 2, timeout: float = 120) -> LocalCluster:
        dashboard = LEAN_HEAD if self.lean else ("--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
                                                 "--dashboard-port", str(self.dashboard_port))
        # The Ray Client server on a port of its own: its default (10001) is another cluster's.
        self._ray("--head", "--port", str(self.port), "--temp-dir", self.temp_dir,
                  "--ray-client-server-port", str(free_port()), *dashboard)
        self.wait_for(1, timeout)
        for _ in range(nodes - 1):
            self.add_node(timeout)
        return self

    def add_node(self, timeout: float = 120) -> subprocess.Popen:
        alive = len(self.node_ids())
        # Its own temp dir: nodes sharing one would garbage-collect each other's runtime_env files
        # (a job's working_dir vanished under its driver), which separate machines never do.
        proc = self._ray("--address", self.address, "--temp-dir", f"{self.temp_dir}/n{len(self.nodes)}")
        self.wait_for(alive + 1, timeout)
        return proc

    def node_ids(self) -> list[str]:
        """Alive node ids, head first (asked of the cluster by a short-lived driver)."""
        code = (f"import json, ray; ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False); "
                "nodes = [n for n in ray.nodes() if n['Alive'] and n.get('Resources', {}).get('CPU')]; "
                "nodes.sort(key=lambda n: 'node:__internal_head__' not in n['Resources']); "
                "print(json.dumps([n['NodeID'] for n in nodes]))")
        p = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120,
                           check=False)  # a failed ask means no nodes yet
        if p.returncode != 0:
            return []
        return json.loads(p.stdout.strip().splitlines()[-1])

    def wait_for(self, n: int, timeout: float) -> None:
        deadline = time.time() + timeout
        while len(self.node_ids()) < n:
            if time.time() > deadline:
                raise TimeoutError(f"the local Ray cluster did not reach {n} nodes in {timeout:.0f} s")
            time.sleep(1)

    def wait_free(self, timeout: float = 120) -> bool:
        """Waits until the cluster has every CPU free (a stopped job's trials gone, not just
        its driver), as a short-lived driver sees it; False if some was still held after `timeout` s."""
        code = (f"import ray, sys, time\n"
                f"ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False)\n"
                f"end = time.time() + {timeout}\n"
                "while ray.available_resources().get('CPU', 0) < ray.cluster_resources().get('CPU', 0):\n"
                "    if time.time() > end:\n"
                "        sys.exit(1)\n"
                "    time.sleep(0.5)\n")
        p = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, timeout=timeout + 120,
                           check=False)
        return p.returncode == 0

    def wait_idle(self, timeout: float = 60, window: float = 1.0, busy: float = 0.15) -> bool:
        """Waits until the nodes' processes use under `busy` CPU seconds per second (their
        warm workers done importing), as a cluster is before a sweep arrives; False if they
        were still busy after `timeout` s."""
        import psutil

        def cpu() -> float:
            total = 0.0
            for proc in self._started(with_nodes=True):
                try:
                    times = proc.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    pass
            return total

        deadline = time.time() + timeout
        while time.time() < deadline:
            before = cpu()
            time.sleep(window)
            if cpu() - before < busy * window:
                return True
        return False

    def kill_node(self, index: int) -> None:
        """SIGKILL node `index` (0 is the head) and everything it started: a lost machine."""
        os.killpg(self.nodes[index].pid, signal.SIGKILL)
        self.nodes[index].wait()

    def _started(self, with_nodes: bool = False) -> list[psutil.Process]:
        """Every process the nodes started (with the nodes' own, `with_nodes`), listed now."""
        import psutil

        found = []
        for proc in self.nodes:
            try:
                node = psutil.Process(proc.pid)
                found += ([node] if with_nodes else []) + node.children(recursive=True)
            except psutil.NoSuchProcess:
                pass
        return found

    def stop(self) -> None:
        import psutil

        # Everything the nodes started, listed before they stop: workers a raylet started in
        # their own sessions leave its process group, and once orphaned, its process tree.
        started = self._started()
        for proc in reversed(self.nodes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.nodes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for child in started:  # by pid (and start time: psutil checks it), never by name
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        if self._own_temp:  # ~3 MB of logs per cluster, which every test run left in /tmp
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start(nodes=1)  # add_node() for more

    def __exit__(self, *exc: object) -> None:
        self.stop()
