"""Sweep specs: a spec file (`lpft.sweeps.spec_file.SpecFile`, its declared shape) -> the typed,
checked `SweepSpec` a sweep runs from. Every bad field is one InputError naming it.

What the file's shape cannot say is checked here, against the registries: a benchmark's
parameters and a strategy's hyperparameters against their registered dataclasses (a fixed
value, each bound of a range and each choice), search: grid against ranges, wise's `of`,
asha with several metrics, resample_split with a benchmark that has no split, trackers and
their options. Relative paths are the spec file's folder's (`lpft.sweeps.paths`).

`wise: {of: [ft, lpft]}` interpolates each listed strategy's best search trial with the LP
model once that strategy's search is done (its models are kept automatically).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Union

from pydantic import Field, PlainValidator, create_model

from lpft.data import BENCHMARKS
from lpft.errors import InputError, clip, quote, require
from lpft.names import NAME  # noqa: F401 (the ledger's and wise's too)
from lpft.search_spaces import Kind, Param, grid_size
from lpft.strategies import STRATEGIES
from lpft.sweeps.fields import param
from lpft.sweeps.spec_errors import unknown_key, validate
from lpft.sweeps.spec_file import Choices, Range, Shape, SpecFile, StrategySettings, TrackerOption

RESERVED = tuple(StrategySettings.model_fields)  # a strategy's entry's own keys, not hyperparameters


@dataclass(frozen=True)
class StrategySpec:
    name: str
    num_samples: int
    space: dict[str, Param]  # searched (and constant) hyperparameters
    grid: dict[str, list[Any]] = field(default_factory=dict)  # search: grid
    resources: tuple[float, float] | None = None  # (cpu, gpu) per trial; None: the spec's
    sources: tuple[str, ...] = ()  # wise: the strategies whose best fine-tuned model it interpolates

    @property
    def search_trials(self) -> int:
        """The search stage's trial budget: every grid point, or `num_samples`."""
        return grid_size(self.grid) if self.grid else self.num_samples

    def full_space(self) -> dict[str, Param]:
        """The space with grid values as categorical choices: what Optuna samples from."""
        return {**self.space, **{k: Param(Kind.CATEGORICAL, choices=tuple(v)) for k, v in self.grid.items()}}


@dataclass(frozen=True)
class SweepSpec:
    name: str
    benchmark: str
    benchmark_params: dict[str, Any]
    backbone: str | None
    weights: str | None
    strategies: dict[str, StrategySpec]
    seeds: tuple[int, ...] = (0,)
    replicate: int = 0
    metric: tuple[str, ...] = ("id_val",)
    search: str = "optuna"
    scheduler: str = "fifo"
    cpu: float = 1.0
    gpu: float = 0.0
    max_concurrent: int = 2
    max_failures: int = 1
    storage: str = "results"
    feature_cache: str = "node"  # "node": each node's own cache; else a shared path all trials use
    save_models: bool = False  # keep every fine-tuned model in <storage>/<name>/models/ (wise needs them)
    imports: tuple[str, ...] = ()  # plugin modules (lpft.plugins), loaded in the driver and every worker
    keep_checkpoints: int = 2  # per trial, the latest ones (a resume needs only the last)
    loggers: dict[str, dict[str, str]] = field(default_factory=dict)  # tracker -> its options (lpft.sweeps.trackers)
    resample_split: bool = False  # each seed also draws the benchmark's split (its split_seed)
    deterministic_search: bool = True  # Optuna asked and told in trial order (`lpft.sweeps.searcher`)
    analyze: bool = False  # write the report when the sweep ends (`lpft sweep --analyze`)
    cache_max_size: int | None = None  # bytes; the cache's least recently used entries evicted beyond it
    prepared_images: str = "auto"  # lpft.data.prepared: auto, off or a budget (a size)
    # The spec file this was parsed from (paths resolved): what the sweep's spec.yaml is dumped from.
    file: SpecFile | None = field(default=None, compare=False, repr=False)

    def replicate_seeds(self) -> list[int]:
        """The seeds after the first, then new ones counting up from the largest (linear time)."""
        extra = list(self.seeds[1:self.replicate + 1])
        top = max(self.seeds)
        extra += list(range(top + 1, top + 1 + self.replicate - len(extra)))
        return extra

    def stored(self) -> dict[str, Any]:
        """The spec file as a sweep's spec.yaml keeps it: the fields it gave, paths resolved."""
        assert self.file is not None, "a SweepSpec made by parse_spec"
        return self.file.model_dump(mode="json", exclude_unset=True)

    def with_file(self, **changes: Any) -> SweepSpec:
        """This spec with fields of its file changed, parsed again: one source for both."""
        return parse_spec({**self.stored(), **changes})

    def with_loggers(self, names: list[str]) -> SweepSpec:
        """Adds `--logger` trackers (with their default options) to the spec's own."""
        if not names:
            return self
        return self.with_file(loggers={**{n: {} for n in names}, **self.stored().get("loggers", {})})

    def with_storage(self, storage: str) -> SweepSpec:
        return self.with_file(storage=storage)

    def with_imports(self, names: list[str], folder: str) -> SweepSpec:
        """Adds `--import` modules (found in `folder`), so the sweep's spec.yaml names them for
        --resume, lpft wise and a submitted job's driver."""
        if not names:
            return self
        stored = self.stored()
        return self.with_file(imports=list(dict.fromkeys([*self.imports, *names])),
                              import_path=list(dict.fromkeys([*stored.get("import_path", []), folder])))

    def saved_strategies(self) -> tuple[str, ...]:
        """Strategies whose trained models are kept: all fine-tuning ones with save_models, else wise's sources."""
        if self.save_models:
            return tuple(s for s in self.strategies if STRATEGIES[s].fine_tunes)
        return tuple(dict.fromkeys(src for s in self.strategies.values() for src in s.sources))

    def resources_of(self, strategy: str) -> dict[str, float]:
        """What one trial of `strategy` asks Ray for: its own resources, else the spec's."""
        cpu, gpu = self.strategies[strategy].resources or (self.cpu, self.gpu)
        return {"cpu": cpu, "gpu": gpu}

    def check_files(self) -> list[str]:
        """The backbone names something buildable, and the weights file and the data exist here:
        checked where the sweep runs, before Ray starts (not at parse time, so a spec validates
        on a machine without the data); returns the benchmark's notes."""
        from lpft.data import locate_data
        from lpft.models.names import check_name, check_weights

        # The files first: a timm name's check imports timm and torch (~4 s), a missing file is
        # answered without them.
        if self.weights is not None:
            try:
                check_weights(str(self.weights), str(self.backbone or ""))
            except InputError as e:
                raise InputError(f"backbone.weights: {e}") from None
        notes = locate_data(self.benchmark, self.benchmark_params)
        if self.backbone is not None:
            try:
                check_name(self.backbone)
            except InputError as e:
                raise InputError(f"backbone.name: {e}") from None
        return notes


def strategy_model(name: str) -> type[StrategySettings]:
    """The shape of strategy `name`'s entry: the entry's own keys and the strategy's registered
    hyperparameters (each a fixed value of its type, a range or choices), for its checks and
    the JSON Schema; each value is checked against the dataclass by `_check_values`."""
    params = STRATEGIES[name].params
    return _strategy_model(name, params)


@functools.cache
def _strategy_model(name: str, params: type) -> type[StrategySettings]:
    hints = typing.get_type_hints(params)
    hps = [f.name for f in dataclasses.fields(params)]
    fields: dict[str, Any] = {  # each value is checked against the dataclass by _check_values, not here
        hp: (Annotated[Any, PlainValidator(lambda v: v, json_schema_input_type=Union[hints[hp], Range, Choices])],  # noqa: UP007
             Field(default=_shown_default(name, hp), description=_hp_description(name, hp)))
        for hp in hps if hp not in RESERVED}
    model = create_model(f"strategy {name}", __base__=StrategySettings, __doc__=STRATEGIES[name].description,
                         **fields)
    # what a misspelt key is matched against: the hyperparameters and the entry's own keys that apply
    own = ["num_samples", "resources", *(["of"] if STRATEGIES[name].derived else [])]
    model.unknown, model.hyperparameters = f"hyperparameter of {name}", tuple(sorted({*hps, *own}))
    return model


def _shown_default(strategy: str, hp: str) -> Any:
    """What a spec that leaves `hp` out gets, as a spec would write it: the default search space
    (FT's lr: {low: 3e-05, high: 0.01, log: true}), else the dataclass's default value."""
    p = STRATEGIES[strategy].space.get(hp)
    if p is not None and p.kind == Kind.CATEGORICAL:
        return {"choices": list(p.choices)}
    if p is not None and p.kind in (Kind.FLOAT, Kind.INT):
        return {"low": p.low, "high": p.high, "log": p.log, **({"type": "int"} if p.kind == Kind.INT else {})}
    field = next(f for f in dataclasses.fields(STRATEGIES[strategy].params) if f.name == hp)
    return None if field.default is dataclasses.MISSING else field.default


def _hp_description(strategy: str, hp: str) -> str:
    searched = STRATEGIES[strategy].space.get(hp)
    if searched is not None and searched.kind != Kind.CONSTANT:
        return "searched by default over the range shown; set a value, a range {low, high} or {choices: [...]}"
    return "a fixed value (default shown), a range {low, high} or {choices: [...]} to search"


def _strategy(name: str, raw: Any, search: str) -> StrategySpec:
    where = f"strategies.{clip(name)}"
    if name not in STRATEGIES:
        raise InputError(f"{where}: unknown strategy (known: {', '.join(STRATEGIES.names())})")
    raw = raw or {}
    require(isinstance(raw, dict), where, "must be a mapping")
    hp_fields = {f.name for f in dataclasses.fields(STRATEGIES[name].params)}
    if "epochs" in raw:
        require("epochs" in hp_fields, f"{where}.epochs", f"does not apply to {name}")
    if "of" in raw and not STRATEGIES[name].derived:
        derived = ", ".join(n for n in STRATEGIES.names() if STRATEGIES[n].derived)
        raise InputError(f"{where}.of: only a derived strategy ({derived}) runs on other strategies' trials")
    settings = validate(strategy_model(name), raw, where)
    if STRATEGIES[name].derived:
        _check_derived(name, raw, where)
    space = dict(STRATEGIES[name].space)
    if settings.epochs is not None:
        space["epochs"] = Param(Kind.CONSTANT, value=settings.epochs)
    for key, value in raw.items():
        if key not in RESERVED:
            space[key] = param(value, f"{where}.{key}")
    _check_values(name, space, where)
    grid: dict[str, list[Any]] = {}
    if search == "grid":
        grid = dict(STRATEGIES[name].grid)
        for key, p in space.items():  # a spec's own choices replace the paper's grid for that key
            if p.kind == Kind.CATEGORICAL:
                grid[key] = list(p.choices)
            elif p.kind == Kind.CONSTANT and key in raw:  # and its own fixed value takes that key out of it
                grid.pop(key, None)
            elif p.kind in (Kind.FLOAT, Kind.INT) and key in raw:
                raise InputError(f"{where}.{key}: search: grid takes choices ({key}: {{choices: [...]}}), "
                                 "not a range; or leave it out for the paper's grid")
            elif p.kind in (Kind.FLOAT, Kind.INT) and key not in grid:
                raise InputError(f"{where}.{key}: search: grid needs choices, not a range")
        space = {k: p for k, p in space.items() if p.kind == Kind.CONSTANT and k not in grid}
    own = (settings.resources.cpu, settings.resources.gpu) if settings.resources is not None else None
    sources = tuple(settings.of or ())
    require(not STRATEGIES[name].derived or bool(sources), f"{where}.of",
            "must list the fine-tuning strategies whose models it uses (e.g. [ft, lpft])")
    return StrategySpec(name, settings.num_samples, space, grid, own, sources)


# What the sweep fills in a derived strategy's trials: a spec that sets them would be ignored.
FILLED = ("model", "source_trial", "candidates", "models")


def _check_derived(name: str, raw: dict[str, Any], where: str) -> None:
    """A derived strategy searches nothing and runs on the trials the sweep gives it: one value
    per hyperparameter, no trial count, none of the keys the sweep fills."""
    runs = "once over all its sources" if STRATEGIES[name].pooled else "once per source"
    if "num_samples" in raw:
        raise InputError(f"{where}.num_samples: {name} runs {runs}, not a number of samples")
    for key, value in raw.items():
        if key in FILLED:
            raise InputError(f"{where}.{key}: filled by the sweep from its sources' trials; leave it out")
        if isinstance(value, dict) and key not in RESERVED:
            raise InputError(f"{where}.{key}: {name} searches nothing (it runs {runs}): give one value")


def _check_values(name: str, space: dict[str, Param], where: str) -> None:
    """Fixed values, range bounds and choices pass the strategy's own parameter checks, here,
    rather than failing in every trial: each candidate value in turn, the rest fixed."""
    from lpft.settings import parse_into

    fixed = {k: p.value for k, p in space.items() if p.kind == Kind.CONSTANT}
    candidates: list[tuple[str | None, Any]] = [(None, None)] + [
        (k, v) for k, p in space.items() if p.kind != Kind.CONSTANT
        for v in (p.choices if p.kind == Kind.CATEGORICAL else (p.low, p.high))]
    for key, value in candidates:
        values = fixed if key is None else {**fixed, key: int(value) if space[key].kind == Kind.INT else value}
        try:
            parse_into(STRATEGIES[name].params, values, name, strict=True)
        except InputError as e:
            field = f"{where}.{key}" if key else where
            raise InputError(f"{field}: {str(e).removeprefix(f'{name}: ')}") from None


def parse_spec(raw: Any, source: str = "spec") -> SweepSpec:
    """The SweepSpec of a spec file's contents (paths already resolved: `lpft.sweeps.paths`)."""
    require(isinstance(raw, dict), source, "must be a YAML mapping")
    file = validate(SpecFile, raw)
    bench = file.benchmark
    params = dict(bench.model_extra or {})
    allowed = sorted(f.name for f in dataclasses.fields(BENCHMARKS[bench.name].params))
    for key in params:
        if key not in allowed:
            raise InputError(unknown_key("benchmark", key, allowed, f"parameter of {bench.name}"))
    from lpft.settings import parse_into

    try:  # validates the parameters without building the data
        parse_into(BENCHMARKS[bench.name].params, params, "benchmark", strict=True)
    except InputError as e:
        raise InputError(str(e).replace("benchmark: ", "benchmark.", 1)) from None
    parsed = {s: _strategy(s, v, file.search) for s, v in file.strategies.items()}
    for strat in parsed.values():
        for src in strat.sources:
            require(src in parsed and STRATEGIES[src].fine_tunes, f"strategies.{strat.name}.of",
                    f"{quote(src)} is not a fine-tuning strategy of this spec")
    if file.scheduler == "asha" and len(file.metric) > 1:
        raise InputError("scheduler: asha stops trials on one metric; a multi-objective metric needs fifo")
    if file.resample_split:
        require("split_seed" in allowed, "resample_split",
                f"benchmark {bench.name!r} has no split_seed for the seed to draw")
        soups = [s for s in parsed if STRATEGIES[s].pooled]
        require(not soups, f"strategies.{soups[0] if soups else ''}:",
                "a soup ranks its ingredients on one ID val set, but with resample_split each seed's "
                "models were trained on another split (part of it); drop one or the other")
    cache_max_size = None
    if file.cache_max_size is not None:
        from lpft.cachedir import parse_size

        cache_max_size = parse_size(file.cache_max_size, "cache_max_size")
    return SweepSpec(
        name=file.name, benchmark=bench.name, benchmark_params=params, backbone=file.backbone.name,
        weights=file.backbone.weights, strategies=parsed, seeds=tuple(file.seeds), replicate=file.replicate,
        metric=tuple(file.metric), search=file.search, scheduler=file.scheduler, cpu=file.resources.cpu,
        gpu=file.resources.gpu, max_concurrent=file.max_concurrent, max_failures=file.max_failures,
        storage=file.storage, feature_cache=file.feature_cache, save_models=file.save_models,
        imports=tuple(file.imports), keep_checkpoints=file.keep_checkpoints, loggers=_loggers(file.loggers),
        resample_split=file.resample_split, deterministic_search=file.deterministic_search, analyze=file.analyze,
        cache_max_size=cache_max_size, prepared_images=str(file.prepared_images), file=file)


@functools.cache
def tracker_model(name: str) -> type[Shape]:
    """The shape of tracker `name`'s options in `loggers:` (each a non-empty string)."""
    from lpft.sweeps.trackers import TRACKERS

    options: dict[str, Any] = {o: (TrackerOption, Field(default=None)) for o in TRACKERS[name].options}
    model = create_model(f"logger {name}", __base__=Shape, **options)
    model.unknown = "option"
    return model


def _loggers(given: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each tracker is registered and takes the options it is given (`lpft.sweeps.trackers`)."""
    from lpft.sweeps.trackers import TRACKERS

    out = {}
    for name, options in given.items():
        if name not in TRACKERS:
            raise InputError(unknown_key("loggers", name, TRACKERS.names(), "logger"))
        given_options = {} if options is None else options
        require(isinstance(given_options, dict), f"loggers.{name}",
                f"must be a mapping of options, got {quote(given_options)}")
        require(not given_options or TRACKERS[name].options, f"loggers.{name}",
                f"takes no options, got {quote(given_options)}")
        validate(tracker_model(name), given_options, f"loggers.{name}")
        out[name] = dict(given_options)
    return out
