"""Before a spec is parsed: its plugins imported, and every relative path made absolute.

Trials run in another working directory (and on other nodes), so a relative path in a spec is
resolved against the spec file's folder (a built-in spec's against the current directory)
before Ray starts; the resolved paths are what the trials and the sweep's spec.yaml carry.
Paths are: benchmark and strategy parameters declared with `lpft.settings.PATH`, backbone
weights files, `storage` and `feature_cache` (local ones), and `import_path`. `~` and `$VAR`
paths are left for the machine that reads them to expand.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from lpft.errors import require
from lpft.models.factory import factory_module, is_factory
from lpft.plugins import import_modules
from lpft.settings import path_fields


def _resolve(value: Any, base: Path, only_existing: bool = False) -> Any:
    if not isinstance(value, str) or not value or "://" in value or value.startswith(("~", "$")):
        return value
    path = Path(value)
    if path.is_absolute() or (only_existing and not (base / path).exists()):
        return value
    return str((base / path).resolve())


def import_plugins(raw: dict[str, Any], base: Path) -> None:
    """The spec's `imports`, looked up in `import_path` (default: the spec's folder) first."""
    imports = raw.get("imports", [])
    require(isinstance(imports, list) and all(isinstance(m, str) for m in imports), "imports",
            "must be a list of module names")
    backbone = raw.get("backbone")
    if isinstance(backbone, dict) and is_factory(str(backbone.get("name", ""))):  # module:factory
        imports = [*imports, factory_module(str(backbone["name"]))]
    folders = raw.get("import_path", [str(base)])
    require(isinstance(folders, list) and all(isinstance(f, str) for f in folders), "import_path",
            "must be a list of folders")
    import_modules(imports, [_resolve(f, base) for f in folders])


def resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of the spec with its relative paths made absolute against `base`."""
    from lpft.data import BENCHMARKS
    from lpft.models.names import NAMED_WEIGHTS
    from lpft.strategies import STRATEGIES

    out = copy.deepcopy(raw)
    bench = out.get("benchmark")
    if isinstance(bench, dict) and bench.get("name") in BENCHMARKS:
        for key in path_fields(BENCHMARKS[bench["name"]].params) & set(bench):
            bench[key] = _resolve(bench[key], base)
    backbone = out.get("backbone")
    if isinstance(backbone, dict) and backbone.get("weights") not in (None, *NAMED_WEIGHTS):
        # a factory's weights may be a tag of its own: a path only if that file is there
        backbone["weights"] = _resolve(backbone["weights"], base, is_factory(str(backbone.get("name", ""))))
    strategies = out.get("strategies")
    if isinstance(strategies, dict):
        for name, settings in strategies.items():
            if name in STRATEGIES and isinstance(settings, dict):
                for key in path_fields(STRATEGIES[name].params) & set(settings):
                    settings[key] = _resolve(settings[key], base)
    out["storage"] = _resolve(out.get("storage", "results"), base)
    if out.get("feature_cache", "node") != "node":
        out["feature_cache"] = _resolve(out["feature_cache"], base)
    if "imports" in out:
        out["import_path"] = [_resolve(f, base) for f in out.get("import_path", [str(base)])]
    return out


def prepare(raw: Any, base: Path) -> Any:
    """Imports the spec's plugins (so its benchmark and strategies are known), then resolves paths."""
    if not isinstance(raw, dict):
        return raw  # parse_spec says what is wrong
    import_plugins(raw, base)
    return resolve_paths(raw, base)
