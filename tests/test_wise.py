"""WiSE: alpha = 0 is the linear probe, alpha = 1 the fine-tuned model, without retraining."""

import subprocess
import sys

import numpy as np
import pytest

from lpft.errors import InputError
from lpft.trial import run_trial

SYNTH = {"eps": 0.1}
DIGITS = {"n_train": 100, "n_val": 50, "n_test": 50, "n_ood": 30, "size": 32}


def check_endpoints(benchmark, params, ft_settings, model_path, num_cs):
    lp = run_trial(benchmark, "lp", {**params, "num_cs": num_cs}).result
    ft = run_trial(benchmark, "ft", {**params, **ft_settings}).result
    from lpft.models.saved import save_model

    save_model(ft.model, str(model_path))
    wise = run_trial(benchmark, "wise", {**params, "model": str(model_path), "num_cs": num_cs}).result
    alphas = sorted({e.step for e in wise.evaluations})
    assert len(alphas) == 11
    rows = wise.rows(sweep="s", trial_id="t", seed=0)
    assert sorted({r["hp.alpha"] for r in rows}) == pytest.approx(list(np.linspace(0, 1, 11)))
    last = max(e.step for e in ft.evaluations)
    for name, acc in lp.final.items():
        assert wise.accuracies(0)[name] == pytest.approx(acc, abs=1e-6), name
    for name, acc in ft.accuracies(last).items():
        assert wise.accuracies(10)[name] == pytest.approx(acc, abs=1e-6), name
    return lp, ft, wise


def test_wise_endpoints_on_synthetic(tmp_path):
    lp, ft, wise = check_endpoints("synthetic", SYNTH, {"epochs": 100, "lr": 0.5}, tmp_path / "ft.pt", 10)
    # Halfway, the interpolation already gains most of FT's ID accuracy over LP's.
    halfway, gain = wise.accuracies(5)["id_test"], ft.accuracies(100)["id_test"] - lp.final["id_test"]
    assert gain > 0.05 and halfway > lp.final["id_test"] + gain / 2


def test_wise_endpoints_with_batchnorm_on_digits(tmp_path):
    check_endpoints("digits", DIGITS, {"epochs": 1, "batch_size": 50, "lr": 0.01, "bn": "train"},
                    tmp_path / "ft.pt", 5)


def test_wise_refuses_a_missing_or_foreign_model(tmp_path):
    with pytest.raises(InputError, match="model file not found"):
        run_trial("synthetic", "wise", {**SYNTH, "model": str(tmp_path / "none.pt")})
    p = cli("run", "digits", "--strategy", "ft", "--save-model", tmp_path / "digits.pt",
            *[a for k, v in {**DIGITS, "epochs": 1}.items() for a in ("--set", f"{k}={v}")])
    assert p.returncode == 0 and (tmp_path / "digits.pt").is_file(), p.stderr[-2000:]
    with pytest.raises(InputError, match="is not a fine-tuned"):
        run_trial("synthetic", "wise", {**SYNTH, "model": str(tmp_path / "digits.pt"), "num_cs": 5})


def sweep_spec(tmp_path, name, strategies, **extra):
    import yaml

    spec = {"name": name, "benchmark": {"name": "synthetic", "eps": 0.1}, "strategies": strategies, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def lpft(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lpft.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


def cli(*args) -> subprocess.CompletedProcess:
    """A command that reads a finished sweep (wise, soup, analyze), run in this process: the same
    `main` as the `lpft` command without a new interpreter's ~4 s of imports. Sweeps, which start
    Ray clients and trial workers, run as commands of their own (`lpft`)."""
    import contextlib
    import io

    from lpft.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


FT = {"num_samples": 2, "epochs": 60, "eval_every": 20, "lr": {"low": 0.1, "high": 1.0, "log": True}}


def test_wise_and_soup_stages_run_after_their_sources_in_one_sweep(tmp_path, ray_cluster):
    import pandas as pd

    spec = sweep_spec(tmp_path, "ws", {"lp": {"num_cs": 10}, "ft": FT,
                                       "lpft": {**FT, "lr": {"low": 0.003, "high": 0.03, "log": True}},
                                       "wise": {"of": ["ft", "lpft"], "num_alphas": 5, "num_cs": 10},
                                       "soup-uniform": {"of": ["ft", "lpft"]}, "soup-greedy": {"of": ["lpft"]}})
    p = lpft("sweep", spec, "--storage", tmp_path, "--address", ray_cluster.address, env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    trials = pd.read_parquet(tmp_path / "ws" / "trials.parquet")
    wise = trials[trials.strategy == "wise"]
    assert len(wise) == 2 and set(wise.stage) == {"wise"} and set(wise.status) == {"completed"}
    best = {s: trials[(trials.strategy == s) & (trials.stage == "search")].sort_values("id_val").trial_id.iloc[-1]
            for s in ("ft", "lpft")}
    assert set(wise["hp.source_trial"]) == set(best.values())  # each source's best search trial
    df = pd.read_parquet(tmp_path / "ws" / "results")
    assert sorted(df[df.strategy == "wise"]["hp.alpha"].unique()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert len(list((tmp_path / "ws" / "models").glob("*.pt"))) == 4  # every ft and lpft search trial
    p = cli("analyze", tmp_path / "ws")
    assert p.returncode == 0 and "wise" in p.stdout, p.stderr[-2000:]
    assert "WiSE path" in (tmp_path / "ws" / "report" / "frontier_grid.svg").read_text()  # drawn as curves
    # The soups: one trial each, after every source trial, over the completed ones in asked order.
    soups = trials[trials.stage == "soup"].set_index("strategy")
    assert set(soups.index) == {"soup-uniform", "soup-greedy"} and set(soups.status) == {"completed"}
    assert soups.loc["soup-uniform", "hp.candidates"] == "ft-000,ft-001,lpft-000,lpft-001"
    assert soups.loc["soup-greedy", "hp.candidates"] == "lpft-000,lpft-001"
    held = df[df.strategy.str.startswith("soup")].groupby("strategy")["hp.ingredients"].unique()  # the results rows
    assert sorted(held["soup-uniform"][0].split(",")) == ["ft-000", "ft-001", "lpft-000", "lpft-001"]
    assert len(held["soup-greedy"]) == 1 and held["soup-greedy"][0].split(",")[0] in ("lpft-000", "lpft-001")
    assert "uniform soup" in p.stdout and "greedy soup" in p.stdout  # lpft analyze's tables
    # `lpft soup` on the finished sweep makes the same soups: the same rows, number for number.
    before = df[df.strategy.str.startswith("soup")].sort_values(["strategy", "eval_set"]).reset_index(drop=True)
    p = cli("soup", tmp_path / "ws")  # as the stages made them: their own `of`, BN setting and order
    assert p.returncode == 0 and "soup-uniform" in p.stdout and "4 of 4" in p.stdout, p.stderr[-2000:]
    after = pd.read_parquet(tmp_path / "ws" / "results")
    after = after[after.strategy.str.startswith("soup")].sort_values(["strategy", "eval_set"]).reset_index(drop=True)
    cols = ["strategy", "eval_set", "accuracy", "ece", "nll", "hp.candidates", "hp.ingredients", "seed_controls"]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    p = cli("soup", tmp_path / "ws", "--kind", "greedy", "--of", "ft")  # another soup than the stage's: refused
    assert p.returncode == 2 and "made its soup-greedy as a stage (of: lpft; bn_reestimate: true)" in p.stderr


def test_lpft_wise_on_a_finished_sweep(tmp_path, ray_cluster):
    import pandas as pd

    spec = sweep_spec(tmp_path, "later", {"lp": {"num_cs": 10}, "ft": FT}, save_models=True)
    assert lpft("sweep", spec, "--storage", tmp_path, "--address", ray_cluster.address,
                env=ray_cluster.env).returncode == 0
    p = cli("wise", tmp_path / "later", "--num-alphas", "3")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "alpha" in p.stdout and "1.00" in p.stdout
    df = pd.read_parquet(tmp_path / "later" / "results")
    assert sorted(df[df.strategy == "wise"]["hp.alpha"].unique()) == [0.0, 0.5, 1.0]
    assert cli("wise", tmp_path / "later" / "results", "--num-alphas", "2").returncode == 0  # its results folder
    # The same sweep as one run without save_models: its best FT trial has no model file (a copy of
    # the folder, not a second sweep: `lpft wise` reads the folder only).
    import shutil

    shutil.copytree(tmp_path / "later", tmp_path / "bare")
    for model in (tmp_path / "bare" / "models").glob("ft-*.pt"):
        model.unlink()
    p = cli("wise", tmp_path / "bare")
    assert p.returncode == 2 and "no saved model for ft's best trial" in p.stderr and "save_models: true" in p.stderr
    # `lpft soup` on a sweep without a soup stage: FT's models; a missing one left out, all missing refused
    p = cli("soup", tmp_path / "later", "--kind", "uniform")
    assert p.returncode == 0 and "2 of 2" in p.stdout, p.stderr[-2000:]
    assert cli("soup", tmp_path / "later", "--of", "lp").stderr.endswith(
        "--of: 'lp' is not a fine-tuning strategy of sweep later (it has ft, lp)\n")
    p = cli("soup", tmp_path / "bare")
    assert p.returncode == 2 and "left out ft-000: no saved model" in p.stderr and "save_models: true" in p.stderr
