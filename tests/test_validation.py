"""Bad input stops at the door: one line naming the field, exit 2, before any trial (issue 13's
cases 5-8: names, fixed values, typos, strict types, grid vs range, seeds, bounds, resources,
storage, and `lpft run`'s own)."""

import re
import subprocess
import sys

import pytest
import yaml

from lpft.cli import main
from lpft.errors import InputError
from lpft.sweeps import parse_spec


def spec(**changes):
    return {"name": "s", "benchmark": {"name": "synthetic", "n_train": 100}, "strategies": {"ft": {}}, **changes}


@pytest.mark.parametrize("changes, needle", [
    ({"name": ".."}, "name must be 1-100 letters"),
    ({"name": "."}, "name must be 1-100 letters"),
    ({"name": "a\0b"}, "name must be 1-100 letters"),
    ({"name": "x" * 300}, "name must be 1-100 letters"),
    ({"name": "a/b"}, "name must be 1-100 letters"),
    ({"strategies": {"ft": {"lr": "abc"}}}, "strategies.ft: lr: expected float, got 'abc'"),
    # a quoted number is a string in YAML: refused as the JSON Schema refuses it (it was converted)
    ({"strategies": {"ft": {"lr": "0.1"}}}, "strategies.ft: lr: expected float, got '0.1'"),
    ({"strategies": {"ft": {"epochs": 2, "batch_size": {"choices": [8, "16"]}}}},
     "strategies.ft.batch_size: batch_size: expected int, got '16'"),
    ({"benchmark": {"name": "synthetic", "eps": "0.1"}}, "benchmark.eps: expected float, got '0.1'"),
    ({"strategies": {"ft": {"lr": -0.1}}}, "strategies.ft: lr must be > 0, got -0.1"),
    ({"strategies": {"ft": {"momentum": 5}}}, "strategies.ft: momentum must be in [0, 1)"),
    ({"strategies": {"ft": {"bn": {"choices": ["train", "evil"]}}}}, "strategies.ft.bn: bn must be 'train' or 'eval'"),
    ({"strategies": {"ft": {"lr": {"low": 0.0, "high": 1.0}}}}, "strategies.ft.lr: lr must be > 0, got 0.0"),
    ({"backbone": {"wieghts": "x.pth"}}, "backbone.wieghts: unknown backbone field (did you mean 'weights'?"),
    ({"strategies": {"ft": {"lrr": 0.1}}}, "strategies.ft.lrr: unknown hyperparameter of ft (did you mean 'lr'?"),
    ({"resources": {"cpus": 1}}, "resources.cpus: unknown resource (did you mean 'cpu'?"),
    ({"search": "grid", "strategies": {"ft": {"lr": {"low": 0.1, "high": 1.0}}}}, "search: grid takes choices"),
    ({"seeds": [-1]}, "seeds must be a non-empty list of integers in [0, 2**32)"),
    ({"strategies": {"ft": {"lr": {"low": 0.1, "high": float("inf")}}}}, "strategies.ft.lr.high must be finite"),
    ({"strategies": {"ft": {"num_samples": True}}}, "strategies.ft.num_samples must be an integer"),
    ({"max_concurrent": True}, "max_concurrent must be an integer >= 1, got True"),
    ({"save_models": "false"}, "save_models must be true or false, got 'false'"),
    ({"replicate": 1_000_000_000}, "replicate must be an integer in [0, 100]"),
    ({"replicate": 10_000}, "replicate must be an integer in [0, 100], got 10000"),  # was 10,001 trials, silently
    ({"keep_checkpoints": 0}, "keep_checkpoints must be an integer >= 1"),
])
def test_bad_fields_are_one_line(changes, needle):
    with pytest.raises(InputError) as err:
        parse_spec(spec(**changes))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_replicate_seeds_are_linear_and_extend_the_given_ones():
    s = parse_spec(spec(seeds=[0, 5], replicate=4))
    assert s.replicate_seeds() == [5, 6, 7, 8]
    assert len(parse_spec(spec(seeds=[7], replicate=100)).replicate_seeds()) == 100


@pytest.mark.parametrize("setting, needle", [
    ("seed=-1", "seed must be in [0, 2**32), got -1"),
    ("n_train=0", "n_train must be in [1, 10000000], got 0"),
])
def test_lpft_run_bad_settings_are_one_line(setting, needle, capsys):
    assert main(["run", "synthetic", "--strategy", "ft", "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_an_unwritable_model_path_is_one_line(capsys):
    assert main(["run", "synthetic", "--strategy", "ft", "--set", "n_train=50", "--set", "epochs=1",
                 "--save-model", "/proc/lpft/x.pt"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write the model to /proc/lpft/x.pt" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("changes, needle", [
    ({"strategies": {"lp": {"num_cs": 2, "resources": {"cpu": 1000}}}},
     "strategies.lp.resources: a lp trial needs 1000 CPU"),
    ({"resources": {"gpu": 1}, "strategies": {"lp": {"num_cs": 2}}}, "resources: a lp trial needs 1 CPU and 1 GPU"),
    ({"storage": "afile", "strategies": {"lp": {"num_cs": 2}}}, "storage: cannot create the sweep folder"),
    ({"benchmark": {"name": "digits"}, "backbone": {"name": "efficientnet_lite1O"},
      "strategies": {"lp": {"num_cs": 2}}},  # a misspelt name once failed every trial instead
     "backbone.name: 'efficientnet_lite1O' is not a timm model (nor one of: linear)"),
])
def test_what_a_local_sweep_cannot_do_is_refused_not_a_hang(tmp_path, changes, needle):
    (tmp_path / "afile").write_text("")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec(**changes)))
    p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(path)], capture_output=True, text=True,
                       timeout=180, cwd=tmp_path)
    assert p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert p.stdout == ""  # not even the sweep's header: the refusal is all a user sees
    assert not (tmp_path / "results").exists() and not (tmp_path / "afile").is_dir()


def test_lpft_wise_refuses_a_trial_id_that_is_a_path(tmp_path):
    """A trials.parquet whose trial id climbs out of the sweep is refused before any path is built."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lpft.sweeps.wise import wise_on_sweep

    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec(strategies={"ft": {}})))
    row = {"trial_id": "../../../etc", "strategy": "ft", "stage": "search", "seed": 0, "status": "completed",
           "id_val": 0.9, "id_test": 0.9, "ood_avg": 0.5, "hp.lr": 0.1}
    pq.write_table(pa.Table.from_pylist([row]), tmp_path / "trials.parquet")
    with pytest.raises(InputError, match=re.escape("trial id '../../../etc' is not a plain name")):
        wise_on_sweep(str(tmp_path))


def test_a_tampered_checkpoint_cannot_run_code(tmp_path):
    from conftest import code_running_pickle

    from lpft.trainables.trainable import load_state

    marker, path = tmp_path / "ran", tmp_path / "state.pt"
    path.write_bytes(code_running_pickle("model", marker))
    with pytest.raises(InputError, match="refused: not a plain lpft checkpoint"):
        load_state(path)
    assert not marker.exists()


@pytest.mark.parametrize("changes, needle", [
    ({"strategies": {"ft": {"lr": float("inf")}}}, "strategies.ft.lr must be finite, got inf"),  # was accepted
    ({"strategies": {"ft": {"wd": float("nan")}}}, "strategies.ft.wd must be finite, got nan"),
    ({"strategies": {"ft": {"lr": 10**400}}}, "strategies.ft: lr: must be finite"),  # an int past float's range
    ({"strategies": {"ft": {"lr": {"choices": [0.1, float("inf")]}}}}, "strategies.ft.lr: lr: must be finite"),
    ({"benchmark": {"name": "synthetic", "eps": float("nan")}}, "benchmark.eps: must be finite, got nan"),
    ({"seeds": [0, 0]}, "seeds must be unique, got [0, 0]"),  # was: the replicate reran seed 0 as a "second seed"
])
def test_fixed_values_are_finite_and_seeds_unique(changes, needle):
    with pytest.raises(InputError) as err:
        parse_spec(spec(**changes))
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("setting", ["lr=inf", "lr=nan", "wd=-inf", "lr=1e999"])
def test_lpft_run_refuses_a_value_that_is_not_finite(setting, capsys):
    assert main(["run", "synthetic", "--strategy", "ft", "--set", setting]) == 2
    assert f"{setting.split('=')[0]}: must be finite" in capsys.readouterr().err


@pytest.mark.parametrize("changes, needle", [
    ({"benchmark": {"name": "synthetic", "epss": 0.1}},
     "benchmark.epss: unknown parameter of synthetic (did you mean 'eps'?"),  # was "benchmark.unknown key 'epss'"
    ({"strategies": {"ft": {"num_sample": 3}}}, "strategies.ft.num_sample: unknown hyperparameter of ft (did you "
                                                "mean 'num_samples'?"),  # the entry's own keys are candidates too
    ({1: 2}, "1: unknown spec field ("),  # a key YAML read as a number: named, not an empty path
    ({"strategies": {"wise": {False: ["ft"]}, "ft": {}}}, "strategies.wise.False: unknown hyperparameter of wise"),
])
def test_misspelt_and_misread_keys_are_named_with_a_suggestion(changes, needle):
    with pytest.raises(InputError) as err:
        parse_spec(spec(**changes) if all(isinstance(k, str) for k in changes) else {**spec(), **changes})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_spec_file_that_is_not_utf8_is_one_line_and_an_exponent_without_a_dot_is_a_number(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: x\nbenchmark: digits\nstrategies: {lp: {}}\n# \xff\xfe\n")
    assert main(["sweep", str(bad), "--storage", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: not valid YAML" in err and err.count("\n") == 1 and not (tmp_path / "out").exists()
    good = tmp_path / "e.yaml"  # YAML 1.1 (PyYAML) read 1e-4 as the string '1e-4'; YAML 1.2 reads a number
    good.write_text("name: e\nbenchmark: synthetic\nstrategies: {ft: {lr: {low: 1e-4, high: 1E-2, log: true}, "
                    "wd: 5e-5}}\n")
    from lpft.sweeps import load_spec

    ft = load_spec(str(good)).strategies["ft"]
    assert (ft.space["lr"].low, ft.space["lr"].high, ft.space["wd"].value) == (1e-4, 1e-2, 5e-5)
