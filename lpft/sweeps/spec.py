"""Sweep specs: YAML -> typed, checked SweepSpec. Every bad field is one InputError naming it.

    name: synthetic
    benchmark: {name: synthetic, eps: 0.1}      # + the benchmark's parameters
    backbone: {name: linear, weights: benchmark}  # optional: the benchmark's default
    strategies:
      lp: {}
      ft: {num_samples: 8, epochs: 300, lr: {low: 0.03, high: 3.0, log: true}}
      lpft: {num_samples: 8, lr: {low: 1.0e-3, high: 0.1, log: true}, batch_size: 0}
    seeds: [0, 1, 2]       # search on seeds[0]; replicate uses the next ones
    replicate: 2           # re-run each strategy's best config on 2 more seeds
    metric: id_val         # or a list (multi-objective; FIFO only)
    search: optuna         # or grid: every point of the paper's grids, in a fixed order
    scheduler: fifo        # or asha
    resources: {cpu: 1, gpu: 0}   # per trial; a strategy may set its own (lp: {resources: {gpu: 0.25}})
    max_concurrent: 2
    deterministic_search: true   # ask/tell Optuna in trial order, so a rerun picks the same configs
    max_failures: 1
    storage: results       # a path, a shared file-system path, or s3://bucket/prefix
    feature_cache: node    # or a shared path: features extracted once for the whole cluster
    cache_max_size: 20G    # least recently used cache entries evicted beyond this (default: unbounded)
    save_models: false     # keep fine-tuned models in <storage>/<name>/models/<trial_id>.pt
    keep_checkpoints: 2    # each trial's latest checkpoints kept (a resume needs the last)
    resample_split: false  # true: each seed also draws the benchmark's split (split_seed = seed), so
                           # replicates measure split variance, and deterministic LP is replicated too
    loggers: [tensorboard, mlflow, wandb]   # experiment trackers (none by default); or a mapping
                           # name -> options: {mlflow: {tracking_uri: ...}, wandb: {project: ...}}
    imports: [mymodule]    # modules registering benchmarks, strategies or backbones (every worker too)
    import_path: [.]       # folders searched for them first (default: the spec's folder)

Relative paths are the spec file's folder's (`lpft.sweeps.paths`).

`wise: {of: [ft, lpft]}` interpolates each listed strategy's best search trial with the LP
model once that strategy's search is done (its models are kept automatically).

Under a strategy, a mapping {low, high[, log][, type: int]} or {choices: [...]} is searched,
a scalar is fixed; `num_samples` and `epochs` are the strategy's trial count and length.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from lpft.data import BENCHMARKS
from lpft.errors import InputError, clip, quote, require
from lpft.names import NAME, RULE, is_name  # noqa: F401 (NAME: the ledger's and wise's too)
from lpft.search_spaces import Param, grid_size
from lpft.strategies import STRATEGIES
from lpft.sweeps.fields import boolean, integer, is_int, known_keys, param, resources

METRICS = ("id_val", "id_test", "ood_avg")
RESERVED = ("num_samples", "epochs", "resources", "of")
FIELDS = ("name", "benchmark", "backbone", "strategies", "seeds", "replicate", "metric", "search", "scheduler",
          "resources", "max_concurrent", "max_failures", "storage", "feature_cache", "save_models", "imports",
          "import_path", "keep_checkpoints", "loggers", "resample_split", "deterministic_search",
          "cache_max_size")
# Seeds beyond the search's: a hundred is more than any interval needs, and each is a trial per strategy.
MAX_REPLICATE = 100


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
        return {**self.space, **{k: Param("categorical", choices=tuple(v)) for k, v in self.grid.items()}}


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
    cache_max_size: int | None = None  # bytes; the cache's least recently used entries evicted beyond it
    raw: dict = field(default_factory=dict, compare=False, repr=False)  # the YAML as given

    def replicate_seeds(self) -> list[int]:
        """The seeds after the first, then new ones counting up from the largest (linear time)."""
        extra = list(self.seeds[1:self.replicate + 1])
        top = max(self.seeds)
        extra += list(range(top + 1, top + 1 + self.replicate - len(extra)))
        return extra

    def with_loggers(self, names: list[str]) -> SweepSpec:
        """Adds `--logger` trackers (with their default options) to the spec's own."""
        added = _loggers({"loggers": names})
        return dataclasses.replace(self, loggers={**added, **self.loggers})

    def with_storage(self, storage: str) -> SweepSpec:
        return dataclasses.replace(self, storage=storage)

    def with_imports(self, names: list[str], folder: str) -> SweepSpec:
        """Adds `--import` modules (found in `folder`), so the sweep's spec.yaml names them for
        --resume, lpft wise and a submitted job's driver."""
        if not names:
            return self
        imports = tuple(dict.fromkeys([*self.imports, *names]))
        raw = {**self.raw, "imports": list(imports),
               "import_path": list(dict.fromkeys([*self.raw.get("import_path", []), folder]))}
        return dataclasses.replace(self, imports=imports, raw=raw)

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
        """The weights file and the data exist here: checked where the sweep runs, before Ray
        starts (not at parse time, so a spec validates on a machine without the data); returns
        the benchmark's notes."""
        from lpft.data import locate_data
        from lpft.models.backbone import check_weights

        if self.weights is not None:
            try:
                check_weights(str(self.weights), str(self.backbone or ""))
            except InputError as e:
                raise InputError(f"backbone.weights: {e}") from None
        return locate_data(self.benchmark, self.benchmark_params)


def _strategy(name: str, raw: Any, search: str) -> StrategySpec:
    where = f"strategies.{clip(name)}"
    if name not in STRATEGIES:
        raise InputError(f"{where}: unknown strategy (known: {', '.join(STRATEGIES.names())})")
    raw = raw or {}
    require(isinstance(raw, dict), where, "must be a mapping")
    hp_fields = {f.name for f in dataclasses.fields(STRATEGIES[name].params)}
    space = dict(STRATEGIES[name].space)
    num_samples = integer(raw, "num_samples", 1, 1, 100_000, where)
    if "epochs" in raw:
        require("epochs" in hp_fields, f"{where}.epochs", f"does not apply to {name}")
        space["epochs"] = Param("constant", value=integer(raw, "epochs", 1, 1, where=where))
    known_keys({k: v for k, v in raw.items() if k not in RESERVED}, hp_fields, where, f"hyperparameter of {name}")
    for key, value in raw.items():
        if key not in RESERVED:
            space[key] = param(value, f"{where}.{key}")
    _check_values(name, space, where)
    grid: dict[str, list[Any]] = {}
    if search == "grid":
        grid = dict(STRATEGIES[name].grid)
        for key, p in space.items():  # a spec's own choices replace the paper's grid for that key
            if p.kind == "categorical":
                grid[key] = list(p.choices)
            elif p.kind == "constant" and key in raw:  # and its own fixed value takes that key out of it
                grid.pop(key, None)
            elif p.kind in ("float", "int") and key in raw:
                raise InputError(f"{where}.{key}: search: grid takes choices ({key}: {{choices: [...]}}), "
                                 "not a range; or leave it out for the paper's grid")
            elif p.kind in ("float", "int") and key not in grid:
                raise InputError(f"{where}.{key}: search: grid needs choices, not a range")
        space = {k: p for k, p in space.items() if p.kind == "constant" and k not in grid}
    own = resources(raw["resources"], f"{where}.resources") if "resources" in raw else None
    sources: tuple[str, ...] = ()
    if STRATEGIES[name].derived:
        sources = tuple(raw.get("of") or ())
        require(bool(sources) and all(isinstance(s, str) for s in sources), f"{where}.of",
                "must list the fine-tuning strategies to interpolate (e.g. [ft, lpft])")
    elif "of" in raw:
        raise InputError(f"{where}.of: only a derived strategy (wise) runs on other strategies' trials")
    return StrategySpec(name, num_samples, space, grid, own, sources)


def _check_values(name: str, space: dict[str, Param], where: str) -> None:
    """Fixed values, range bounds and choices pass the strategy's own parameter checks, here,
    rather than failing in every trial: each candidate value in turn, the rest fixed."""
    from lpft.settings import parse_into

    fixed = {k: p.value for k, p in space.items() if p.kind == "constant"}
    candidates: list[tuple[str | None, Any]] = [(None, None)] + [
        (k, v) for k, p in space.items() if p.kind != "constant"
        for v in (p.choices if p.kind == "categorical" else (p.low, p.high))]
    for key, value in candidates:
        values = fixed if key is None else {**fixed, key: int(value) if space[key].kind == "int" else value}
        try:
            parse_into(STRATEGIES[name].params, values, name)
        except InputError as e:
            field = f"{where}.{key}" if key else where
            raise InputError(f"{field}: {str(e).removeprefix(f'{name}: ')}") from None


def parse_spec(raw: Any, source: str = "spec") -> SweepSpec:
    require(isinstance(raw, dict), source, "must be a YAML mapping")
    known_keys(raw, FIELDS, "", "spec field")
    for key in ("name", "benchmark", "strategies"):
        require(key in raw, key, "is missing")
    name = raw["name"]
    require(is_name(name), "name", f"must be {RULE} (it names the sweep's folder), got {quote(name)}")

    bench = raw["benchmark"]
    bench = {"name": bench} if isinstance(bench, str) else bench
    require(isinstance(bench, dict) and "name" in bench, "benchmark.name", "is missing")
    if bench["name"] not in BENCHMARKS:
        raise InputError(f"benchmark.name: unknown benchmark {quote(bench['name'])} "
                         f"(known: {', '.join(BENCHMARKS.names())})")
    params = {k: v for k, v in bench.items() if k != "name"}
    from lpft.settings import parse_into

    try:  # validates the parameters without building the data
        parse_into(BENCHMARKS[bench["name"]].params, params, "benchmark")
    except InputError as e:
        raise InputError(str(e).replace("benchmark: ", "benchmark.", 1)) from None

    backbone = raw.get("backbone") or {}
    require(isinstance(backbone, dict), "backbone", "must be a mapping like {name: ..., weights: ...}")
    known_keys(backbone, ("name", "weights"), "backbone", "backbone field")

    search = raw.get("search", "optuna")
    require(search in ("optuna", "grid"), "search", f"must be optuna or grid, got {quote(search)}")
    strategies = raw["strategies"]
    require(isinstance(strategies, dict) and strategies, "strategies", "must map strategy names to their settings")
    parsed = {s: _strategy(s, v, search) for s, v in strategies.items()}
    for strat in parsed.values():
        for src in strat.sources:
            require(src in parsed and STRATEGIES[src].fine_tunes, f"strategies.{strat.name}.of",
                  f"{quote(src)} is not a fine-tuning strategy of this spec")

    seeds = raw.get("seeds", [0])
    seeds = [seeds] if isinstance(seeds, int) else seeds
    require(isinstance(seeds, list) and seeds and all(is_int(s) and 0 <= s < 2**32 for s in seeds),
            "seeds", f"must be a non-empty list of integers in [0, 2**32), got {quote(seeds)}")
    # A repeated seed reruns another seed's run and counts it as a second one (a narrower interval).
    require(len(set(seeds)) == len(seeds), "seeds", f"must be unique, got {quote(seeds)}")
    replicate = integer(raw, "replicate", 0, 0, MAX_REPLICATE)

    metric = raw.get("metric", "id_val")
    metric = [metric] if isinstance(metric, str) else metric
    require(isinstance(metric, list) and metric, "metric", "must be a metric name or a list of them")
    for m in metric:
        require(m in METRICS, "metric", f"{quote(m)} is not one of {', '.join(METRICS)}")
    scheduler = raw.get("scheduler", "fifo")
    require(scheduler in ("fifo", "asha"), "scheduler", f"must be fifo or asha, got {quote(scheduler)}")
    if scheduler == "asha" and len(metric) > 1:
        raise InputError("scheduler: asha stops trials on one metric; a multi-objective metric needs fifo")
    cpu, gpu = resources(raw.get("resources"))
    max_concurrent = integer(raw, "max_concurrent", 2, 1)
    max_failures = integer(raw, "max_failures", 1, 0)
    storage = raw.get("storage", "results")
    require(isinstance(storage, str) and storage, "storage", "must be a path or URI (s3://bucket/prefix)")
    feature_cache = raw.get("feature_cache", "node")
    require(isinstance(feature_cache, str) and feature_cache and "://" not in feature_cache, "feature_cache",
          "must be node (each node caches its own features) or a shared file-system path")
    cache_max_size = raw.get("cache_max_size")
    if cache_max_size is not None:
        from lpft.cachedir import parse_size

        cache_max_size = parse_size(cache_max_size, "cache_max_size")
    resample = boolean(raw, "resample_split", False)
    if resample:
        require("split_seed" in {f.name for f in dataclasses.fields(BENCHMARKS[bench["name"]].params)},
                "resample_split", f"benchmark {bench['name']!r} has no split_seed for the seed to draw")
    return SweepSpec(name, bench["name"], params, backbone.get("name"), backbone.get("weights"), parsed,
                     tuple(seeds), replicate, tuple(metric), search, scheduler, cpu, gpu, max_concurrent,
                     max_failures, storage, feature_cache, boolean(raw, "save_models", False),
                     tuple(raw.get("imports", ())), integer(raw, "keep_checkpoints", 2, 1), _loggers(raw),
                     resample, boolean(raw, "deterministic_search", True), cache_max_size, dict(raw))


def _loggers(raw: dict) -> dict[str, dict[str, str]]:
    """`loggers`: a name, a list of names, or a mapping of name to options (lpft.sweeps.trackers)."""
    from lpft.sweeps.trackers import TRACKERS

    shape = f"must be a list of names ({', '.join(TRACKERS.names())}) or a mapping of name to options"
    value = raw.get("loggers", [])
    value = [value] if isinstance(value, str) else value
    if isinstance(value, list):
        require(all(isinstance(v, str) for v in value), "loggers", shape)
        value = {v: {} for v in value}
    require(isinstance(value, dict), "loggers", shape)
    known_keys(value, TRACKERS.names(), "loggers", "logger")
    out = {}
    for name, given in value.items():
        options = {} if given is None else given
        require(isinstance(options, dict), f"loggers.{name}", f"must be a mapping of options, got {quote(options)}")
        require(not options or TRACKERS[name].options, f"loggers.{name}", f"takes no options, got {quote(options)}")
        known_keys(options, TRACKERS[name].options, f"loggers.{name}", "option")
        for key, v in options.items():
            require(isinstance(v, str) and v, f"loggers.{name}.{key}", f"must be a non-empty string, got {quote(v)}")
        out[name] = dict(options)
    return out
