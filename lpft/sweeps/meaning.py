"""What a sweep spec means, as plain nested values, and what differs between two of them.

`--resume` compares these, not the YAML text: a spec that only spells out a default
(`metric: [id_val]`, `seeds: 0`, a benchmark parameter or a hyperparameter at its default)
or orders its keys otherwise is the same sweep, and the difference it reports is one a
trial would see, named by the field a spec writes (`benchmark.eps`, `strategies.ft.lr`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lpft.search_spaces import Kind, Param
from lpft.sweeps.spec import StrategySpec, SweepSpec

# Not the sweep's meaning: where it is stored is where it was found, trackers only receive
# what trials report (and --logger adds them on any run), the spec file is what this is parsed from.
IGNORED = ("storage", "loggers", "file")
ABSENT = "(none)"


def meaning(spec: SweepSpec) -> dict[str, Any]:
    """The parsed spec with every default filled in, keyed as a spec writes it. Every field of
    `SweepSpec` counts unless `IGNORED`, so a new field is compared without a change here."""
    from lpft.data import BENCHMARKS
    from lpft.settings import parse_into

    bench = parse_into(BENCHMARKS[spec.benchmark].params, spec.benchmark_params, "benchmark")
    out: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        if f.name in IGNORED:
            continue
        value = getattr(spec, f.name)
        if f.name == "benchmark":
            out["benchmark"] = {"name": value, **plain(dataclasses.asdict(bench))}
        elif f.name == "backbone":
            out["backbone"] = {"name": value, "weights": spec.weights}
        elif f.name == "strategies":
            out["strategies"] = {name: _strategy(s, spec) for name, s in value.items()}
        elif f.name in ("cpu", "gpu"):
            out.setdefault("resources", {})[f.name] = value
        elif f.name not in ("benchmark_params", "weights"):
            out[f.name] = plain(value)
    return out


def _strategy(s: StrategySpec, spec: SweepSpec) -> dict[str, Any]:
    """A strategy's trials: its budget, its own resources if they differ from the spec's, and every
    hyperparameter (searched, a grid's choices, fixed, or its default)."""
    from lpft.strategies import STRATEGIES

    out: dict[str, Any] = {}
    if s.sources:
        out["of"] = list(s.sources)
    elif not s.grid:  # a grid's budget is its size: num_samples means nothing there
        out["num_samples"] = s.num_samples
    if s.resources is not None and s.resources != (spec.cpu, spec.gpu):
        out["resources"] = {"cpu": s.resources[0], "gpu": s.resources[1]}
    for f in dataclasses.fields(STRATEGIES[s.name].params):
        if f.default is not dataclasses.MISSING:
            out[f.name] = plain(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = plain(f.default_factory())
    out.update({k: _param(p) for k, p in s.space.items()})
    out.update({k: {"choices": plain(v)} for k, v in s.grid.items()})
    return out


def _param(p: Param) -> Any:
    if p.kind == Kind.CONSTANT:
        return plain(p.value)
    if p.kind == Kind.CATEGORICAL:
        return {"choices": plain(p.choices)}
    # a range as one short value, so a message shows both ends (quote bounds each value)
    assert p.low is not None and p.high is not None  # a range has both bounds
    kind = int if p.kind == Kind.INT else float
    return f"{kind(p.low)!r}..{kind(p.high)!r}" + (" log" if p.log else "") + (" int" if p.kind == Kind.INT else "")


def plain(value: Any) -> Any:
    """Tuples as lists and dataclasses as mappings, so equal meanings compare equal."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def changes(before: Any, now: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field path, before, now) for each leaf that differs; a mapping on one side only (a
    strategy added or removed) is one change at its own path. In the spec's field order."""
    if isinstance(before, dict) and isinstance(now, dict):
        out = []
        for key in [*before, *(k for k in now if k not in before)]:
            out += changes(before.get(key, ABSENT), now.get(key, ABSENT), f"{path}.{key}" if path else str(key))
        return out
    return [] if before == now else [(path, before, now)]
