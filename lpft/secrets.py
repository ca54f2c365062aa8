"""Secrets for a submitted job, passed so that no log, job listing or argv echoes them.

Ray records a job's entrypoint and runtime_env (its `env_vars` included) in the job's
info and its runtime-env agent's log. So `lpft submit` keeps out of both: `--env` values
whose names look secret (`*KEY*`, `*SECRET*`, `*TOKEN*`, `*PASSWORD*`, `*CREDENTIAL*`) and a
storage URI carrying credentials (as `LPFT_STORAGE`). They travel in a file in the job's
working_dir (mode 0600, which Ray stores as an opaque package), and the job's driver and
every worker it starts load that file into their environment before anything else
(`load`, from the CLI and from lpft's worker setup hook).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

FILE = "lpft-secrets.json"
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
STORAGE_ENV = "LPFT_STORAGE"  # `lpft sweep`'s --storage when none is given


def split_env(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(plain, secret): plain ones may show in Ray's job info; secret ones must not."""
    secret = {k: v for k, v in env.items() if SECRET_NAME.search(k)}
    return {k: v for k, v in env.items() if k not in secret}, secret


def write(folder: Path, secrets: dict[str, str]) -> None:
    path = folder / FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(secrets, f)


def load(folder: Path | None = None) -> list[str]:
    """The job's secrets into this process's environment, if it runs in a job that has some;
    their names (the job's driver keeps Ray Tune from copying them: `sweeps.ray_patches.keep_from_tune`)."""
    path = (folder or Path.cwd()) / FILE
    if not path.is_file():
        return []
    loaded = json.loads(path.read_text())
    os.environ.update(loaded)
    return list(loaded)


def token_auth_mode() -> None:
    """A Ray token given (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) means token
    authentication: Ray's clients send it only with RAY_AUTH_MODE=token, which is easy to miss."""
    given = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") \
        or (Path.home() / ".ray" / "auth_token").is_file()
    if given and not os.environ.get("RAY_AUTH_MODE"):
        os.environ["RAY_AUTH_MODE"] = "token"
