"""One trial without Ray: `--set key=value` settings -> benchmark, backbone, strategy -> RunResult.

Trainables (sweeps) and `lpft run` both come through here, so a key means the same everywhere.
Keys are routed by name: the benchmark's parameters, `backbone`/`weights`, `device`,
then the strategy's hyperparameters; an unknown key is an InputError naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from lpft.data import BENCHMARKS, Benchmark, load_benchmark
from lpft.errors import InputError, quote
from lpft.models.factory import factory_module, is_factory
from lpft.models.names import check_weights
from lpft.plugins import import_modules
from lpft.results import RunResult
from lpft.settings import parse_into
from lpft.strategies import STRATEGIES, EpochCallback
from lpft.strategies.base import SeedContext

RUN_KEYS = ("backbone", "weights", "device", "workers", "resample_split")


def split_settings(benchmark: str, strategy: str, settings: dict[str, Any]) -> tuple[dict, dict, dict]:
    """(benchmark params, run options, strategy hparams) from one flat dict of settings."""
    bench_keys = {f.name for f in fields(BENCHMARKS[benchmark].params)}
    hp_keys = {f.name for f in fields(STRATEGIES[strategy].params)}
    parts: tuple[dict, dict, dict] = ({}, {}, {})
    for key, value in settings.items():
        if key in bench_keys and key not in hp_keys:
            parts[0][key] = value
        elif key in RUN_KEYS:
            parts[1][key] = value
        elif key in hp_keys:
            parts[2][key] = value
        else:
            valid = ", ".join(sorted(bench_keys | hp_keys | set(RUN_KEYS)))
            raise InputError(f"unknown key {quote(key)} for benchmark {benchmark!r} and strategy {strategy!r} "
                             f"(valid: {valid})")
    return parts


def resolve_workers(workers: Any, benchmark: Benchmark) -> int:
    """Data-loading processes: `auto` is 0 for in-memory benchmarks, else the CPU share minus one.

    The CPU share is torch's thread count, which a Ray trial sets to its `resources.cpu`.
    """
    import torch

    if str(workers) == "auto":
        if all(s.is_array for s in benchmark.splits.values()):
            return 0
        return min(8, max(0, torch.get_num_threads() - 1))
    try:
        n = int(workers)
    except ValueError:
        raise InputError(f"workers must be auto or an integer >= 0, got {quote(workers)}") from None
    if n < 0:
        raise InputError(f"workers must be auto or an integer >= 0, got {quote(workers)}")
    return n


def check_device(device: str) -> str:
    """A device setting's spelling, checked without torch (a typo is answered at once)."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"device must be auto, cpu or cuda[:N], got {quote(device)}")
    return device


def resolve_device(device: str) -> str:
    import torch

    if check_device(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not torch.cuda.is_available():
        raise InputError(f"device {quote(device)}: no CUDA device is available here")
    return device


def strategy_defaults(bench: Benchmark, strategy: str) -> dict[str, Any]:
    """The benchmark's defaults for `strategy`; a fine-tuning variant without its own takes FT's."""
    if strategy in bench.strategy_defaults:
        return bench.strategy_defaults[strategy]
    if STRATEGIES[strategy].fine_tunes:
        return bench.strategy_defaults.get("ft", {})
    return {}


@dataclass
class Trial:
    benchmark: str
    strategy: str
    result: RunResult
    backbone: str
    weights: str
    device: str
    wall_time_s: float
    notes: tuple[str, ...] = ()  # the benchmark's
    # What this trial's seed changed (the strategy's declaration, `lpft.strategies.base.SeedControls`):
    # () means another seed would give the same numbers.
    seed_controls: tuple[str, ...] = ("whatever it draws at random",)


def run_trial(benchmark: str, strategy: str, settings: dict[str, Any] | None = None,
              on_epoch: EpochCallback | None = None, resume: dict | None = None,
              on_hparams: Callable[[dict[str, Any]], None] | None = None) -> Trial:
    """One trial. `on_hparams` gets the strategy's full hyperparameters (defaults included)
    before training, so what a trial writes while it runs (and keeps if it is stopped) has them."""
    start = time.perf_counter()
    strat = STRATEGIES[strategy]
    bench_params, options, hp_values = split_settings(benchmark, strategy, settings or {})
    check_device(str(options.get("device", "auto")))
    if "weights" in options:
        check_weights(str(options["weights"]), str(options.get("backbone", "")))
    if is_factory(str(options.get("backbone", ""))):  # its module, as a spec's imports: (workers too)
        import_modules([factory_module(str(options["backbone"]))], [Path.cwd()])
    resample = _flag(options.get("resample_split", False), "resample_split")
    if resample:  # the seed also draws the split: replicates measure the split's variance too
        if "split_seed" not in {f.name for f in fields(BENCHMARKS[benchmark].params)}:
            raise InputError(f"resample_split: benchmark {benchmark!r} has no split_seed to draw")
        bench_params["split_seed"] = int(hp_values.get("seed", 0))
    bench = load_benchmark(benchmark, **bench_params)
    hp = parse_into(strat.params, {**strategy_defaults(bench, strategy), **hp_values}, strategy)
    if on_hparams is not None:
        on_hparams(asdict(hp))
    name = str(options.get("backbone", bench.default_backbone[0]))
    # a factory gets "none" unless weights are set: the benchmark's default is for its own backbone
    weights = str(options.get("weights", "none" if is_factory(name) else bench.default_backbone[1]))
    device = resolve_device(str(options.get("device", "auto")))
    workers = resolve_workers(options.get("workers", "auto"), bench)
    from lpft.models.backbone import build_backbone  # torch: imported once the settings are known good

    backbone = build_backbone(name, weights, bench, seed=hp.seed)
    result = strat.run(bench, backbone, hp, device=device, on_epoch=on_epoch, resume=resume, workers=workers)
    controls = tuple(strat.seed_controls(hp, SeedContext(weights, resample)))
    return Trial(benchmark, strategy, result, name, weights, device, time.perf_counter() - start, bench.notes,
                 controls)


def _flag(value: Any, key: str) -> bool:
    """A true/false setting given as a bool or as `--set` text."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InputError(f"{key} must be true or false, got {quote(value)}")
