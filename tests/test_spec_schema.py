"""The spec file's JSON Schema (issue 26): generated from the pydantic model, shipped beside the
built-in specs, named by their first line and by `lpft init`'s; checked here with the
`jsonschema` package, an implementation independent of pydantic."""

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from lpft.cli import main
from lpft.sweeps import builtin_specs, load_spec, parse_spec
from lpft.sweeps.spec_schema import MODELINE, SCHEMA_FILE, schema_text, spec_schema

PLUGIN = Path(__file__).parent / "plugin_example"


def validator():
    return jsonschema.Draft202012Validator(spec_schema())


def test_the_shipped_schema_is_the_generated_one():
    shipped = (resources.files("lpft.sweeps") / SCHEMA_FILE).read_text()
    assert shipped == schema_text(), "regenerate it: lpft schema > lpft/sweeps/spec.schema.json"
    jsonschema.Draft202012Validator.check_schema(json.loads(shipped))


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_each_builtin_spec_names_the_schema_and_satisfies_it(name):
    path = builtin_specs()[name]
    first = path.read_text().splitlines()[0]
    assert first == f"{MODELINE}../{SCHEMA_FILE}"
    assert (Path(str(path)).parent / ".." / SCHEMA_FILE).is_file()
    assert list(validator().iter_errors(yaml.safe_load(path.read_text()))) == []


BASE = {"name": "s", "benchmark": {"name": "synthetic", "n_train": 100}, "strategies": {"ft": {}}}


@pytest.mark.parametrize("changes", [
    {"nme": "x"}, {"max_concurrent": True}, {"save_models": "false"}, {"replicate": 101}, {"seeds": [-1]},
    {"search": "random"}, {"backbone": {"wieghts": "x.pth"}}, {"resources": {"cpus": 1}}, {"name": "a/b"},
    {"strategies": {"ft": {"lrr": 0.1}}}, {"strategies": {"nope": {}}}, {"strategies": {"ft": {"num_samples": 0}}},
    {"strategies": {"ft": {"lr": {"low": 0.1}}}}, {"strategies": {"lp": {"epochs": 3}}}, {"benchmark": "nope"},
    {"benchmark": {"name": "synthetic", "epss": 1}}, {"loggers": ["nope"]}, {"metric": ["id_val", "acc"]},
])
def test_what_lpft_refuses_the_schema_refuses_too(changes):
    raw = {**BASE, **changes}
    with pytest.raises(Exception, match=r"\S"):
        parse_spec(raw)
    assert list(validator().iter_errors(raw)), f"the schema accepts {changes}"


@pytest.mark.parametrize("changes", [
    {}, {"seeds": 3}, {"metric": "ood_avg"}, {"benchmark": "synthetic"}, {"backbone": None},
    {"loggers": "mlflow"}, {"loggers": {"mlflow": {"tracking_uri": "file:/tmp/x"}}}, {"cache_max_size": "20G"},
    {"strategies": {"lp": None, "ft": {"lr": {"choices": [0.1, 0.01]}, "resources": {"gpu": 0.5}}}},
])
def test_what_lpft_accepts_the_schema_accepts(changes):
    raw = {**BASE, **changes}
    parse_spec(raw)
    assert list(validator().iter_errors(raw)) == []


def test_lpft_init_writes_a_spec_that_runs_and_names_the_schema(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "my sweep.yaml", "--benchmark", "digits"]) == 0
    text = (tmp_path / "my sweep.yaml").read_text()
    modeline = text.splitlines()[0]
    assert modeline.startswith(MODELINE + "file://")
    schema_file = Path(modeline.removeprefix(MODELINE + "file://"))
    assert json.loads(schema_file.read_text()) == spec_schema()
    spec = load_spec(str(tmp_path / "my sweep.yaml"))
    assert (spec.name, spec.benchmark, sorted(spec.strategies)) == ("my-sweep", "digits", ["ft", "lp", "lpft"])
    assert list(validator().iter_errors(yaml.safe_load(text))) == []
    # a second time: refused, the file left as it was
    assert main(["init", "my sweep.yaml"]) == 2
    assert "my sweep.yaml: already exists (pass --force" in capsys.readouterr().err
    assert (tmp_path / "my sweep.yaml").read_text() == text
    assert main(["init", "x.yaml", "--benchmark", "nope"]) == 2 and not (tmp_path / "x.yaml").exists()


def test_lpft_init_for_a_benchmark_that_reads_files_asks_for_their_folder(tmp_path, monkeypatch, capsys):
    """Its sweep's first refusal is the root the file shows, not a key it never mentioned."""
    monkeypatch.chdir(tmp_path)
    assert main(["init", "mine.yaml", "--benchmark", "imagefolder"]) == 0
    spec = load_spec(str(tmp_path / "mine.yaml"))
    assert spec.benchmark_params == {"root": str(tmp_path / "path" / "to" / "data")}  # resolved beside the spec
    assert list(validator().iter_errors(yaml.safe_load((tmp_path / "mine.yaml").read_text()))) == []
    capsys.readouterr()
    assert main(["sweep", "mine.yaml"]) == 2
    assert capsys.readouterr().err.strip() == f"lpft: error: imagefolder: data root not found: {tmp_path}/path/to/data"
    assert not (tmp_path / "results").exists()


def test_lpft_schema_with_a_plugin_has_its_strategy_and_benchmark():
    out = subprocess.run([sys.executable, "-m", "lpft", "schema", "--import", "lpft_example_plugin"],
                         capture_output=True, text=True, cwd=PLUGIN, check=True).stdout
    defs = json.loads(out)["$defs"]
    assert "strategy_centroid" in defs and "benchmark_blobs" in defs
    assert "strategy_centroid" not in spec_schema()["$defs"]


def test_the_stored_spec_is_dumped_from_the_model_and_parses_to_the_same_spec(tmp_path):
    spec = parse_spec({**BASE, "seeds": 3, "benchmark": "synthetic", "loggers": "tensorboard"})
    stored = spec.stored()
    assert stored["seeds"] == [3] and stored["benchmark"] == {"name": "synthetic"}
    assert stored["loggers"] == {"tensorboard": {}}
    assert parse_spec(stored) == spec
    moved = spec.with_storage(str(tmp_path / "elsewhere")).with_imports(["mymod"], str(tmp_path))
    assert moved.stored()["storage"] == str(tmp_path / "elsewhere") == moved.storage
    assert moved.stored()["imports"] == ["mymod"] and moved.stored()["import_path"] == [str(tmp_path)]
    assert moved.with_loggers(["mlflow"]).stored()["loggers"] == {"mlflow": {}, "tensorboard": {}}
