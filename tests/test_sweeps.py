"""`lpft sweep` on a real local Ray instance: the dataset, divergence, SIGKILL + resume, bad specs."""

import itertools
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import half_up

from lpft.dataset import REQUIRED
from lpft.errors import InputError
from lpft.sweeps import builtin_specs, load_spec, parse_spec


def small_spec(name, **overrides):
    spec = {
        "name": name,
        "benchmark": {"name": "synthetic", "eps": 0.1},
        "strategies": {
            "lp": {"num_cs": 20},
            "ft": {"num_samples": 2, "epochs": 60, "eval_every": 20, "lr": {"low": 0.1, "high": 1.0, "log": True}},
            "lpft": {"num_samples": 2, "epochs": 60, "eval_every": 20, "lr": {"low": 0.003, "high": 0.03, "log": True}},
        },
        "max_concurrent": 2,
    }
    spec.update(overrides)
    return spec


def write_spec(tmp_path, spec):
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def sweep(*args, timeout=600, **kwargs):
    return subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def read_results(root: Path) -> pd.DataFrame:
    return ds.dataset(root / "results", format="parquet", partitioning="hive").to_table().to_pandas()


def test_synthetic_sweep_dataset(tmp_path, ray_cluster):
    # A umask of 027 (the driver's here, the cluster's trial workers' in tests/conftest.py): every
    # file lpft writes must be 0640 (not mkstemp's 0600, not a fixed 0644).
    p = sweep(write_spec(tmp_path, small_spec("s1", seeds=[0, 7], replicate=1)), "--storage", tmp_path,
              "--progress-every", 1, "--address", ray_cluster.address, env=ray_cluster.env,
              preexec_fn=lambda: os.umask(0o027))
    assert p.returncode == 0, p.stderr[-3000:]
    df = read_results(tmp_path / "s1")
    assert set(REQUIRED.names) <= set(df.columns)
    assert set(df.strategy) == {"lp", "ft", "lpft"}
    # search, then FT's and LP-FT's best on one more seed; LP's seed changes nothing on fixed features
    assert df.trial_id.nunique() == 5 + 2
    assert set(df[df.strategy == "lp"].seed_controls) == {""} and set(df[df.strategy == "ft"].seed_controls) == \
        {"head init, data order, augmentation"}
    assert not df.duplicated(["trial_id", "step", "eval_set"]).any()
    assert set(df.role) == {"id_val", "id_test", "ood"}
    correct = df.accuracy * df.n_examples  # an accuracy is k of its n examples right
    assert ((correct - correct.round()).abs() < 1e-6).all() and correct.round().between(0, df.n_examples).all()
    assert pd.api.types.is_integer_dtype(df.step) and pd.api.types.is_float_dtype(df.accuracy)
    trials = pq.read_table(tmp_path / "s1" / "trials.parquet").to_pandas()
    assert set(trials.status) == {"completed"} and len(trials) == 7 and trials.node.notna().all()
    search, replicate = trials[trials.stage == "search"], trials[trials.stage == "replicate"]
    assert set(search.seed) == {0} and set(replicate.seed) == {7} and set(replicate.strategy) == {"ft", "lpft"}
    # Best-by-ID-val FT loses out of distribution to the best LP on good features.
    best = search.sort_values("id_val").groupby("strategy").tail(1).set_index("strategy")
    assert replicate.set_index("strategy").loc["ft", "hp.lr"] == best.loc["ft", "hp.lr"]
    assert best.loc["ft", "ood_avg"] < best.loc["lp", "ood_avg"]
    assert "best hp" in p.stdout  # the per-strategy table (its numbers: below)
    # The progress view (stdout is a pipe: plain lines, at most one a second), ending on the trials table's counts.
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("progress |")]
    elapsed = [int(m[0]) * 60 + int(m[1]) for m in (re.search(r"elapsed (\d+):(\d\d)", ln).groups() for ln in lines)]
    assert len(lines) >= 3 and all(b - a >= 1 for a, b in itertools.pairwise(elapsed[:-1]))  # the last: at the end
    assert lines[-1].endswith("done")
    # One number in every view: the selected config, recomputed here from trials.parquet (best mean
    # ID val on the seed every config ran, here the search seed 0; then its mean over its seeds),
    # is what the live line, the summary, the analysis table, the HTML and the Optuna study say.
    from printed import summary_cells

    summary = {s: summary_cells(p.stdout, s) for s in ("lp", "ft", "lpft")}
    selected = {}
    for strategy, group in trials.groupby("strategy"):
        assert f"{strategy} {len(group)}/{len(group)}" in lines[-1]
        config = group["hp.lr"].fillna(-1)
        on_seed0 = group[group.seed == 0].assign(config=config).groupby("config").id_val.mean()
        runs = group[config == on_seed0.idxmax()]
        assert len(on_seed0[on_seed0 == on_seed0.max()]) == 1, "a tie: this check would need lpft's tie rule"
        means = {k: half_up(runs[k].mean()) for k in ("id_val", "id_test", "ood_avg")}
        selected[strategy] = (runs, means)
        assert f"{strategy} {len(group)}/{len(group)} selected id_val {means['id_val']} ood {means['ood_avg']}" \
            in lines[-1]
        seeds = "1 (deterministic)" if strategy == "lp" else str(len(runs))
        assert summary[strategy][5:] == [means["id_val"], means["id_test"], means["ood_avg"], seeds]
    # Readable without lpft: pandas, polars and DuckDB straight from the folder.
    import duckdb
    import polars as pl

    folder = tmp_path / "s1" / "results"
    assert len(pd.read_parquet(folder)) == len(df)
    assert pl.read_parquet(folder / "*" / "*.parquet", hive_partitioning=True)["strategy"].n_unique() == 3
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*/*.parquet', hive_partitioning=true) "
                   "WHERE strategy = 'ft'").fetchall()[0][0]
    assert n == (df.strategy == "ft").sum()
    # The Optuna studies, for optuna-dashboard.
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "s1" / "optuna.journal")))
    study = optuna.load_study(study_name="s1.ft", storage=storage)
    assert len(study.trials) == 2 and study.best_trial.params["lr"] == pytest.approx(best.loc["ft", "hp.lr"])
    for strategy in ("ft", "lpft"):
        marked = optuna.load_study(study_name=f"s1.{strategy}", storage=storage).user_attrs["lpft_selected"]
        runs, means = selected[strategy]
        assert marked["params"]["lr"] == pytest.approx(runs["hp.lr"].iloc[0])
        assert half_up(marked["id_val"]) == means["id_val"] and sorted(marked["seeds"]) == sorted(runs.seed)


    # And lpft analyze turns it into the tables and frontier points.
    a = subprocess.run([sys.executable, "-m", "lpft.cli", "analyze", str(tmp_path / "s1"), "--format", "md"],
                       capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(0o027))
    assert a.returncode == 0, a.stderr[-3000:]
    assert "| FT | 2 |" in a.stdout and "FT vs LP:" in a.stdout and "effective robustness" in a.stdout
    report = tmp_path / "s1" / "report"
    table = pd.read_csv(report / "table.csv").set_index("strategy")
    html = (report / "report.html").read_text()
    from scipy import stats

    for strategy, (runs, means) in selected.items():
        if len(runs) > 1 and runs.id_test.nunique() > 1:  # the t-interval, from trials.parquet's rows
            lo, hi = stats.t.interval(0.9, len(runs) - 1, loc=runs.id_test.mean(), scale=stats.sem(runs.id_test))
            assert table.loc[strategy, "id_test_ci90_t"] == pytest.approx((hi - lo) / 2)
        assert half_up(table.loc[strategy, "id_test_mean"]) == means["id_test"]
        assert half_up(table.loc[strategy, "ood_avg_mean"]) == means["ood_avg"]
        assert table.loc[strategy, "seeds"] == len(runs)
        # the results table's cell (bold where best): each strategy's row, not only robustness's
        assert re.search(rf"<td(?: class=\"best\")?>{re.escape(str(means['ood_avg']))}\b", html), strategy
    assert "± 0.0" not in (report / "table.txt").read_text() and "(deterministic)" in (report / "table.txt").read_text()
    for name in ("table.txt", "table.md", "table.tex"):  # every format shows every selected mean
        text = (report / name).read_text()
        assert all(means["ood_avg"] in text and means["id_test"] in text for _, means in selected.values()), name
    frontier = pd.read_csv(report / "frontier.csv")
    assert len(frontier) == df.groupby(["trial_id", "step"]).ngroups
    # The flags by brute force over the file's own points: not dominated by any other (equal points: one kept).
    xy = list(zip(frontier.id_test, frontier.ood_avg))
    front = {p for p in xy if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in xy)}
    flagged = [p for p, f in zip(xy, frontier["frontier.ood_avg"]) if f]
    assert sorted(flagged) == sorted(front)
    # Shareable: what lpft wrote (all but Ray's own experiment folder) has the umask's mode.
    written = [f for f in (tmp_path / "s1").rglob("*") if f.is_file() and "ray" not in f.relative_to(tmp_path).parts]
    modes = {str(f.relative_to(tmp_path)): oct(f.stat().st_mode & 0o777) for f in written}
    assert len(written) > 20 and set(modes.values()) == {"0o640"}, modes


def test_diverging_trial_is_recorded_and_the_sweep_completes(finished):
    """One sweep for two checks: FT at lr 1e12 diverges (recorded, the sweep goes on), and a grid
    search runs LP-FT's two grid points once each."""
    storage, _ = finished
    trials = pq.read_table(storage / "s2" / "trials.parquet").to_pandas()
    assert list(trials[trials.strategy == "ft"].status) == ["diverged"]
    lpft = trials[trials.strategy == "lpft"]
    assert sorted(lpft["hp.lr"]) == [0.003, 0.01] and set(lpft.status) == {"completed"}


def test_asha_stops_within_a_strategy_and_the_sweep_completes(tmp_path, ray_cluster):
    strategies = {"lp": {"num_cs": 10},
                  "ft": {"num_samples": 4, "epochs": 60, "eval_every": 10,
                         "lr": {"low": 0.001, "high": 1.0, "log": True}}}
    p = sweep(write_spec(tmp_path, small_spec("s5", strategies=strategies, scheduler="asha", max_concurrent=4)),
              "--storage", tmp_path, "--address", ray_cluster.address, env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    trials = pq.read_table(tmp_path / "s5" / "trials.parquet").to_pandas()
    assert len(trials) == 5 and set(trials.status) <= {"completed", "stopped"}
    assert trials.set_index("strategy").loc["lp", "status"] == "completed"  # never cut against FT's rungs
    df = read_results(tmp_path / "s5")
    assert set(df.trial_id) == set(trials.trial_id)  # stopped trials keep the epochs they ran
    # ... and their full hyperparameters, defaults included, like completed ones.
    stopped = df[df.trial_id.isin(trials[trials.status == "stopped"].trial_id)]
    assert len(stopped) and stopped[["hp.lr", "hp.momentum", "hp.wd", "hp.batch_size", "hp.epochs"]].notna().all().all()


@pytest.fixture(scope="module")
def finished(tmp_path_factory, ray_cluster):
    """One finished sweep, shared by the test of what it recorded and the tests that run commands
    against it and are refused before any trial (they change nothing): FT at lr 1e12, which
    diverges, and a grid of LP-FT's two learning rates."""
    tmp_path = tmp_path_factory.mktemp("finished")
    raw = small_spec("s2", search="grid", strategies={"ft": {"num_samples": 1, "epochs": 20, "lr": 1.0e12},
                                                      "lpft": {"epochs": 20, "lr": {"choices": [0.003, 0.01]}}})
    p = sweep(write_spec(tmp_path, raw), "--storage", tmp_path, "--address", ray_cluster.address, env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    return tmp_path, raw


def test_rerun_without_resume_refuses_to_mix_results(finished):
    tmp_path, raw = finished
    p = sweep(write_spec(tmp_path, raw), "--storage", tmp_path)
    assert p.returncode == 2 and "--resume" in p.stderr.strip().splitlines()[-1]


def test_resume_removes_the_checkpoints_an_ended_trial_left(finished, ray_cluster):
    """A kill between the ledger's record of a trial's end and the removal of its checkpoints
    (the kill matrix's 'after a trial' instant, on a slow machine) left them for good: the
    trial is never resumed, so nothing else removed them."""
    storage, raw = finished
    trials = pq.read_table(storage / "s2" / "trials.parquet").to_pandas()
    left = storage / "s2" / "checkpoints" / trials.trial_id.iloc[0]
    left.mkdir(parents=True)
    (left / "step-000020.pt").write_bytes(b"a checkpoint")
    p = sweep(write_spec(storage, raw), "--storage", storage, "--resume", "--address", ray_cluster.address,
              env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert not left.exists() and f"== s2: {len(trials)} trials" in p.stdout, p.stdout  # nothing run again
    again = pq.read_table(storage / "s2" / "trials.parquet").to_pandas()
    assert again[["trial_id", "status"]].equals(trials[["trial_id", "status"]])


PAPER_SPECS = ("living17", "entity30", "cifar10-stl", "domainnet", "fmow", "imagenet")


def test_builtin_specs_validate_and_list():
    names = set(builtin_specs())
    assert {"synthetic", "digits-quick", "digits", *PAPER_SPECS} <= names
    for name in names:
        assert load_spec(name).name == name
    for name in PAPER_SPECS:  # the paper's setup: its grids, GPUs, 3 more seeds
        spec = load_spec(name)
        assert spec.search == "grid" and spec.gpu == 1 and spec.replicate == 3 and spec.benchmark == name
        assert spec.strategies["ft"].grid["lr"] and spec.strategies["lpft"].grid["lr"]
    p = sweep("--list")
    assert p.returncode == 0 and all(n in p.stdout for n in names)


def test_paper_spec_without_its_files_is_exit_2_before_ray_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LPFT_WEIGHTS", "LPFT_DATA")}
    p = sweep("living17", "--storage", tmp_path, timeout=60, env=env)
    assert p.returncode == 2 and "backbone.weights" in p.stderr and "LPFT_WEIGHTS" in p.stderr
    (tmp_path / "moco_v2_800ep_pretrain.pth.tar").write_bytes(b"")
    p = sweep("living17", "--storage", tmp_path, timeout=60, env={**env, "LPFT_WEIGHTS": str(tmp_path)})
    assert p.returncode == 2 and p.stderr.strip().endswith("living17: set root=PATH (the folder holding "
                                                           "imagenet's files) or LPFT_DATA")
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "living17").exists() and p.stdout == ""


def test_paper_benchmark_sweep_end_to_end_on_its_fixture(tmp_path, ray_cluster):
    from paper_data import write_domainnet

    write_domainnet(tmp_path / "domainnet")
    spec = {
        "name": "dn",
        "benchmark": {"name": "domainnet", "root": str(tmp_path / "domainnet"), "n_val": 2, "image_size": 32},
        "backbone": {"name": "test_resnet", "weights": "none"},
        "strategies": {"lp": {"num_cs": 4},
                       "ft": {"epochs": 2, "batch_size": 8, "lr": 0.01},
                       "lpft": {"epochs": 2, "batch_size": 8, "lr": 0.001}},
        "max_concurrent": 2,
    }
    p = sweep(write_spec(tmp_path, spec), "--storage", tmp_path, "--address", ray_cluster.address, env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    df = read_results(tmp_path / "dn")
    assert set(df.strategy) == {"lp", "ft", "lpft"}
    assert set(df.eval_set) == {"id_val", "id_test", "real", "painting", "clipart"}
    assert set(df[df.role == "ood"].eval_set) == {"real", "painting", "clipart"}
    assert df.groupby("strategy").step.max().to_dict() == {"lp": 3, "ft": 2, "lpft": 2}


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"strategies": {"sgd": {}}}, "strategies.sgd: unknown strategy"),
        ({"strategies": {"ft": {"lr": {"low": -1.0, "high": 1.0, "log": True}}}}, "strategies.ft.lr.low must be > 0"),
        ({"strategies": {"ft": {"lr": {"low": 1.0, "high": 0.1}}}}, "strategies.ft.lr.high must be >= low"),
        ({"strategies": {"ft": {"lrr": 0.1}}}, "strategies.ft.lrr: unknown hyperparameter"),
        ({"benchmark": None}, "benchmark is missing"),
        ({"benchmark": {"name": "cifar"}}, "benchmark.name: unknown benchmark"),
        ({"benchmark": {"name": "synthetic", "eps": -1}}, "benchmark.eps"),
        ({"scheduler": "asha", "metric": ["id_val", "ood_avg"]}, "scheduler: asha"),
        ({"resources": {"cpu": 0}}, "resources.cpu must be > 0"),
        ({"colour": "blue"}, "colour: unknown spec field"),
    ],
)
def test_bad_spec_fields_are_named(change, needle):
    raw = small_spec("bad")
    raw.update(change)
    if raw["benchmark"] is None:
        del raw["benchmark"]
    with pytest.raises(InputError) as err:
        parse_spec(raw)
    assert needle in str(err.value)


def test_bad_spec_is_exit_2_before_ray_starts(tmp_path):
    raw = small_spec("bad", scheduler="asha", metric=["id_val", "ood_avg"])
    p = sweep(write_spec(tmp_path, raw), "--storage", tmp_path, timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [p.stderr.strip().splitlines()[-1]] and "asha" in p.stderr
    assert not (tmp_path / "bad").exists()


def test_resume_with_another_spec_is_refused_and_keeps_the_sweeps_spec(finished, tmp_path):
    storage, raw = finished
    raw = {**raw, "benchmark": dict(raw["benchmark"]), "strategies": dict(raw["strategies"])}
    kept = (storage / "s2" / "spec.yaml").read_text()
    raw["benchmark"]["eps"] = 1.0
    raw["strategies"]["lp"] = {"num_cs": 3}
    p = sweep(write_spec(tmp_path, raw), "--storage", storage, "--resume", timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and p.stdout == "", (p.stdout, p.stderr)
    assert "was started with another spec (benchmark.eps: 0.1 -> 1.0; strategies.lp: (none) -> {" in p.stderr
    assert (storage / "s2" / "spec.yaml").read_text() == kept  # the sweep's own spec is untouched


def test_while_a_local_sweep_runs_its_dashboard_serves_and_its_optuna_journal_is_live(tmp_path):
    """One sweep for both: the Ray dashboard answers mid-sweep, and the Optuna journal shows what
    optuna-dashboard shows mid-sweep (ended trials, their steps, their OOD accuracy)."""
    import threading
    import urllib.request

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    strategies = {"ft": {"num_samples": 2, "epochs": 3000, "eval_every": 300, "lr": {"low": 0.1, "high": 1.0}}}
    path = write_spec(tmp_path, small_spec("live", strategies=strategies, max_concurrent=1))
    proc = subprocess.Popen([sys.executable, "-m", "lpft.cli", "sweep", str(path), "--storage", str(tmp_path),
                             "--dashboard"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in proc.stdout:  # the address comes before any trial
            if "Ray dashboard: " in line:
                url = line.split("Ray dashboard: ", 1)[1].split()[0]
                break
        rest = threading.Thread(target=proc.stdout.read, daemon=True)  # a full pipe would stop the sweep
        rest.start()
        assert url and url.startswith("http://127.0.0.1:"), url
        # Ray turns token authentication on when this machine has a token (~/.ray/auth_token).
        token = Path.home() / ".ray" / "auth_token"
        headers = {"Authorization": f"Bearer {token.read_text().strip()}"} if token.exists() else {}
        request = urllib.request.Request(f"{url}/api/version", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as r:  # it answers mid-sweep
            assert r.status == 200 and "ray_version" in r.read().decode()
        assert proc.poll() is None

        journal, seen = tmp_path / "live" / "optuna.journal", None
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and seen is None:
            time.sleep(0.5)
            if not journal.exists():
                continue
            storage = JournalStorage(JournalFileBackend(str(journal)))
            try:
                study = optuna.load_study(study_name="live.ft", storage=storage)
            except KeyError:  # not created yet
                continue
            done = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
            if done:
                seen, running = done[0], proc.poll() is None
        assert seen is not None, "no trial was seen complete in the journal"
        assert running  # seen before the sweep ended
        assert sorted(seen.intermediate_values) == list(range(300, 3001, 300))  # ID val at each evaluated epoch
        assert seen.user_attrs["trial_id"].startswith("ft-") and seen.user_attrs["status"] == "completed"
        assert 0 < seen.user_attrs["ood_avg"] < 1 and seen.datetime_complete > seen.datetime_start
        assert study.metric_names == ["id_val"]
        assert proc.wait(timeout=300) == 0, proc.stderr.read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_fixed_value_under_grid_search_is_kept_not_replaced_by_the_papers_grid():
    raw = small_spec("g", search="grid", strategies={"ft": {"epochs": 20, "lr": 0.5}, "lpft": {"epochs": 20}})
    spec = parse_spec(raw)
    assert spec.strategies["ft"].grid == {} and spec.strategies["ft"].space["lr"].value == 0.5
    assert spec.strategies["ft"].search_trials == 1
    assert spec.strategies["lpft"].grid == {"lr": [1e-07, 1e-06, 1e-05, 0.0001, 0.001]}  # the paper's, untouched
    paper = parse_spec(small_spec("h", search="grid", strategies={"ft": {"epochs": 20}})).strategies["ft"]
    assert paper.grid == {"lr": [3e-05, 0.0001, 0.0003, 0.001, 0.003, 0.01]}  # the registry's grid not edited
