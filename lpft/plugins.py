"""User code that registers benchmarks, strategies and backbones, without editing lpft.

Two ways in: installed packages declare entry points in the groups below (their modules
register when loaded), and a spec's `imports: [module, ...]` (or `--import`) names modules on
the Python path or in the spec's folder. Whatever the driver loads, every Ray worker loads too:
`runtime_env` ships the named modules' files (`py_modules`) and names them in an environment
variable that Ray's `worker_process_setup_hook` (`setup_worker`) reads in each worker process.
"""

from __future__ import annotations

import importlib
import os
import site
import sys
import sysconfig
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from lpft.errors import InputError

GROUPS = ("lpft.benchmarks", "lpft.strategies", "lpft.backbones")
IMPORTS_ENV = "LPFT_IMPORTS"  # comma-separated module names, for the workers' setup hook
SETUP_HOOK = "lpft.plugins.setup_worker"

# What this process loaded: workers are given the same (see `worker_env`).
_entry_points: list[str] = []
_modules: dict[str, ModuleType] = {}


def load_entry_points() -> list[str]:
    """Loads every installed plugin (importing a module registers what it defines); their names."""
    loaded = []
    for group in GROUPS:
        for ep in metadata.entry_points(group=group):
            try:
                ep.load()
            except Exception as e:  # noqa: BLE001 - a broken plugin is named in one line, whatever it raised
                raise InputError(f"plugin {ep.name!r} ({group} = {ep.value}) failed to load: "
                                 f"{type(e).__name__}: {_first_line(e)}") from None
            loaded.append(f"{group}:{ep.name}")
    _entry_points[:] = loaded
    return loaded


def import_modules(names: Iterable[str], search_path: Iterable[str | Path] = ()) -> list[ModuleType]:
    """Imports each named module, looking first in `search_path` (e.g. the spec's folder)."""
    names, folders = list(names), [str(Path(p)) for p in search_path]
    if not names:  # nothing to import: leave sys.path alone (a folder's yaml.py must not shadow PyYAML)
        return []
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    modules = []
    for name in names:
        if not isinstance(name, str) or not name.replace(".", "").replace("_", "").isalnum():
            raise InputError(f"imports: {name!r} is not a module name (like mymodule or mypkg.benchmarks)")
        try:
            modules.append(importlib.import_module(name))
            _modules[name] = modules[-1]
        except ModuleNotFoundError as e:
            if e.name == name or name.startswith(f"{e.name}."):  # the module itself, not one it imports
                where = ", ".join(folders) or "the Python path"
                raise InputError(f"imports: no module named {name!r} (looked in {where} and on the Python path)") \
                    from None
            raise InputError(f"imports: {name} failed: {type(e).__name__}: {_first_line(e)}") from None
        except Exception as e:  # noqa: BLE001 - the user's module raised while registering: one line
            raise InputError(f"imports: {name} failed: {type(e).__name__}: {_first_line(e)}") from None
    return modules


def _first_line(e: BaseException) -> str:
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def module_files(modules: Iterable[ModuleType]) -> list[str]:
    """What Ray's `py_modules` ships for each module: its .py file or its package folder; installed
    modules (under site-packages) are left to the cluster's environment."""
    installed = {Path(p).resolve() for p in (*site.getsitepackages(), site.getusersitepackages(),
                                              sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
    out = []
    for m in modules:
        top = sys.modules[m.__name__.split(".")[0]]
        if top.__file__ is None:  # a namespace package: its folder(s)
            shipped = [Path(p) for p in getattr(top, "__path__", [])]
        else:
            path = Path(top.__file__)
            shipped = [path.parent if path.name == "__init__.py" else path]
        for s in shipped:
            if not any(s.resolve().is_relative_to(i) for i in installed) and str(s) not in out:
                out.append(str(s))
    return out


def worker_env() -> dict[str, Any]:
    """The part of a Ray runtime_env that makes every worker load the plugins this driver loaded
    (empty when there are none, so plain sweeps start workers as before)."""
    if not _entry_points and not _modules:
        return {}
    return runtime_env(list(_modules.values()))


def runtime_env(modules: list[ModuleType]) -> dict[str, Any]:
    """Ships `modules` to every worker and loads them (and installed plugins) there first."""
    names = [m.__name__ for m in modules]
    env: dict[str, Any] = {"worker_process_setup_hook": SETUP_HOOK, "env_vars": {IMPORTS_ENV: ",".join(names)}}
    files = module_files(modules)
    if files:
        env["py_modules"] = files
    return env


def setup_worker() -> None:
    """Ray's worker_process_setup_hook: a submitted job's secrets and the driver's plugins, loaded
    in this worker before any trial."""
    from lpft import secrets

    secrets.load()
    load_entry_points()
    import_modules([n for n in os.environ.get(IMPORTS_ENV, "").split(",") if n])
