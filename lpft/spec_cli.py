"""`lpft schema` and `lpft init`: the spec file's JSON Schema, and a first spec that names it.

An editor with the YAML language server (VS Code's YAML extension, neovim, JetBrains) reads the
`# yaml-language-server: $schema=...` first line and then completes every field, shows its
description and marks a wrong key or type before the spec is run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from importlib import resources
from pathlib import Path

from lpft.errors import InputError
from lpft.sweeps.spec_schema import MODELINE, SCHEMA_FILE

INIT = """{modeline}
# A sweep of {benchmark}: linear probing (LP), fine-tuning (FT) and LP-then-FT (LP-FT).
# Run it with `lpft sweep {path}`; `lpft schema` prints every field this file may set.
name: {name}
{benchmark_entry}
strategies:
  lp: {{}}                 # C chosen on ID validation accuracy within each trial
  ft:
    num_samples: 4       # trials Optuna searches; lr over FT's default range, or set one:
    # lr: {{low: 1.0e-3, high: 0.1, log: true}}
  lpft:
    num_samples: 4
seeds: [0, 1, 2]         # the search runs on seed 0
replicate: 2             # each best configuration again on seeds 1 and 2: its interval
metric: id_val           # configurations ranked on ID validation accuracy
max_concurrent: 2
storage: results         # the sweep's folder: results/{name}/
"""


def benchmark_entry(name: str, folder: str, root: str = "") -> str:
    """The spec's benchmark: a benchmark that reads files gets a `root:` to edit (or the folder
    given), so the sweep's first refusal is not a missing key the file never showed."""
    if root:
        return (f"benchmark:\n  name: {name}\n  root: {json.dumps(root)}   # relative to this file's folder\n"
                "  image_size: 224          # the crop the backbone sees; smaller runs faster on a CPU")
    if not folder:  # its data ships with a package, or is generated
        return f"benchmark: {{name: {name}}}"
    return (f"benchmark:\n  name: {name}\n"
            f"  root: path/to/data       # the folder holding {folder}'s files (or drop this line and set LPFT_DATA)")


def schema_path() -> Path:
    """The installed copy of the built-in registries' schema (what `lpft init` points an editor at)."""
    return Path(str(resources.files("lpft.sweeps") / SCHEMA_FILE))


def modeline() -> str:
    """A spec's first line naming the installed schema, for an editor's YAML checks (`lpft init`
    writes it; `lpft show SPEC` puts it on a built-in spec's copy)."""
    return MODELINE + schema_path().as_uri()


def cmd_schema(args: argparse.Namespace) -> int:
    from lpft.sweeps.spec_schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from lpft.data import BENCHMARKS
    from lpft.sweeps.files import load_spec

    path = Path(args.path)
    if path.exists() and not args.force:
        raise InputError(f"{path}: already exists (pass --force to replace it)")
    benchmark = args.benchmark or ("imagefolder" if args.root else "synthetic")
    if benchmark not in BENCHMARKS:
        raise InputError(f"--benchmark: unknown benchmark {benchmark!r} (known: {', '.join(BENCHMARKS.names())})")
    root = ""
    if args.root:
        if not Path(args.root).is_dir():
            raise InputError(f"--root {args.root}: no such folder")
        if not BENCHMARKS[benchmark].folder and benchmark != "imagefolder":
            raise InputError(f"--root: benchmark {benchmark!r} reads no files of yours")
        root = os.path.relpath(Path(args.root).resolve(), path.resolve().parent)
    name = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip(".-_")[:100] or "sweep"
    text = INIT.format(modeline=modeline(), benchmark=benchmark, name=name, path=path,
                       benchmark_entry=benchmark_entry(benchmark, BENCHMARKS[benchmark].folder, root))
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        load_spec(str(tmp))  # what it writes is a spec lpft runs
        tmp.replace(path)
    except OSError as e:
        raise InputError(f"{path}: cannot write it ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {path}: edit it, then `lpft sweep {path}`")
    return 0


def add_spec_parsers(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    schema = sub.add_parser("schema", help="print the spec file's JSON Schema (with --import plugins' entries)",
                            parents=parents)
    schema.set_defaults(fn=cmd_schema)
    init = sub.add_parser("init", help="write a first spec file that names its schema, for an editor to check",
                          description="Writes a commented starter spec (LP, FT and LP-FT) for a benchmark or your "
                                      "image folder (--root), which lpft sweep runs as it is.")
    init.add_argument("path", nargs="?", default="sweep.yaml", help="the file to write (default: sweep.yaml)")
    init.add_argument("--benchmark", help="its benchmark (default: synthetic; imagefolder with --root); see lpft list")
    init.add_argument("--root", metavar="FOLDER",
                      help="your image folder (train/<class>/..., ood/<set>/<class>/...): an imagefolder spec for it")
    init.add_argument("--force", action="store_true", help="replace the file if it exists")
    init.set_defaults(fn=cmd_init)
