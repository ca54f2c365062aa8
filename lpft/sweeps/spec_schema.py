"""The JSON Schema of a spec file: `SpecFile` (`lpft.sweeps.spec_file`) with the benchmarks,
strategies and trackers registered now written out, so an editor completes and checks a spec.

`lpft schema` prints it (with `--import` plugins' own entries); the copy shipped beside the
built-in specs (`lpft/sweeps/spec.schema.json`, which they and `lpft init` point at) is this
for the built-in registries, kept equal by a test. The spec reference in the docs is generated
from it (`docs/hooks.py`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from typing import Any, Literal, Union

from pydantic import ConfigDict, Field
from pydantic import create_model as _create_model

from lpft.sweeps.spec_file import Benchmark, Shape, SpecFile

create_model: Any = _create_model  # models made from registries: typed by what they hold, not statically
SCHEMA_FILE = "spec.schema.json"  # in the lpft.sweeps package
MODELINE = "# yaml-language-server: $schema="  # how a YAML file names its schema (the YAML language server's)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return ...


def _benchmark_model(name: str) -> Any:
    """A benchmark's entry: its name and its registered parameters with their defaults."""
    from lpft.data import BENCHMARKS

    params = BENCHMARKS[name].params
    hints = typing.get_type_hints(params)
    fields: dict[str, Any] = {f.name: (hints[f.name], Field(default=_default(f))) for f in dataclasses.fields(params)}
    config = ConfigDict(title=f"benchmark {name}", extra="forbid")
    # the model's name keys its definition: letters, digits and '_' ('.' would split the reference)
    return create_model("benchmark_" + re.sub(r"\W", "_", name), __config__=config, name=(Literal[name], ...),
                        **fields)


def _mapping_of(title: str, models: dict[str, Any], doc: str) -> Any:
    """A mapping whose keys are the registered names, each with its own model."""
    fields: dict[str, Any] = {name: (model | None, Field(default=None)) for name, model in models.items()}
    return create_model(title, __base__=Shape, __doc__=doc, **fields)


def spec_schema() -> dict[str, Any]:
    """The spec file's JSON Schema for what is registered now (built-ins and imported plugins)."""
    from lpft.data import BENCHMARKS
    from lpft.strategies import STRATEGIES
    from lpft.sweeps.spec import strategy_model, tracker_model
    from lpft.sweeps.trackers import TRACKERS

    benchmarks = [_benchmark_model(n) for n in BENCHMARKS.names()]
    strategies = _mapping_of("strategies", {n: strategy_model(n) for n in STRATEGIES.names()},
                             "Each strategy to sweep, with its trial budget and hyperparameters.")
    trackers = _mapping_of("loggers", {n: tracker_model(n) for n in TRACKERS.names()},
                           "Experiment trackers, each with its options.")
    names: Any = Literal[tuple(BENCHMARKS.names())]
    tracker_names: Any = Literal[tuple(TRACKERS.names())]
    model = create_model(
        "lpft sweep spec", __base__=SpecFile,
        benchmark=(Union[names, Union[tuple(benchmarks)]], Field(description=Benchmark.__doc__)),  # noqa: UP007
        strategies=(strategies, Field(description=strategies.__doc__)),
        loggers=(Union[tracker_names, list[tracker_names], trackers], Field(  # noqa: UP007 (types built at run time)
            default_factory=dict, description="Experiment trackers (none by default): a name, a list of names, "
                                              "or a mapping of name to options.")))
    schema = model.model_json_schema()
    # each registered strategy's entry: the keys that do not apply to it left out
    for name in STRATEGIES.names():
        props = schema["$defs"][f"strategy_{name}"]["properties"] if f"strategy_{name}" in schema["$defs"] else None
        if props is None:
            continue
        epochs = next((f for f in dataclasses.fields(STRATEGIES[name].params) if f.name == "epochs"), None)
        if epochs is None:
            props.pop("epochs", None)
        elif epochs.default is not dataclasses.MISSING:
            props["epochs"]["default"] = epochs.default  # the strategy's own, which "not given" means
        if not STRATEGIES[name].derived:
            props.pop("of", None)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    return json.dumps(spec_schema(), indent=2, sort_keys=False) + "\n"
