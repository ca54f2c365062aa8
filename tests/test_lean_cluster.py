"""The suite's session cluster is lean (`LocalCluster(lean=True)`): what it leaves out is what
made an idle head cost 6.0 CPU seconds per 30 s instead of 1.9 (docs/testing.md)."""

import urllib.error
import urllib.request

import psutil
import pytest


def test_the_session_cluster_runs_no_dashboard_monitors_or_probe_workers(ray_cluster):
    commands = []
    for proc in ray_cluster._started(with_nodes=True):
        try:
            commands.append(" ".join(proc.cmdline()))
        except psutil.NoSuchProcess:  # a short-lived helper gone meanwhile
            pass
    assert any("raylet" in c for c in commands)  # the listing sees the node's processes
    for left_out in ("log_monitor.py", "autoscaler/_private/monitor.py", "ray::IDLE", "DashboardHead"):
        assert not [c for c in commands if left_out in c], left_out
    with pytest.raises(urllib.error.URLError):  # no dashboard where a full head serves one
        urllib.request.urlopen(ray_cluster.dashboard, timeout=5)
