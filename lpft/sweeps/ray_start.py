"""Ray for a sweep: a local instance sized to this machine, or a connection to a cluster, with
Ray's and Tune's output and start-up trimmed to what lpft uses (its own line per trial, no
telemetry, trial actors without a runtime env: `lpft.sweeps.ray_patches`)."""

from __future__ import annotations

import logging
import os
from typing import Any

from lpft.errors import InputError
from lpft.sweeps import ray_patches


def init_ray(address: str | None, dashboard: bool = False) -> None:
    """Connects to the cluster at `address`, or starts a local instance (with Ray's dashboard
    when `dashboard`, its address printed)."""
    # Readable output: our one line per trial, not Ray's boxes and tables.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no TensorBoard/CSV/JSON per trial
    # Nothing leaves the machine at run time: Ray's usage stats only if the user turns them on.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address:
        from lpft.secrets import token_auth_mode

        token_auth_mode()  # before Ray is imported: it reads RAY_AUTH_MODE then
    import ray

    # A failed trial's traceback goes to its error.txt; the summary names each failed trial once
    # with its first line and that file, instead of Tune logging every traceback here (only
    # these two loggers: Tune's other messages stay as they were).
    for name in ("ray.tune.execution.tune_controller", "ray.tune.tune"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    ray_patches.no_callback_telemetry()
    ray_patches.trial_actors_without_runtime_env()
    if ray.is_initialized():
        return
    from lpft import plugins

    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": True}
    # Every worker loads the plugins this driver loaded; inside `lpft submit`'s job the job's
    # runtime_env already does (a second one for the same fields is a conflict for Ray).
    loaded = plugins.worker_env()
    if loaded and "RAY_JOB_CONFIG_JSON_ENV_VAR" not in os.environ:
        kwargs["runtime_env"] = loaded
    if address:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ray.exceptions.AuthenticationError) as e:  # a wrong address or token
            raise InputError(f"--address {address}: {str(e).strip().splitlines()[0]}") from None
    else:  # a new local instance sized to this machine, even if a `ray start` cluster runs here
        host: dict[str, Any] = {"dashboard_host": "127.0.0.1"} if dashboard else {}
        with ray_patches.lean_local_head():
            context = ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=dashboard, **host,
                               **kwargs)
        if dashboard:
            # Ray turns token authentication on for a local instance when ~/.ray/auth_token exists.
            token = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
            login = " (token authentication: the page asks for the token `ray get-auth-token` prints)" if token else ""
            print(f"  Ray dashboard: http://{context.dashboard_url}{login}", flush=True)
