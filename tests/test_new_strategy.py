"""A strategy defined in this test file only reaches every part: its search space and grid in
specs, `lpft run`, the results dataset (its hyperparameter and per-step columns) and the analysis.
Adding a strategy is one file; nothing in lpft names it."""

from dataclasses import asdict, dataclass

import numpy as np
import pytest

from lpft.cli import main
from lpft.dataset import read_results, step_hparams, write_trial
from lpft.errors import require
from lpft.looks import Look
from lpft.models.features import cached_features
from lpft.results import COMPLETED, Evaluation, RunResult
from lpft.search_spaces import Param, hparam
from lpft.strategies import STRATEGIES, hparam_columns, strategy
from lpft.sweeps import parse_spec
from lpft.trial import run_trial

NAME = "centroid-test"
LOOK = Look("Centroid", colour="#AA3377", order=-1, shown="shrink")  # first in tables, its own colour
BENCH = {"eps": 0.1, "n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 100}


@dataclass(frozen=True)
class CentroidParams:
    seed: int = 0
    shrink_max: float = hparam(0.5, search=Param("float", 0.0, 1.0), grid=(0.0, 0.9))
    num_steps: int = 3

    def __post_init__(self) -> None:
        require(0 <= self.shrink_max <= 1, f"shrink_max must be in [0, 1], got {self.shrink_max}")


def centroid(benchmark, backbone, hp: CentroidParams, device="cpu", on_epoch=None, resume=None, workers=0):
    """Nearest class mean on frozen features, the means shrunk toward the global mean along a path."""
    feats = cached_features(backbone, benchmark, device=device, workers=workers)
    x, y = feats["id_train"], benchmark.train.y
    means = np.stack([x[y == c].mean(axis=0) for c in range(benchmark.num_classes)])
    evaluations, shrinks = [], np.linspace(0.0, hp.shrink_max, hp.num_steps)
    for step, shrink in enumerate(shrinks):
        m = (1 - shrink) * means + shrink * x.mean(axis=0)
        for name, split in benchmark.eval_sets.items():
            pred = np.argmin(((feats[name][:, None, :] - m[None]) ** 2).sum(-1), axis=1)
            evaluations.append(Evaluation(step, name, split.role, float((pred == split.y).mean())))
    return RunResult(COMPLETED, evaluations, asdict(hp),
                     step_hparams={i: {"shrink": float(s)} for i, s in enumerate(shrinks)})


@pytest.fixture
def registered():
    strategy(NAME, CentroidParams, "nearest class mean (a test's own strategy)", step_hparams={"shrink": float},
             look=LOOK)(centroid)
    yield STRATEGIES[NAME]
    STRATEGIES.unregister(NAME)  # other tests' files keep the built-in columns only


def test_space_and_grid_come_from_the_params(registered):
    assert registered.space == {"shrink_max": Param("float", 0.0, 1.0)}
    assert registered.grid == {"shrink_max": [0.0, 0.9]}
    spec = parse_spec({"name": "p", "benchmark": "synthetic", "strategies": {NAME: {"num_samples": 3}}})
    assert spec.strategies[NAME].space == registered.space and spec.strategies[NAME].num_samples == 3
    grid = parse_spec({"name": "p", "benchmark": "synthetic", "search": "grid", "strategies": {NAME: {}}})
    assert grid.strategies[NAME].grid == {"shrink_max": [0.0, 0.9]}


def test_lpft_run_uses_it_and_checks_its_params(registered, capsys):
    assert main(["run", "synthetic", "--strategy", NAME, "--set", "shrink_max=0.2", "--set", "n_train=200"]) == 0
    assert f"--strategy {NAME}" in capsys.readouterr().out
    assert main(["run", "synthetic", "--strategy", NAME, "--set", "shrink_max=3"]) == 2
    assert "shrink_max must be in [0, 1], got 3.0" in capsys.readouterr().err


def test_results_and_analysis_carry_it(registered, tmp_path):
    from lpft.analysis.report import analyze, write_report

    for k, (strategy_name, hp) in enumerate(((NAME, {"shrink_max": 0.0}), (NAME, {"shrink_max": 0.9}),
                                             ("lp", {"num_cs": 5}), ("ft", {"epochs": 4, "eval_every": 2}))):
        for seed in (0, 1):
            trial = run_trial("synthetic", strategy_name, {**BENCH, **hp, "seed": seed})
            trial_id = f"{strategy_name}-{k}-{seed}"  # a plain name, as a sweep's are (ft-003)
            rows = trial.result.rows(sweep="s", trial_id=trial_id, seed=seed, benchmark="synthetic", node="n")
            write_trial(tmp_path, strategy_name, trial_id, rows, hparam_columns())
    table = read_results([tmp_path])
    assert {"hp.shrink_max", "hp.shrink", "hp.num_steps"} <= set(table.column_names)
    per_step, _ = step_hparams(table.schema)
    assert per_step == {"hp.C", "hp.alpha", "hp.shrink", "hp.ingredients"}  # lp, wise, this, the soups
    report = analyze([tmp_path], baseline=NAME)
    mine = report.chosen[report.chosen.strategy == NAME]
    # one config, both seeds: the per-step shrink is not part of the config
    assert len(mine) == 2 and mine["config"].nunique() == 1
    assert NAME in report.tables["text"]
    # Shown as it declared (its results carry the look; the analysis never asks the registry):
    # first in the table (order -1, before LP's 0), named by its label, in its own colour.
    lines = report.tables["text"].splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = [line.split()[0] for line in lines[rule + 1:] if line.strip()]
    assert rows[:3] == [NAME, "lp", "ft"], report.tables["text"]
    assert "Centroid vs FT: " in report.sentence and "FT vs LP: " in report.sentence, report.sentence
    write_report(report, tmp_path / "report")
    svg = (tmp_path / "report" / "frontier_grid.svg").read_text().lower()
    assert "#aa3377" in svg and "#d55e00" in svg  # its colour, and FT's

