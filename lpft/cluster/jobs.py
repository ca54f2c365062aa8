"""Sweeps as Ray jobs: `lpft submit`, `lpft jobs`, `lpft stop`, through the Ray Jobs SDK.

A job runs `python -m lpft.cli sweep spec.yaml --address auto` on the cluster's head.
Its runtime_env carries this lpft package (`py_modules`) and the spec (`working_dir`),
so the cluster's image needs lpft's dependencies but not this checkout. With token
authentication on, the SDK sends Ray's token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
~/.ray/auth_token) as `ray job` does; a refused or unreachable dashboard is one line.
"""

from __future__ import annotations

import asyncio
import shlex
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from lpft import secrets
from lpft.errors import InputError
from lpft.storage import redact, redact_text

# What the Jobs SDK raises for a wrong address, a refused token, an unreachable or incompatible
# dashboard, or an HTTP error (RuntimeError): each means "fix the address or token", one line.
SDK_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, OSError, RuntimeError, ValueError)

LPFT_DIR = Path(__file__).resolve().parents[1]


def client(address: str) -> Any:
    secrets.token_auth_mode()  # before Ray is imported: it reads RAY_AUTH_MODE then
    from ray.exceptions import RayError  # AuthenticationError's base
    from ray.job_submission import JobSubmissionClient

    errors: tuple[type[BaseException], ...] = (*SDK_ERRORS, RayError)  # mypy cannot read `except (*a, b)`
    try:
        return JobSubmissionClient(address)
    except errors as e:
        raise InputError(redact_text(f"--address {address}: {_first_line(e)}")) from None


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    from ray.exceptions import RayError

    errors: tuple[type[BaseException], ...] = (*SDK_ERRORS, RayError)
    try:
        return fn(*args, **kwargs)
    except errors as e:
        raise InputError(redact_text(f"{what}: {_first_line(e)}")) from None


# What the dashboard answers while a just-started head's job agent has not registered yet.
AGENT_NOT_READY = "No available agent to submit job"


def _submit_when_ready(what: str, fn: Any, within: float = 60.0, **kwargs: Any) -> Any:
    """`_call`, retried while the cluster says its job agent is not up yet (a head started
    seconds ago, or one under load): that is a wait, not the user's mistake."""
    deadline = time.monotonic() + within
    delay = 0.5
    while True:
        try:
            return _call(what, fn, **kwargs)
        except InputError as e:
            if AGENT_NOT_READY not in str(e) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(2 * delay, 5.0)


def submit(spec_ref: str, address: str, storage: str | None = None, resume: bool = False,
           env: dict[str, str] | None = None, imports: list[str] | None = None,
           loggers: list[str] | None = None) -> str:
    """Submits the sweep; returns the job's submission id. The spec is validated here first."""
    from lpft import plugins
    from lpft.sweeps.files import load_spec

    # its plugins imported and its relative paths resolved; --import modules named in it, so the
    # job's driver imports them too (their files travel in py_modules)
    spec = load_spec(spec_ref).with_imports(imports or [], str(Path.cwd()))
    jobs = client(address)
    plain, hidden = secrets.split_env(env or {})
    where = storage or spec.storage
    if redact(where) != where:  # credentials in the URI: never in argv, job info or the shipped spec
        hidden[secrets.STORAGE_ENV] = where
    args = ["python", "-m", "lpft.cli", "sweep", "spec.yaml", "--address", "auto"]
    if storage and secrets.STORAGE_ENV not in hidden:
        args += ["--storage", storage]
    if resume:
        args.append("--resume")
    for name in loggers or []:  # checked by the job's driver, where the tracker must be installed
        args += ["--logger", name]
    with tempfile.TemporaryDirectory() as d:
        # the resolved spec: the job's working directory is not the spec's folder
        (Path(d) / "spec.yaml").write_text(yaml.safe_dump({**spec.stored(), "storage": redact(spec.storage)},
                                                          sort_keys=False))
        if hidden:
            secrets.write(Path(d), hidden)
        loaded = plugins.worker_env()  # the spec's and --import's modules, shipped and loaded in every worker
        runtime_env: dict[str, Any] = {**loaded, "working_dir": d,
                                       "py_modules": [str(LPFT_DIR), *loaded.get("py_modules", [])],
                                       "excludes": ["__pycache__", "*.pyc"]}
        if hidden:  # workers load the secrets file through lpft's setup hook
            runtime_env["worker_process_setup_hook"] = plugins.SETUP_HOOK
        if plain or loaded:
            runtime_env["env_vars"] = {**loaded.get("env_vars", {}), **plain}
        return _submit_when_ready(f"submitting to {address}", jobs.submit_job, entrypoint=shlex.join(args),
                                  runtime_env=runtime_env,
                                  metadata={"lpft_spec": spec.name, "lpft_storage": redact(where)})


def follow(address: str, job_id: str) -> str:
    """Streams the job's logs until it ends; returns its final status."""
    jobs = client(address)

    async def tail() -> None:
        async for lines in jobs.tail_job_logs(job_id):
            print(lines, end="", flush=True)

    asyncio.run(tail())
    status = _call(f"job {job_id}", jobs.get_job_status, job_id)
    return str(getattr(status, "value", status))


def list_jobs(address: str) -> list[dict[str, Any]]:
    """lpft's jobs on the cluster, newest first."""
    rows = []
    for job in _call(f"listing jobs at {address}", client(address).list_jobs):
        meta = job.metadata or {}
        if "lpft_spec" not in meta:
            continue
        rows.append({"job": job.submission_id, "status": str(getattr(job.status, "value", job.status)),
                     "sweep": meta["lpft_spec"], "storage": redact(meta.get("lpft_storage", "")),
                     "start_time": job.start_time or 0})
    return sorted(rows, key=lambda r: -r["start_time"])


def stop(address: str, job_id: str) -> bool:
    return bool(_call(f"job {job_id}", client(address).stop_job, job_id))
