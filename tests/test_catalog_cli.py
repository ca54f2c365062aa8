"""A command line that teaches itself (issue 29, item 2): `lpft list`, `lpft show`, help on every
argument, a description of what lpft does, and no traceback when a pager or `head` leaves."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lpft.cli import build_parser, main
from lpft.data import BENCHMARKS
from lpft.strategies import STRATEGIES
from lpft.strategies.ft import FTParams
from lpft.sweeps.files import builtin_specs


def parsers(parser: argparse.ArgumentParser, path: str = "lpft"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def test_every_argument_of_every_command_says_what_it_is():
    missing = [f"{path} {a.dest}" for path, p in parsers(build_parser()) for a in p._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not (a.help or "").strip()]
    assert missing == []
    top = build_parser()
    assert "transfer-learning" in top.description and "lpft list" in top.epilog


@pytest.mark.parametrize("kind", ["benchmarks", "strategies", "backbones", "specs"])
def test_list_names_everything_registered_with_a_description(kind, capsys):
    assert main(["list", kind]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    listed = {ln.split()[0]: ln.split(None, 1)[1] for ln in lines}
    want = {"benchmarks": BENCHMARKS.names(), "strategies": STRATEGIES.names(), "specs": list(builtin_specs()),
            "backbones": ["linear", "resnet50", "<any"]}[kind]
    assert set(want) <= set(listed)
    assert all(len(about) > 10 for about in listed.values())


def test_list_all_and_sweep_list_give_whole_sentences(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(f"{k}:" in out for k in ("benchmarks", "strategies", "backbones", "specs"))
    assert main(["sweep", "--list"]) == 0
    specs = {ln.split()[0]: ln.split(None, 1)[1] for ln in capsys.readouterr().out.splitlines()[2:]}
    # digits' first comment line ends in a comma: the sentence goes on to its full stop
    assert specs["digits"].endswith("on two more seeds.") and specs["digits-quick"].endswith("on 2 cores.")


def test_show_a_strategy_gives_each_key_its_default_and_search_range(capsys):
    assert main(["show", "ft"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines()[4:]}
    for f in dataclasses.fields(FTParams):
        assert rows[f.name][1] == str(f.default)
    assert "3e-05 .. 0.01 (log)" in out and "0.0003" in out  # lr: Optuna's range and the paper's grid


def test_show_a_spec_prints_the_packaged_file_to_copy(capsys):
    from lpft.spec_cli import schema_path
    from lpft.sweeps.spec_schema import MODELINE

    assert main(["show", "living17"]) == 0
    captured = capsys.readouterr()
    packaged = builtin_specs()["living17"].read_text().splitlines()
    shown = captured.out.splitlines()
    assert shown[1:] == packaged[1:]  # the file as packaged, but its schema line: a copy keeps its editor checks
    assert shown[0] == MODELINE + schema_path().as_uri() and Path(schema_path()).is_file()
    assert "also a benchmark" in captured.err  # one name, two things: the other is one flag away
    assert main(["show", "--kind", "benchmark", "living17"]) == 0
    assert "image_size" in capsys.readouterr().out


def test_show_an_unknown_name_is_one_line(capsys):
    assert main(["show", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lpft list" in err[0]


def test_a_reader_that_leaves_early_gets_no_traceback():
    lpft = Path(sys.executable).with_name("lpft")
    proc = subprocess.Popen([str(lpft), "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    proc.stdout.close()  # before it writes: its first write finds no reader
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err, err


def test_init_for_an_image_folder_points_the_spec_at_it(tmp_path, monkeypatch, capsys):
    from image_folders import write_tree

    from lpft.sweeps.files import load_spec

    write_tree(tmp_path / "photos", per_class=4)
    (tmp_path / "specs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["init", "specs/mine.yaml", "--root", "photos"]) == 0
    spec = load_spec("specs/mine.yaml")  # the root relative to the spec's folder: found from anywhere
    assert spec.benchmark == "imagefolder" and spec.benchmark_params["root"] == str(tmp_path / "photos")
    assert main(["init", "other.yaml", "--root", "nowhere"]) == 2
    assert capsys.readouterr().err.strip() == "lpft: error: --root nowhere: no such folder"


def test_inits_spec_runs_and_the_sweep_says_what_next(tmp_path, ray_cluster):
    """The starter spec as written (synthetic), through `lpft sweep`, to its last line."""
    lpft = [sys.executable, "-m", "lpft.cli"]
    assert subprocess.run([*lpft, "init", str(tmp_path / "first.yaml")], capture_output=True).returncode == 0
    p = subprocess.run([*lpft, "sweep", str(tmp_path / "first.yaml"), "--storage", str(tmp_path / "runs"),
                        "--address", ray_cluster.address], capture_output=True, text=True, timeout=600,
                       env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith(f"next: lpft analyze {tmp_path / 'runs' / 'first'}"), last
