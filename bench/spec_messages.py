"""Every message `parse_spec` gives for a corpus of bad specs, one line per case: run before and
after a change to the spec's validation and diff the two outputs (issue 26: "the validation
messages diff (none)").

    python bench/spec_messages.py > before.txt; <change>; python bench/spec_messages.py > after.txt
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from typing import Any

BAD = [None, True, False, "x", "", -1, 0, 1, 2, 1.5, -0.5, float("nan"), float("inf"), 10**400, [], [1], ["a"],
       {}, {"x": 1}, {"low": 1}, "a/b", "false", [0, 0], [-1], 2**33]
BASE: dict[str, Any] = {"name": "s", "benchmark": {"name": "synthetic", "n_train": 100},
                        "strategies": {"lp": {}, "ft": {}, "lpft": {}}}
TOP = ["name", "benchmark", "backbone", "strategies", "seeds", "replicate", "metric", "search", "scheduler",
       "resources", "max_concurrent", "max_failures", "storage", "feature_cache", "save_models", "imports",
       "import_path", "keep_checkpoints", "loggers", "resample_split", "deterministic_search", "cache_max_size",
       "multi_objective", "nme", "seed"]
RANGES = [{"low": 0.1, "high": 1.0}, {"low": 0.0, "high": 1.0, "log": True}, {"low": 1.0, "high": 0.1},
          {"low": "a", "high": 1.0}, {"high": 1.0}, {"low": 0.1}, {"low": 0.1, "high": 1.0, "log": "yes"},
          {"low": 0.1, "high": 1.0, "type": "str"}, {"low": 1, "high": 4, "type": "int"},
          {"low": 0.1, "high": 1.0, "step": 2}, {"choices": []}, {"choices": "a"}, {"choices": [1], "x": 2},
          {"choices": [0.1, float("inf")]}, {"choices": ["train", "evil"]}, {"low": 0.1, "high": float("nan")}]


def cases() -> Iterator[tuple[str, Any]]:
    yield "not a mapping", [1]
    yield "empty", {}
    for key in ("name", "benchmark", "strategies"):
        yield f"missing {key}", {k: v for k, v in BASE.items() if k != key}
    for key in TOP:
        for value in BAD:
            yield f"{key}={value!r}", {**BASE, key: value}
    for value in [*BAD, "synthetic", "nope", {"name": "nope"}, {"name": "synthetic", "eps": "x"},
                        {"name": "synthetic", "eps": float("nan")}, {"name": "synthetic", "epss": 1},
                        {"name": "digits", "split_seed": -1}, {"name": "synthetic", "n_train": True}]:
        yield f"benchmark={value!r}", {**BASE, "benchmark": value}
    for value in [{"name": "resnet18"}, {"wieghts": "x"}, {"name": 1}, {"weights": 2}, {"name": None},
                  {"name": "linear", "weights": "benchmark"}, "resnet", [1]]:
        yield f"backbone={value!r}", {**BASE, "backbone": value}
    for value in [{"cpu": 0}, {"cpu": -1}, {"gpu": -1}, {"cpus": 1}, {"cpu": "1"}, {"cpu": True},
                  {"cpu": float("nan")}, {"gpu": float("inf")}, {"cpu": 0.5, "gpu": 0.25}, 3, "x"]:
        yield f"resources={value!r}", {**BASE, "resources": value}
        yield f"strategies.ft.resources={value!r}", {**BASE, "strategies": {"ft": {"resources": value}}}
    for value in ["mlflow", ["mlflow", "wandb"], ["nope"], {"mlflow": {"tracking_uri": "x"}},
                  {"mlflow": {"tracking_urii": "x"}}, {"mlflow": {"tracking_uri": 1}}, {"mlflow": {"tracking_uri": ""}},
                  {"tensorboard": {"x": "y"}}, {"mlflow": None}, {"mlflow": 3}, {"wandb": {"project": "p"}}, [1]]:
        yield f"loggers={value!r}", {**BASE, "loggers": value}
    for value in ["10G", "1.5M", "x", -1, 0, 10, "10Q", True, 1.5, "", "9" * 400]:
        yield f"cache_max_size={value!r}", {**BASE, "cache_max_size": value}
    yield "asha multi", {**BASE, "scheduler": "asha", "metric": ["id_val", "ood_avg"]}
    yield "metric bad in list", {**BASE, "metric": ["id_val", "nope"]}
    yield "resample synthetic", {**BASE, "resample_split": True}
    yield "resample digits", {**BASE, "benchmark": {"name": "digits"}, "resample_split": True}
    for strategy in ("lp", "ft", "lpft", "wise", "nope", "a/b"):
        for value in BAD:
            yield f"strategies.{strategy}={value!r}", {**BASE, "strategies": {strategy: value}}
    for strategy, keys in (("lp", ["C", "max_iter", "Cc", "epochs", "num_samples", "of"]),
                           ("ft", ["lr", "wd", "momentum", "bn", "epochs", "num_samples", "eval_every",
                                   "batch_size", "lrr", "of", "seed"]),
                           ("lpft", ["lr", "probe_epochs", "epochs", "num_samples", "of"]),
                           ("wise", ["of", "alphas", "num_samples", "epochs"])):
        for key in keys:
            for value in BAD + RANGES:
                for search in ("optuna", "grid"):
                    strategies = {strategy: {key: value}}
                    if strategy == "wise":
                        strategies = {"ft": {}, "wise": {"of": ["ft"], key: value}}
                    yield (f"{search} strategies.{strategy}.{key}={value!r}",
                           {**BASE, "search": search, "strategies": strategies})
    yield "wise of lp", {**BASE, "strategies": {"lp": {}, "wise": {"of": ["lp"]}}}
    yield "wise of missing", {**BASE, "strategies": {"wise": {"of": ["ft"]}}}
    yield "wise no of", {**BASE, "strategies": {"ft": {}, "wise": {}}}
    yield "wise of ok", {**BASE, "strategies": {"ft": {}, "wise": {"of": ["ft"]}}}
    yield "ft of", {**BASE, "strategies": {"ft": {"of": ["lp"]}}}


def main() -> None:
    from lpft.errors import InputError
    from lpft.sweeps import parse_spec

    seen = set()
    for label, raw in cases():
        if label in seen:
            continue
        seen.add(label)
        try:
            parse_spec(copy.deepcopy(raw))
            outcome = "ok"
        except InputError as e:
            outcome = str(e)
        except Exception as e:  # noqa: BLE001 (a traceback is what this looks for)
            outcome = f"CRASH {type(e).__name__}: {e}"
        sys.stdout.write(json.dumps([label, outcome], ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
