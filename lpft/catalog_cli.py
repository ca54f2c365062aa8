"""`lpft list` and `lpft show`: what lpft can run, from its registries (plugins included), so a
new user finds the benchmarks, strategies, backbones and built-in specs, and a strategy's
`--set` keys, without reading the source.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
from typing import Any

from lpft.errors import InputError, quote
from lpft.text import format_table

KINDS = ("benchmarks", "strategies", "backbones", "specs")
# The paper's backbones, which timm names and lpft reads from the papers' checkpoint files.
PAPER_BACKBONES = {
    "resnet50": "ResNet-50; MoCo-v2 checkpoints (moco_v2_800ep_pretrain.pth.tar) or timm's",
    "resnet50_clip": "CLIP ResNet-50 (OpenAI's RN50.pt), its image embedding",
    "vit_base_patch16_clip_quickgelu_224": "CLIP ViT-B/16 (OpenAI's ViT-B-16.pt), its image embedding",
    "tf_efficientnet_lite0": "EfficientNet-Lite0; weights=imagenet is the packaged ImageNet checkpoint",
}


def first_sentence(text: str | None) -> str:
    """A docstring's first sentence, on one line, without a leading "`name`: "."""
    if not text:
        return ""
    para = " ".join(line.strip() for line in text.strip().split("\n\n")[0].splitlines())
    if para.startswith("`") and "`: " in para[:60]:
        para = para.split("`: ", 1)[1]
    end = para.find(". ")
    para = para if end < 0 else para[:end + 1]
    return para[:1].upper() + para[1:]


def benchmark_rows() -> list[list[str]]:
    from lpft.data import BENCHMARKS

    rows = []
    for name in BENCHMARKS:
        build = BENCHMARKS[name].build
        about = first_sentence(inspect.getdoc(build)) or first_sentence(inspect.getdoc(inspect.getmodule(build)))
        rows.append([name, about or "(no description)"])
    return rows


def strategy_rows() -> list[list[str]]:
    from lpft.strategies import STRATEGIES

    return [[name, STRATEGIES[name].description] for name in STRATEGIES]


def backbone_rows() -> list[list[str]]:
    import lpft.models.backbone  # noqa: F401 (its registry: built-in and plugins' architectures)
    from lpft.models.names import NAMED_WEIGHTS, architectures

    rows = [[name, "the synthetic benchmark's linear feature map (weights=benchmark)" if name == "linear"
             else "registered by a plugin"] for name in architectures()]
    rows += [[name, about] for name, about in PAPER_BACKBONES.items()]
    rows.append(["<any timm name>", "e.g. vit_small_patch16_224, convnext_tiny; `module:function` for your own"])
    rows.append(["weights", f"{', '.join(NAMED_WEIGHTS)}, or a checkpoint file (MoCo, CLIP, timm layouts)"])
    return rows


def spec_rows() -> list[list[str]]:
    from lpft.sweeps.files import builtin_specs, spec_summary

    return [[name, spec_summary(path.read_text())] for name, path in builtin_specs().items()]


ROWS = {"benchmarks": benchmark_rows, "strategies": strategy_rows, "backbones": backbone_rows, "specs": spec_rows}


def cmd_list(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    for i, kind in enumerate(kinds):
        if len(kinds) > 1:
            print(("\n" if i else "") + f"{kind}:")
        print(format_table([kind[:-1] if kind != "strategies" else "strategy", "what it is"], ROWS[kind](), left=2))
    return 0


def _range(param: Any) -> str:
    if param.kind == "float" or param.kind == "int":
        return f"{param.low:g} .. {param.high:g}{' (log)' if param.log else ''}"
    if param.kind == "categorical":
        return " | ".join(str(c) for c in param.choices)
    return str(param.value)


def show_strategy(name: str) -> None:
    from lpft.search_spaces import GRID, SEARCH
    from lpft.strategies import STRATEGIES

    s = STRATEGIES[name]
    print(f"{name}: {s.description}")
    print(f"hyperparameters (`lpft run ... --strategy {name} --set KEY=VALUE`, or a spec's strategies.{name}):")
    rows = []
    for f in dataclasses.fields(s.params):
        default = f.default if f.default is not dataclasses.MISSING else "(required)"
        search = _range(f.metadata[SEARCH]) if SEARCH in f.metadata else ""
        grid = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in f.metadata.get(GRID, ()))
        rows.append([f.name, str(default), search, grid])
    print(format_table(["key", "default", "searched over (Optuna)", "the paper's grid (search: grid)"], rows, left=4))
    if s.step_hparams:
        print(f"chosen along each trial: {', '.join(s.step_hparams)}")


def show_spec(name: str) -> None:
    """The packaged file, its schema line pointing at the installed schema (as `lpft init`
    writes it), so a copy made with `lpft show NAME > mine.yaml` keeps its editor checks."""
    from lpft.spec_cli import modeline
    from lpft.sweeps.files import builtin_specs
    from lpft.sweeps.spec_schema import MODELINE

    lines = builtin_specs()[name].read_text().splitlines(keepends=True)
    if lines and lines[0].startswith(MODELINE):
        lines[0] = modeline() + "\n"
    sys.stdout.write("".join(lines))


def show_benchmark(name: str) -> None:
    from lpft.data import BENCHMARKS

    entry = BENCHMARKS[name]
    print(f"{name}: {first_sentence(inspect.getdoc(inspect.getmodule(entry.build)))}")
    print(f"parameters (`lpft run {name} --set KEY=VALUE`, or a spec's benchmark):")
    rows = [[f.name, str(f.default if f.default is not dataclasses.MISSING else "(required)")]
            for f in dataclasses.fields(entry.params)]
    print(format_table(["key", "default"], rows, left=2))
    if entry.folder:
        print(f"its files: under root, or $LPFT_DATA/{entry.folder}")


def cmd_show(args: argparse.Namespace) -> int:
    from lpft.data import BENCHMARKS
    from lpft.strategies import STRATEGIES
    from lpft.sweeps.files import builtin_specs

    found = {"strategy": args.name in STRATEGIES, "spec": args.name in builtin_specs(),
             "benchmark": args.name in BENCHMARKS}
    kind = args.kind or next((k for k, hit in found.items() if hit), None)
    if kind is None or not found[kind]:
        what = f"no {kind}" if kind else "neither a strategy, a built-in spec nor a benchmark"
        raise InputError(f"lpft show: {quote(args.name)} is {what} (see `lpft list`)")
    {"strategy": show_strategy, "spec": show_spec, "benchmark": show_benchmark}[kind](args.name)
    others = [k for k, hit in found.items() if hit and k != kind]
    if others:
        print(f"# {args.name} is also a {' and a '.join(others)}: `lpft show --kind {others[0]} {args.name}`",
              file=sys.stderr)
    return 0


def add_catalog_parsers(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    listing = sub.add_parser("list", help="the benchmarks, strategies, backbones and built-in specs lpft has",
                             description="What lpft can run (plugins named by --import or installed included).",
                             parents=parents)
    listing.add_argument("kind", nargs="?", choices=KINDS, help="one of them (default: all four)")
    listing.set_defaults(fn=cmd_list)
    show = sub.add_parser("show", help="a strategy's keys, defaults and search ranges, or a built-in spec's text",
                          description="A strategy's --set keys with defaults, search ranges and the paper's grid; "
                                      "a built-in spec's YAML, to copy and edit; a benchmark's parameters.",
                          parents=parents)
    show.add_argument("name", help="a strategy (ft), a built-in spec (living17) or a benchmark")
    show.add_argument("--kind", choices=("strategy", "spec", "benchmark"),
                      help="which, where a name is several (digits is a spec and a benchmark)")
    show.set_defaults(fn=cmd_show)
