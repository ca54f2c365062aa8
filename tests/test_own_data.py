"""Your own data and backbone, as the README's section runs them: relative paths in a spec are
its folder's, wherever lpft runs from; a sweep whose trials fail says so and exits non-zero."""

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from image_folders import write_tree


def lpft(*args, cwd, timeout=600, cluster=None):
    """`lpft ARGS` in `cwd`; a sweep on `cluster` (tests/conftest.py's ray_cluster) when given."""
    on = ("--address", cluster.address) if cluster else ()
    return subprocess.run([sys.executable, "-m", "lpft.cli", *map(str, args), *on], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=cluster.env if cluster else None)


def test_a_spec_with_relative_paths_runs_from_another_directory(tmp_path, ray_cluster):
    import timm
    import torch

    project = tmp_path / "project"
    write_tree(project / "data" / "myshift", per_class=8)
    torch.save(timm.create_model("test_resnet", num_classes=0).state_dict(), project / "tiny.pth")
    (project / "spec.yaml").write_text(yaml.safe_dump({
        "name": "mine", "benchmark": {"name": "imagefolder", "root": "data/myshift", "image_size": 32},
        "backbone": {"name": "test_resnet", "weights": "tiny.pth"},
        "strategies": {"lp": {"num_cs": 4}, "ft": {"num_samples": 1, "epochs": 1, "batch_size": 16}},
        "storage": "runs", "feature_cache": "cache"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = lpft("sweep", "../project/spec.yaml", cwd=elsewhere, cluster=ray_cluster)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    sweep = project / "runs" / "mine"
    trials = pq.read_table(sweep / "trials.parquet").to_pandas()
    assert set(trials.status) == {"completed"} and len(trials) == 2
    saved = yaml.safe_load((sweep / "spec.yaml").read_text())  # what the trials used: absolute paths
    assert saved["benchmark"]["root"] == str(project / "data" / "myshift")
    assert saved["backbone"]["weights"] == str(project / "tiny.pth")
    assert saved["storage"] == str(project / "runs") and saved["feature_cache"] == str(project / "cache")
    assert any((project / "cache" / "features").glob("*.npz"))  # the trials used the spec's cache
    assert "OOD set night covers 2 of 3 classes" in p.stdout
    assert not (elsewhere / "runs").exists()


def test_a_sweep_whose_trials_all_fail_exits_non_zero_and_names_the_error(tmp_path, ray_cluster):
    (tmp_path / "boom.py").write_text(
        "from dataclasses import dataclass\nfrom lpft.strategies import strategy\n\n"
        "@dataclass(frozen=True)\nclass BoomParams:\n    seed: int = 0\n\n"
        "@strategy('boom', BoomParams, 'always fails')\n"
        "def boom(benchmark, backbone, hp, device='cpu', on_epoch=None, resume=None, workers=0):\n"
        "    raise RuntimeError('the boom strategy failed\\nsecond line')\n")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({
        "name": "fails", "benchmark": {"name": "synthetic", "n_train": 200}, "imports": ["boom"],
        "strategies": {"boom": {"num_samples": 2}}, "max_failures": 0, "storage": "out"}))
    p = lpft("sweep", "spec.yaml", cwd=tmp_path, cluster=ray_cluster)
    assert p.returncode == 1, (p.stdout[-2000:], p.stderr[-2000:])
    assert "2 of 2 trials ended in error" in p.stdout
    # each trial's first error line twice: as it ends, and in the summary; never the rest of it
    assert p.stdout.count("RuntimeError: the boom strategy failed") == 4 and "second line" not in p.stdout
    assert "Traceback" not in p.stderr  # the tracebacks are in the files the summary names
    trials = pq.read_table(tmp_path / "out" / "fails" / "trials.parquet").to_pandas()
    assert set(trials.status) == {"error"} and set(trials.error) == {"RuntimeError: the boom strategy failed"}
    assert all(Path(t).is_file() and "the boom strategy failed" in Path(t).read_text() for t in trials.traceback)
    lines = p.stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("strategy") and "diverged" in ln)
    table = lines[header + 2]  # the summary's boom row
    assert table.split()[:4] == ["boom", "2", "0", "2"]


FACTORY = '''import torch
from torch import nn
from lpft.models import Extractor


def tiny(weights="none"):
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Extractor(net, 8, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), input_size=40)


def wrong():
    return 3


def broken(weights="none"):
    raise FileNotFoundError("no checkpoint at " + weights)
'''


def test_a_backbone_factory_beside_the_spec_runs_in_a_sweep(tmp_path, ray_cluster):
    write_tree(tmp_path / "data", per_class=6)
    (tmp_path / "mymodels.py").write_text(FACTORY)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({
        "name": "fac", "benchmark": {"name": "imagefolder", "root": "data", "image_size": 32},
        "backbone": {"name": "mymodels:tiny"},
        "strategies": {"lp": {"num_cs": 3}, "ft": {"num_samples": 1, "epochs": 1, "batch_size": 16}},
        "storage": "out"}))
    p = lpft("sweep", tmp_path / "spec.yaml", cwd=tmp_path.parent, cluster=ray_cluster)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-3000:])
    trials = pq.read_table(tmp_path / "out" / "fac" / "trials.parquet").to_pandas()
    assert set(trials.status) == {"completed"}


def test_bad_factories_are_one_line(tmp_path, monkeypatch, capsys):
    from lpft.cli import main

    write_tree(tmp_path / "data", per_class=2, val=False, test=False)
    (tmp_path / "mymodels.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    cases = {"mymodels:wrong": "wrong() returned int; expected lpft.models.Extractor",
             "mymodels:nope": "module 'mymodels' has no callable 'nope'",
             "nomodule:tiny": "imports: no module named 'nomodule'",
             "mymodels:broken": "broken() raised FileNotFoundError: no checkpoint at none"}
    for backbone, message in cases.items():
        code = main(["run", "imagefolder", "--strategy", "lp", "--set", "root=data", "--set", f"backbone={backbone}",
                     "--set", "n_val=1", "--set", "n_test=1"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1, (backbone, err)
