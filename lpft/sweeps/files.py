"""Spec files: the built-in ones packaged with lpft, and loading any one from disk.

Loading imports the spec's plugins and resolves its relative paths (`lpft.sweeps.paths`)
before parsing it (`lpft.sweeps.spec.parse_spec`).
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from lpft.errors import InputError
from lpft.safe_yaml import load_yaml
from lpft.sweeps.paths import prepare
from lpft.sweeps.spec import SweepSpec, parse_spec


def builtin_specs() -> dict[str, Traversable]:
    """Name -> the packaged YAML, read through importlib.resources (works from any install)."""
    folder = resources.files("lpft.sweeps") / "specs"
    return {p.name.removesuffix(".yaml"): p for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".yaml")}


def spec_summary(text: str) -> str:
    """A spec file's description: its first comment lines after the schema line, up to the end of
    the first sentence or title (a line ending in a comma goes on; one ending a title stops)."""
    from lpft.sweeps.spec_schema import MODELINE

    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(MODELINE):
            continue
        if not line.startswith("#"):
            break
        out.append(line.lstrip("# ").strip())
        if not out[-1].endswith((",", ";", ":")) and not out[-1].endswith(" and"):
            break
    text = " ".join(out)
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def spec_source(name_or_path: str) -> Path | Traversable:
    """A YAML path, or the packaged file of a built-in spec (`lpft sweep --list`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    builtin = builtin_specs()
    if name_or_path not in builtin:
        raise InputError(f"spec {name_or_path!r}: no such file, nor a built-in spec "
                         f"(built-in: {', '.join(builtin)})")
    return builtin[name_or_path]


def load_spec(name_or_path: str) -> SweepSpec:
    """A YAML path, or the name of a built-in spec (`lpft sweep --list`)."""
    path = spec_source(name_or_path)
    # bytes: the YAML reader decodes (UTF-8, or UTF-16 with its byte-order mark), and names the
    # file if it cannot, rather than a UnicodeDecodeError
    raw = load_yaml(path.read_bytes(), str(path))  # bounded: no alias bomb, no recursive value
    # a spec file's relative paths are its folder's; a built-in's, the current directory's
    base = Path(name_or_path).resolve().parent if isinstance(path, Path) else Path.cwd()
    return parse_spec(prepare(raw, base), str(path))
