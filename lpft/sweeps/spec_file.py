"""A sweep spec file's declared shape, as pydantic models: the one definition of its fields, their
types, bounds and defaults. It validates every spec (strict: YAML's `true` is not 1 and "false"
is not a boolean; an unknown key is refused at every level), generates the JSON Schema
(`lpft.sweeps.spec_schema`, `lpft schema`), and is what a sweep's spec.yaml is dumped from.

    name: synthetic
    benchmark: {name: synthetic, eps: 0.1}        # or just its name; + the benchmark's parameters
    backbone: {name: linear, weights: benchmark}  # optional: the benchmark's default
    strategies:
      lp: {}
      ft: {num_samples: 8, epochs: 300, lr: {low: 0.03, high: 3.0, log: true}}

Under a strategy, a mapping {low, high[, log][, type: int]} or {choices: [...]} is searched, a
scalar is fixed; `num_samples` and `epochs` are the strategy's trial count and length. What
depends on a registry (a benchmark's parameters, a strategy's hyperparameters, a tracker's
options) is checked against the registered dataclass by `lpft.sweeps.spec`. Each field's
wording for a bad value is its `Says`; `lpft.sweeps.spec_errors` turns pydantic's errors into
that one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from lpft.names import NAME, RULE

METRICS = ("id_val", "id_test", "ood_avg")
# Seeds beyond the search's: a hundred is more than any interval needs, and each is a trial per strategy.
MAX_REPLICATE = 100
MAX_SAMPLES = 100_000


class Says:
    """How a bad value of the field it annotates is named: `text`, or the text for the error's
    pydantic type (`by_type`); `{got}` is the value as given. A text starting with ':' follows
    the field's path directly ("benchmark.name: unknown ..."), else after a space ("seeds must
    be ..."). `at` is a sub-field the message names instead (benchmark -> benchmark.name)."""

    def __init__(self, text: str | Callable[[], str], at: str = "", **by_type: str) -> None:
        self.text, self.at, self.by_type = text, at, by_type

    def template(self, error_type: str) -> str:
        text = self.by_type.get(error_type, self.text)
        return text() if callable(text) else text


def refuse(at: str, text: str) -> PydanticCustomError:
    """An error a validator raises about sub-field `at` of its model, in lpft's words."""
    return PydanticCustomError("lpft", "{text}", {"at": at, "text": text})


def _integer(minimum: int, maximum: int | None = None) -> Says:
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    return Says(f"must be an integer {bound}, got {{got}}")


def _number(**by_type: str) -> Says:
    return Says("must be a number, got {got}", finite_number="must be finite, got {got}", **by_type)


AtLeast0 = Annotated[int, Field(ge=0), _integer(0)]
AtLeast1 = Annotated[int, Field(ge=1), _integer(1)]
Samples = Annotated[int, Field(ge=1, le=MAX_SAMPLES), _integer(1, MAX_SAMPLES)]
Replicates = Annotated[int, Field(ge=0, le=MAX_REPLICATE), _integer(0, MAX_REPLICATE)]
Bool = Annotated[bool, Says("must be true or false, got {got}")]
Finite = Annotated[float, Field(allow_inf_nan=False), _number()]  # an int is a number too


def _or_empty(value: Any) -> Any:
    """YAML's empty value (`lp:`) or any other falsy one means "all defaults"."""
    return value or {}


class Shape(BaseModel):
    # attribute docstrings: each field's description in the JSON Schema and the docs' spec reference
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, use_attribute_docstrings=True)
    unknown: ClassVar[str] = "field"  # an unknown key is "unknown <this>"

    @classmethod
    def known(cls) -> list[str]:
        """The keys a mapping of this shape may hold (named with a did-you-mean for an unknown one)."""
        return sorted(cls.model_fields)


class Resources(Shape):
    """What one trial asks Ray for; fractions share a core or a GPU."""

    unknown = "resource"
    cpu: Annotated[float, Field(allow_inf_nan=False, gt=0),
                   _number(greater_than="must be > 0 (fractions allowed)")] = 1.0
    """CPUs per trial."""
    gpu: Annotated[float, Field(allow_inf_nan=False, ge=0),
                   _number(greater_than_equal="must be >= 0 (fractions allowed)")] = 0.0
    """GPUs per trial (0.25: four trials share one)."""


ResourcesField = Annotated[Resources, BeforeValidator(_or_empty, json_schema_input_type=Resources | None),
                           Says("must be a mapping like {cpu: 1, gpu: 0}")]


class Range(Shape):
    """A searched range of a hyperparameter: {low, high[, log][, type: int]}."""

    unknown = "range field"
    low: Finite
    """The smallest value sampled."""
    high: Finite
    """The largest value sampled (>= low)."""
    log: Bool = False
    """Sample on a log scale (then low > 0)."""
    type: Annotated[Literal["float", "int"], Says("must be float or int, got {got}")] = "float"
    """int: whole numbers between low and high."""

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.log and self.low <= 0:
            raise refuse("low", "must be > 0 on a log scale")
        if self.low > self.high:
            raise refuse("high", f"must be >= low ({self.low:g})")
        return self


class Choices(Shape):
    """A hyperparameter's choices, each tried: {choices: [...]}."""

    unknown = "search field"
    choices: Annotated[list[Any], Field(min_length=1), Says("must be a non-empty list")]
    """Each value is tried (search: grid) or sampled (optuna)."""


class StrategySettings(Shape):
    """A strategy's entry: its trial budget and length, its own resources, and its hyperparameters
    (fixed values, ranges or choices; the strategy's registered dataclass checks them)."""

    unknown = "hyperparameter"
    hyperparameters: ClassVar[tuple[str, ...]] = ()  # `lpft.sweeps.spec.strategy_model` adds each strategy's
    num_samples: Samples = 1
    """Trials of the search (search: grid runs every grid point instead)."""
    # not `| None`: `epochs:` left empty in YAML is refused, not read as the default (None: not given)
    epochs: AtLeast1 = None  # type: ignore[assignment]
    """Epochs of each fine-tuning trial (default: the strategy's own)."""
    resources: ResourcesField | None = None
    """What one trial of this strategy asks for (default: the spec's resources)."""
    of: Annotated[list[str] | None, Field(min_length=1),
                  Says("must list the fine-tuning strategies whose models it uses (e.g. [ft, lpft])")] = None
    """A derived strategy's sources: wise interpolates each one's best model with the LP model; a
    soup averages all their completed models."""

    @classmethod
    def known(cls) -> list[str]:
        return list(cls.hyperparameters)  # the entry's own keys are not named among them


def _registered(name: str) -> str:
    from lpft.data import BENCHMARKS

    if name not in BENCHMARKS:
        raise PydanticCustomError("unknown", "unknown")
    return name


def _unknown() -> str:
    from lpft.data import BENCHMARKS

    return f": unknown benchmark {{got}} (known: {', '.join(BENCHMARKS.names())})"


class Benchmark(Shape):
    """The benchmark by name, with its parameters (checked against the registered dataclass)."""

    model_config = ConfigDict(extra="allow")
    name: Annotated[str, AfterValidator(_registered), Says(_unknown)]


class Backbone(Shape):
    """The backbone: a registered name or `module:factory`, and its weights (a file, or a named set)."""

    unknown = "backbone field"
    name: Annotated[str | None, Says("must be a backbone name or module:factory, got {got}")] = None
    """A registered architecture or a timm name, or `module:factory` (default: the benchmark's)."""
    weights: Annotated[str | None, Says("must be a weights file or the name of a set of weights, got {got}")] = None
    """A weights file (relative to the spec's folder), or a named set such as `benchmark`."""


def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, int) else value


def _one_name_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _unique(seeds: list[int]) -> list[int]:
    # A repeated seed reruns another seed's run and counts it as a second one (a narrower interval).
    if len(set(seeds)) != len(seeds):
        raise PydanticCustomError("unique", "not unique")
    return seeds


def _logger_names(value: Any) -> Any:
    """`loggers: mlflow` or `[mlflow, wandb]`: each with its default options."""
    value = [value] if isinstance(value, str) else value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {v: {} for v in value}
    return value


def _no_uri(value: str) -> str:
    if "://" in value:
        raise PydanticCustomError("uri", "a URI")
    return value


def _prepared(value: Any) -> Any:
    if str(value).strip().lower() in ("auto", "off"):
        return str(value).strip().lower()
    if value is False:
        return "off"
    return _size(value)


def _size(value: Any) -> Any:
    from lpft.cachedir import parse_size
    from lpft.errors import InputError

    if value is None:
        return None
    try:
        parse_size(value, "")
    except InputError:
        raise PydanticCustomError("size", "not a size") from None
    return value


Seed = Annotated[int, Field(ge=0, lt=2**32)]
Seeds = Annotated[list[Seed], Field(min_length=1)]
Metric = Literal[METRICS]  # type: ignore[valid-type]
Metrics = Annotated[list[Metric], Field(min_length=1)]
TrackerOption = Annotated[str, Field(min_length=1), Says("must be a non-empty string, got {got}")]
TRACKER_SHAPE = "must be a list of names (mlflow, tensorboard, wandb) or a mapping of name to options"


class SpecFile(Shape):
    """A sweep spec, as its YAML file writes it (`lpft.sweeps.spec.parse_spec` makes the `SweepSpec`
    a sweep runs from it)."""

    unknown = "spec field"
    name: Annotated[str, Field(pattern=f"^{NAME}$"), Says(f"must be {RULE} (it names the sweep's folder), got {{got}}")]
    """The sweep's name: its folder under `storage`."""
    benchmark: Annotated[Benchmark, BeforeValidator(lambda v: {"name": v} if isinstance(v, str) else v,
                                                    json_schema_input_type=str | Benchmark),
                         Says("is missing", at="name")]
    """The benchmark: its name, or {name: ..., <parameter>: ...}."""
    backbone: Annotated[Backbone, BeforeValidator(_or_empty, json_schema_input_type=Backbone | None),
                        Says("must be a mapping like {name: ..., weights: ...}")] = Backbone()
    """The pretrained backbone (default: the benchmark's)."""
    strategies: Annotated[dict[Any, Any], Field(min_length=1), Says("must map strategy names to their settings")]
    """Each strategy to sweep; under it a range {low, high[, log][, type: int]} or {choices: [...]}
    is searched, a scalar fixed."""
    seeds: Annotated[list[Seed], BeforeValidator(_one_or_list, json_schema_input_type=Seed | Seeds),
                     Field(min_length=1), AfterValidator(_unique),
                     Says("must be a non-empty list of integers in [0, 2**32), got {got}",
                          unique="must be unique, got {got}")] = [0]
    """The search runs on the first seed; replicates on the next ones."""
    replicate: Replicates = 0
    """Re-run each strategy's best configuration on this many more seeds (its interval's n - 1)."""
    metric: Annotated[list[Metric], BeforeValidator(_one_name_or_list, json_schema_input_type=Metric | Metrics),
                      Field(min_length=1),
                      Says("must be a metric name or a list of them",
                           literal_error=f"{{input}} is not one of {', '.join(METRICS)}")] = ["id_val"]
    """What configurations are ranked on; a list is multi-objective (scheduler: fifo only)."""
    search: Annotated[Literal["optuna", "grid"], Says("must be optuna or grid, got {got}")] = "optuna"
    """optuna: Optuna's TPE samples each strategy's space; grid: every point of the paper's grids, in order."""
    scheduler: Annotated[Literal["fifo", "asha"], Says("must be fifo or asha, got {got}")] = "fifo"
    """asha stops poor fine-tuning trials early on the first metric."""
    resources: ResourcesField = Resources()
    """What one trial asks Ray for; a strategy may set its own."""
    max_concurrent: AtLeast1 = 2
    """Trials running at once."""
    max_failures: AtLeast0 = 1
    """Retries of a trial that fails (a node lost, a process killed)."""
    storage: Annotated[str, Field(min_length=1), Says("must be a path or URI (s3://bucket/prefix)")] = "results"
    """Where the sweep's folder goes: a path, a shared file-system path, or s3://bucket/prefix."""
    feature_cache: Annotated[str, Field(min_length=1), AfterValidator(_no_uri),
                             Says("must be node (each node caches its own features) or a shared file-system path")
                             ] = "node"
    """node: each node caches its own features; a shared path: extracted once for the whole cluster."""
    save_models: Bool = False
    """Keep every fine-tuned model in <storage>/<name>/models/<trial_id>.pt."""
    imports: Annotated[list[str], Says("must be a list of module names")] = []
    """Modules registering benchmarks, strategies or backbones, imported on every worker too."""
    import_path: Annotated[list[str], Says("must be a list of folders")] = []
    """Folders searched for `imports` first (default: the spec's folder)."""
    keep_checkpoints: AtLeast1 = 2
    """Each trial's latest checkpoints kept (a resume needs the last)."""
    loggers: Annotated[dict[str, Any], BeforeValidator(_logger_names), Says(TRACKER_SHAPE)] = {}
    """Experiment trackers (none by default): a name, a list of names, or a mapping of name to options."""
    resample_split: Bool = False
    """Each seed also draws the benchmark's split (split_seed = seed): replicates then measure split variance."""
    deterministic_search: Bool = True
    analyze: Bool = False
    """Write the `lpft analyze` report (tables, frontiers, report.html) when the sweep ends, as `--analyze` does."""
    """Ask and tell Optuna in trial order, so a rerun picks the same configurations."""
    cache_max_size: Annotated[Any, AfterValidator(_size), WithJsonSchema({"type": ["string", "integer", "null"]}),
                              Says("must be a size such as 500M, 20G or 1.5GiB, got {got}")] = None
    """The feature cache's size (500M, 20G, 1.5GiB or bytes): least recently used entries evicted beyond it."""
    prepared_images: Annotated[Any, AfterValidator(_prepared), WithJsonSchema({"type": ["string", "integer"]}),
                               Says("must be auto, off or a size such as 200G, got {got}")] = "auto"
    """Image files decoded once per node into a copy every trial reads: auto (as the disk allows), off, or a budget."""
