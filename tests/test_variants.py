"""Fine-tuning variants: L2-SP, partial (top-k / surgical) fine-tuning, a separate head learning rate."""

import pytest
import torch

from lpft.data import load_benchmark
from lpft.errors import InputError
from lpft.models.backbone import build_backbone
from lpft.models.classifier import Classifier
from lpft.strategies import STRATEGIES
from lpft.strategies.ft import FTParams
from lpft.strategies.l2sp import L2SPParams
from lpft.strategies.partial import PartialParams, blocks
from lpft.strategies.sgd_params import SGDParams
from lpft.strategies.training import param_groups
from lpft.sweeps import parse_spec

FAST = {"epochs": 1, "batch_size": 50, "lr": 0.01, "wd": 1e-4, "bn": "train"}


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("digits", n_train=100, n_val=50, n_test=50, n_ood=30, size=32)


def run(bench, strategy, **hp):
    backbone = build_backbone("tf_efficientnet_lite0", "imagenet", bench)
    params = STRATEGIES[strategy].params(**{**FAST, **hp})
    return backbone, STRATEGIES[strategy].run(bench, backbone, params)


def test_l2sp_weight_zero_is_ft_and_a_large_weight_keeps_the_pretrained_backbone(bench):
    _, ft = run(bench, "ft")
    _, zero = run(bench, "l2sp", l2sp_weight=0.0)
    assert [e.accuracy for e in zero.evaluations] == [e.accuracy for e in ft.evaluations]
    for a, b in zip(zero.model.state_dict().values(), ft.model.state_dict().values()):
        assert torch.equal(a, b)
    pretrained = build_backbone("tf_efficientnet_lite0", "imagenet", bench).module.state_dict()
    _, pulled = run(bench, "l2sp", l2sp_weight=1e6)
    assert pulled.diagnostics["max_drift"] < 1e-3
    for name, p in pulled.model.backbone.named_parameters():
        assert (p.detach() - pretrained[name]).abs().max() < 1e-3, name
    assert zero.diagnostics["max_drift"] > 1e-3  # so the bound above is not vacuous


def test_ft_partial_leaves_frozen_blocks_bit_for_bit(bench):
    before = {k: v.clone() for k, v in build_backbone("tf_efficientnet_lite0", "imagenet", bench)
              .module.state_dict().items()}
    _backbone, result = run(bench, "ft-partial", train_blocks=2)
    parts = blocks(result.model.backbone)
    assert next(b.name for b in parts) == "stem" and parts[-1].name == "neck" and len(parts) == 9
    trained = {id(p) for b in parts[-2:] for p in b.parameters()}
    after = result.model.backbone.state_dict()
    names = dict(result.model.backbone.named_parameters())
    for name, p in names.items():
        same = torch.equal(after[name], before[name])
        assert same != (id(p) in trained), name  # frozen: identical; trained: moved
    frozen_modules = [m for b in parts[:-2] for m in b.modules]
    buffers = {id(t) for m in frozen_modules for t in m.buffers()}
    for name, t in result.model.backbone.named_buffers():
        if id(t) in buffers:
            assert torch.equal(t, before[name]), name  # BatchNorm statistics of frozen blocks too
    _, surgical = run(bench, "ft-partial", block=0)
    assert surgical.diagnostics["trained_blocks"] == "stem"
    with pytest.raises(InputError, match="has 9 blocks"):
        run(bench, "ft-partial", block=9)


def test_blocks_of_other_architectures():
    import timm

    vit = timm.create_model("test_vit", num_classes=0)
    parts = blocks(vit)
    assert parts[0].name == "stem" and any(p is vit.cls_token for p in parts[0].params)
    assert sum(len(b.parameters()) for b in parts) == len(list(vit.parameters()))
    resnet = timm.create_model("resnet18", num_classes=0)
    assert [b.name for b in blocks(resnet)] == ["stem", "layer1", "layer2", "layer3", "layer4"]


def test_head_learning_rate_multiplier_and_searchable_bn(bench):
    backbone = build_backbone("tf_efficientnet_lite0", "imagenet", bench)
    model = Classifier.for_backbone(backbone, 10)
    groups = param_groups(model, FTParams(lr=0.01, head_lr_mult=10.0))
    assert [g["lr"] for g in groups] == [0.01, pytest.approx(0.1)]
    assert groups[1]["params"] == list(model.head.parameters())
    _, one = run(bench, "ft")
    _, ten = run(bench, "ft", head_lr_mult=10.0)
    assert one.model.head.weight.data.ne(ten.model.head.weight.data).any()
    spec = parse_spec({"name": "v", "benchmark": "digits", "strategies": {
        "ft": {"bn": {"choices": ["train", "eval"]}, "head_lr_mult": {"low": 1, "high": 100, "log": True}},
        "lpft": {"bn": {"choices": ["train", "eval"]}},
        "l2sp": {}, "ft-partial": {"train_blocks": {"choices": [1, 3]}}}})
    assert spec.strategies["ft"].space["bn"].choices == ("train", "eval")
    assert spec.strategies["ft"].space["head_lr_mult"].log
    assert spec.strategies["l2sp"].space["l2sp_weight"].log  # default space: lr and the weight
    assert isinstance(L2SPParams(), SGDParams) and isinstance(PartialParams(), SGDParams)


def test_new_strategies_reach_the_tables_and_plots_unchanged(tmp_path, ray_cluster):
    import subprocess
    import sys

    import yaml

    spec = {"name": "variants", "benchmark": {"name": "synthetic", "eps": 0.1},
            "strategies": {"lp": {"num_cs": 10},
                           "ft": {"epochs": 60, "eval_every": 20, "lr": 0.5},
                           "l2sp": {"epochs": 60, "eval_every": 20, "lr": 0.5, "l2sp_weight": 0.3},
                           "ft-partial": {"epochs": 60, "eval_every": 20, "lr": 0.5, "train_blocks": 0}}}
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(spec))
    p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(tmp_path / "v.yaml"), "--storage",
                        str(tmp_path), "--address", ray_cluster.address], capture_output=True, text=True, timeout=600,
                       env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    p = subprocess.run([sys.executable, "-m", "lpft.cli", "analyze", str(tmp_path / "variants")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = {line.split()[0] for line in p.stdout.splitlines() if line.split()}
    assert {"lp", "ft", "l2sp", "ft-partial"} <= rows
    # Each variant's numbers in table.csv are what the rows say (tests/oracle.py, pandas alone).
    import pandas as pd
    import pyarrow.dataset as ds
    from oracle import selected, table_means

    written = ds.dataset(tmp_path / "variants" / "results", format="parquet", partitioning="hive")
    chosen = selected(written.to_table().to_pandas())
    means = table_means(pd.read_csv(tmp_path / "variants" / "report" / "table.csv"))
    assert set(chosen) == {"lp", "ft", "l2sp", "ft-partial"}
    for strategy, trials in chosen.items():
        for column in ("id_test", "ood_avg"):
            assert means[strategy, column] == pytest.approx(trials[column].mean(), abs=1e-12), (strategy, column)
    svg = (tmp_path / "variants" / "report" / "frontier_grid.svg").read_text()
    assert "L2-SP" in svg and "partial FT" in svg  # in the plot's legend, by their labels
