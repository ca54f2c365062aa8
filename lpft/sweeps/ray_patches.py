"""Where lpft changes Ray's own behaviour, each through a Ray internal, in one place. They were
written against Ray `WRITTEN_FOR` (constraints.txt pins it; pyproject.toml allows `>=2.60,<3`):
a test fails when the installed Ray is another, so an upgrade reviews each of them first (every
one is also tested for its effect: tests/test_trackers.py, and the job-secrets test in
tests/test_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

WRITTEN_FOR = "2.60"


def keep_from_tune(names: list[str]) -> None:
    """Ray Tune copies AWS_* credentials from the driver's environment into each trial actor's
    runtime_env, which Ray's runtime-env agent logs. A job's workers load its secrets from
    their own file (`lpft.secrets`), so Tune is told to leave those names alone."""
    if names:
        from ray.tune.execution import class_cache

        class_cache.ENV_VARS_TO_PROPAGATE.difference_update(names)


def no_callback_telemetry() -> None:
    """Tune tags the callbacks it is given, for Ray's usage stats, by comparing them with its
    MLflow, W&B, Comet and Aim integrations: that imports mlflow and wandb when installed, 1-2 s
    of every sweep's start-up. With usage stats off the tag goes nowhere, so it is skipped."""
    from ray._common.usage import usage_lib
    from ray.air._internal import usage

    if not usage_lib.usage_stats_enabled():
        usage.tag_callbacks = lambda callbacks: False


def trial_actors_without_runtime_env() -> None:
    """Tune gives every trial actor runtime_env {"env_vars": {"PL_DISABLE_FORK": "1"}} (for
    PyTorch Lightning, which lpft does not use). A runtime env makes Ray start a fresh worker
    for the actor through its runtime-env agent, so each node's first trial waited 0.6 s longer,
    and the workers Ray pre-started (with torch imported: `lpft.trainables.preload`) went unused.
    Variables Tune copies from the driver (AWS_*) still make a runtime env, as before."""
    from ray.tune.execution import class_cache

    class_cache.DEFAULT_ENV_VARS.pop("PL_DISABLE_FORK", None)


@contextmanager
def lean_local_head() -> Iterator[None]:
    """While entered, a local instance `ray.init` starts runs neither the autoscaler's monitor (a
    local instance never scales) nor the log monitor (lpft's driver never streams its workers'
    logs: `log_to_driver=False`): `ray start`'s --no-monitor and --include-log-monitor false,
    which `ray.init` has no parameters for (`lpft.cluster.local`'s lean head passes them). On 2
    cores its shutdown then took 0.4 s where it took 1.1 s, its start ~0.8 CPU s less (tested:
    tests/test_interrupt.py, a local sweep's processes)."""
    from ray._private import parameter

    original = parameter.RayParams.__init__

    def lean(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("no_monitor", True)
        kwargs.setdefault("include_log_monitor", False)
        original(self, *args, **kwargs)

    parameter.RayParams.__init__ = lean  # type: ignore[method-assign]  # restored on leaving
    try:
        yield
    finally:
        parameter.RayParams.__init__ = original  # type: ignore[method-assign]
