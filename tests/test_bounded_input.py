"""Bounded work from a bounded spec (issue 25): a YAML alias bomb is refused before it expands,
a message quotes at most ~100 characters of a value, and YAML is read the same bounded way
wherever lpft reads it from a user (a spec file, a sweep folder's spec.yaml)."""

import time
import tracemalloc

import pytest
import yaml

from lpft.cli import main
from lpft.errors import InputError
from lpft.sweeps import load_spec, parse_spec


def bomb(levels: int) -> str:
    """'Billion laughs' under strategies.ft.lr: level i is a list of nine aliases of level i-1."""
    items = ["&a0 [" + ", ".join(['"' + "lol" * 24 + '"'] * 9) + "]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return ("name: bomb\nbenchmark: {name: synthetic, n_train: 50}\nstrategies:\n  ft:\n    lr: ["
            + ", ".join(items) + "]\n")


def test_the_billion_laughs_bomb_ends_at_once_small_and_in_one_short_line(tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(9))
    assert 1000 < len(path.read_bytes()) < 1400  # the 1.2 KB, nine levels: 9^9 strings expanded
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(InputError) as err:
            load_spec(str(path))
        seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 5 and peak < 200e6, (seconds, peak)
    message = str(err.value)
    assert "once aliases are expanded" in message and len(message) < 300 and "\n" not in message
    assert main(["sweep", str(path)]) == 2  # the command: the same line, exit 2, nothing run
    printed = capsys.readouterr().err.strip()
    assert "once aliases are expanded" in printed and len(printed.splitlines()) == 1


@pytest.mark.parametrize("levels", [3, 4, 5])
def test_a_smaller_bomb_gives_a_short_message_too(tmp_path, levels):
    """Below the cap (9^3, 9^4 values) the spec check quotes the value; at 9^5 the cap refuses it."""
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(levels))
    with pytest.raises(InputError) as err:
        load_spec(str(path))
    assert len(str(err.value)) < 300 and "\n" not in str(err.value), str(err.value)[:500]


def test_a_long_value_is_quoted_short_wherever_it_is_checked():
    long_list = ["x" * 50] * 5000  # under the YAML cap: the checks' own quoting keeps it short
    for raw in ({"name": "s", "benchmark": {"name": "synthetic"}, "strategies": {"ft": {"lr": long_list}}},
                {"name": "s", "benchmark": {"name": long_list}, "strategies": {"ft": {}}},
                {"name": "x" * 100_000, "benchmark": "synthetic", "strategies": {"ft": {}}},
                {"name": "s", "benchmark": "synthetic", "strategies": {"ft": {"y" * 100_000: 1}}},
                {"name": "s", "benchmark": "synthetic", "strategies": {"ft": {}}, "seeds": long_list}):
        with pytest.raises(InputError) as err:
            parse_spec(raw)
        assert len(str(err.value)) < 300, str(err.value)[:400]
    assert main(["run", "synthetic", "--strategy", "ft", "--set", "lr=" + "9" * 100_000 + "x"]) == 2


@pytest.mark.parametrize("text, needle", [
    ("a: &a [*a]\n", "contains it (a recursive value)"),
    ("a: !!python/object/apply:os.system [touch x]\n", "not valid YAML (line 1: could not determine a constructor"),
    ("a: " + "9" * 5000 + "\n", "not valid YAML (Exceeds the limit"),
    ("a: [1\n", "not valid YAML (line 2"),
])
def test_bad_yaml_is_one_line_naming_the_file(tmp_path, text, needle):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_spec(str(path))
    assert str(err.value).startswith(f"{path}: ") and needle in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "x").exists()


def test_anchors_within_the_cap_still_work(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nbenchmark: {name: synthetic, n_train: 50}\n"
                    "strategies:\n  ft: &sgd {epochs: 2, lr: 0.1}\n  lpft: *sgd\n")
    spec = load_spec(str(path))
    assert spec.strategies["lpft"].space["epochs"].value == 2 and spec.strategies["ft"].space["lr"].value == 0.1


def test_a_sweep_folders_spec_yaml_is_read_bounded_too(tmp_path):
    from lpft.analysis.html import sweep_context
    from lpft.storage import locate
    from lpft.sweeps.preflight import check_same_spec

    (tmp_path / "spec.yaml").write_text(bomb(9))
    spec = parse_spec(yaml.safe_load("name: bomb\nbenchmark: {name: synthetic, n_train: 50}\nstrategies: {ft: {}}"))
    start = time.perf_counter()
    with pytest.raises(InputError, match="once aliases are expanded"):
        check_same_spec(locate(tmp_path), spec)  # --resume
    assert sweep_context([str(tmp_path)])[0]["name"] == tmp_path.name  # analyze: the folder's name, no spec
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("benchmark, setting, needle", [
    ("synthetic", "d=100000000", "d must be in [1, 10000000], got 100000000"),  # was 23 GB, then the OOM killer
    ("synthetic", "classes=100000000", "classes must be in [1, 10000000]"),  # was an allocation traceback
    ("synthetic", "d=1000000",
     "d + classes = 1000005 values in each of n_train + n_val + n_test + n_ood = 4000 rows need ~30 GiB"),
    ("digits", "size=100000", "size must be in [16, 212]"),
    ("digits", "size=300", "size must be in [16, 212]"),  # was numpy's 'low >= high' traceback
    ("digits", "n_ood=100000000", "n_ood must be in [1, 5000]"),
])
def test_benchmark_sizes_are_bounded_for_run_and_spec_alike(benchmark, setting, needle, capsys):
    assert main(["run", benchmark, "--strategy", "lp", "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    key, value = setting.split("=")
    with pytest.raises(InputError, match=f"benchmark.{key}"):
        parse_spec({"name": "s", "benchmark": {"name": benchmark, key: int(value)}, "strategies": {"lp": {}}})


def test_image_size_is_bounded(tmp_path):
    from lpft.data.layout import ImageParams

    with pytest.raises(InputError, match=r"image_size must be in \[8, 1024\], got 100000"):
        ImageParams(image_size=100_000)


@pytest.mark.parametrize("strategies, needle", [
    ({"ft": {"epochs": 10**14}}, "strategies.ft: epochs must be in [1, 1000000], got 100000000000000"),
    ({"lpft": {"probe_epochs": 10**14}}, "strategies.lpft: probe_epochs must be in [0, 1000000]"),
])
def test_epochs_are_bounded(strategies, needle):
    with pytest.raises(InputError) as err:
        parse_spec({"name": "s", "benchmark": "synthetic", "strategies": strategies})
    assert needle in str(err.value)
    assert main(["run", "synthetic", "--strategy", "ft", "--set", "epochs=100000000000000"]) == 2


@pytest.mark.parametrize("setting", ["bn=", "device=", "workers=", "backbone="])
def test_a_long_string_setting_is_quoted_short(setting, capsys):
    assert main(["run", "synthetic", "--strategy", "ft", "--set", setting + "x" * 100_000]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err) < 400 and len(err.splitlines()) == 1, err[:500]
