"""`lpft run` and `lpft demo` as a user runs them: real subprocesses, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest
from conftest import half_up


def lpft(*args, timeout=600, env=None):
    return subprocess.run([sys.executable, "-m", "lpft.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_run_json():
    p = lpft("run", "synthetic", "--strategy", "lpft", "--set", "epochs=30", "--set", "eps=0.2", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["strategy"] == "lpft" and out["status"] == "completed"
    assert set(out["final"]) == {"id_val", "id_test", "ood"}
    assert out["hparams"]["epochs"] == 30 and out["selected_step"] in {e["step"] for e in out["evaluations"]}
    assert {e["adapt"] for e in out["evaluations"]} == {"none"}  # plain scores, marked as such
    best = max(e["accuracy"] for e in out["evaluations"] if e["eval_set"] == "id_val")
    assert out["final"]["id_val"] == best


def test_run_text_table():
    p = lpft("run", "synthetic", "--strategy", "lp", "--set", "num_cs=5")
    assert p.returncode == 0, p.stderr
    assert "status: completed" in p.stdout
    # each row is its eval set's accuracy at the selected step (the JSON's, the same trial rerun:
    # LP on fixed features is deterministic), in percent, one decimal
    j = json.loads(lpft("run", "synthetic", "--strategy", "lp", "--set", "num_cs=5", "--json").stdout)
    rows = {line.split()[0]: line.split() for line in p.stdout.splitlines()[4:]}
    step = int(p.stdout.split("selected step: ")[1].split()[0])
    assert step == j["selected_step"]
    for e in j["evaluations"]:
        if e["step"] == step:
            assert rows[e["eval_set"]] == [e["eval_set"], e["role"], half_up(e["accuracy"])]
    assert set(rows) == {"id_val", "id_test", "ood"}


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "nope", "--strategy", "ft"], "unknown benchmark 'nope'"),
        (["run", "synthetic", "--strategy", "sgd"], "unknown strategy 'sgd'"),
        (["run", "synthetic", "--strategy", "ft", "--set", "lrr=0.1"], "unknown key 'lrr'"),
        (["run", "synthetic", "--strategy", "ft", "--set", "lr=fast"], "lr: expected float"),
        (["run", "synthetic", "--strategy", "ft", "--set", "lr=-1"], "lr must be > 0"),
        (["run", "synthetic", "--strategy", "ft", "--set", "eps=-1"], "eps must be >= 0"),
        (["run", "synthetic", "--strategy", "ft", "--set", "bn=maybe"], "bn must be"),
        (["run", "synthetic", "--strategy", "ft", "--set", "lr"], "--set expects key=value"),
        (["run", "digits", "--strategy", "lp", "--set", "weights=/no/such.pth"], "/no/such.pth"),
        (["run", "synthetic", "--strategy", "lp", "--set", "device=tpu"], "device must be"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    p = lpft(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], p.stderr
    assert p.stdout == ""


@pytest.mark.slow
def test_full_demo(tmp_path):
    """What `make demo` runs (about 3 minutes on 2 cores)."""
    p = lpft("demo", "--storage", tmp_path, timeout=1200)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("LP-FT vs FT") == 2


def test_demo_quick_runs_both_sweeps(tmp_path, ray_cluster):
    p = lpft("demo", "--quick", "--storage", tmp_path, "--address", ray_cluster.address, env=ray_cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    for needle in ("== synthetic", "== digits-quick", "FT vs LP:", "LP-FT vs FT:", "ood avg", "best hp"):
        assert needle in p.stdout
    for strategy in ("lp", "ft", "lpft"):
        assert sum(line.startswith(strategy + " ") for line in p.stdout.splitlines()) == 2
    assert (tmp_path / "digits-quick" / "trials.parquet").is_file()
    import pandas as pd

    summaries = p.stdout.split("== digits-quick: lp")  # the synthetic sweep's output, then digits'
    # the search, seen: each section with its figure embedded, as Chromium renders the page
    from browser import load

    dom, console = load(tmp_path / "synthetic" / "report" / "report.html", tmp_path)
    for heading in ("Learning curves", "Hyperparameters", "Parameter importance and search history",
                    "Per-class accuracy"):
        section = dom.split(f">{heading}</h2>", 1)[1].split("<h2", 1)[0]
        assert '<img alt="' in section and 'src="data:image/png;base64,' in section, heading
    assert not console, console
    for name, out in zip(("synthetic", "digits-quick"), summaries):
        assert (tmp_path / name / "report" / "report.html").is_file()
        assert (tmp_path / name / "report" / "frontier_grid.png").stat().st_size > 20_000
        # the printed summary gives each strategy the means of the models the paper's selection
        # picks from the results rows (tests/oracle.py: pandas alone), and so does table.csv
        from oracle import selected
        from printed import summary_cells

        chosen = selected(pd.read_parquet(tmp_path / name / "results"))
        table = pd.read_csv(tmp_path / name / "report" / "table.csv").set_index("strategy")
        for strategy in ("lp", "ft", "lpft"):
            want = [half_up(chosen[strategy][c].mean()) for c in ("id_test", "ood_avg")]
            row = summary_cells(out, strategy)  # strategy, trials, diverged, errors, best hp, id_val, ...
            assert row[6:8] == want, (name, strategy, row, want)
            assert [half_up(table.loc[strategy, c]) for c in ("id_test_mean", "ood_avg_mean")] == want


def test_the_command_exits_without_teardown_yet_runs_every_exit_hook_and_flushes(tmp_path):
    """`lpft` (lpft.cli.run) ends with os._exit after main: exit hooks still run, buffered
    output still arrives, usage errors keep argparse's status, and --help exits 0."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(tmp_path / 'hook')!r}, 'w').write('ran'))\n"
        "sys.stdout.write('buffered, no newline')\n"
        "sys.argv = ['lpft', *sys.argv[1:]]\n"
        "from lpft.cli import run\n"
        "run()\n")
    p = subprocess.run([sys.executable, str(probe), "run", "synthetic", "--strategy", "lp", "--set", "num_cs=2"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("buffered, no newline") and "status: completed" in p.stdout
    assert (tmp_path / "hook").read_text() == "ran"
    assert lpft("bogus").returncode == 2 and lpft("--help").returncode == 0
    from importlib.metadata import version

    shown = lpft("--version")  # the installed package's version, as pip knows it
    assert shown.returncode == 0 and shown.stdout == f"lpft {version('lpft')}\n"


def test_the_command_leaves_ray_without_its_exit_hooks_wait(tmp_path):
    """Ray's exit hook sleeps 0.5 s for workers' log lines, which lpft's driver never streams:
    `lpft` disconnects first, so no such sleep happens, and Ray is left all the same."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys, time\n"
        f"log = open({str(tmp_path / 'sleeps')!r}, 'w')\n"
        "real_sleep = time.sleep\n"
        "def sleep(s):\n"
        "    log.write(f'{s}\\n'); log.flush(); real_sleep(s)\n"
        "time.sleep = sleep\n"
        "import ray, lpft.cli\n"
        "def main():\n"
        "    ray.init(address='local', num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
        f"    open({str(tmp_path / 'connected')!r}, 'w').write(str(ray.is_initialized()))\n"
        "    return 0\n"
        "lpft.cli.main = main\n"
        "lpft.cli.run()\n")
    p = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "connected").read_text() == "True"
    assert 0.5 not in [float(s) for s in (tmp_path / "sleeps").read_text().split()]
