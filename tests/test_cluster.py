"""A real two-node Ray cluster on this machine (ray start --head + ray start --address, 1 CPU each,
loopback, token authentication on): sweeps across both nodes, job submission, and a lost node."""

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from lpft.cluster.local import LocalCluster
from lpft.storage import locate


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster(cpus_per_node=1)
    c.start(nodes=2)
    try:
        yield c
    finally:
        c.stop()


def lpft(*args, env, timeout=600, **kwargs):
    return subprocess.run([sys.executable, "-m", "lpft.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, **kwargs)


def spec_file(tmp_path: Path, name: str, ft_epochs: int = 60, **extra) -> Path:
    spec = {"name": name, "benchmark": {"name": "synthetic", "eps": 0.1},
            "strategies": {"lp": {"num_cs": 10},
                           "ft": {"num_samples": 3, "epochs": ft_epochs, "eval_every": 20,
                                  "lr": {"low": 0.1, "high": 1.0, "log": True}},
                           "lpft": {"num_samples": 2, "epochs": ft_epochs, "eval_every": 20,
                                    "lr": {"low": 0.003, "high": 0.03, "log": True}}},
            "max_concurrent": 2, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def results(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "results")


def test_submit_runs_the_sweep_as_a_job_with_trials_on_both_nodes(cluster, tmp_path):
    """`lpft submit`: the sweep's driver runs on the head as a Ray job, its trials on both nodes.
    (`lpft sweep --address`, a driver here, is test_losing_a_node_loses_no_trial's and the plugins'.)"""
    storage = tmp_path / "store"
    spec = spec_file(tmp_path, "job", feature_cache=str(tmp_path / "shared-cache"))
    raw = yaml.safe_load(spec.read_text())
    raw["strategies"]["lp"]["resources"] = {"cpu": 0.5}  # a strategy's own (fractional) resources
    spec.write_text(yaml.safe_dump(raw))
    p = lpft("submit", spec, "--address", cluster.dashboard, "--storage", storage, "--follow", env=cluster.env)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    job_id = p.stdout.splitlines()[0].strip()
    assert job_id.startswith("raysubmit_") and f"job {job_id}: SUCCEEDED" in p.stdout
    assert "== job: 6 trials" in p.stdout  # the sweep's own summary, streamed from the cluster
    df = results(storage / "job")
    assert df.trial_id.nunique() == 6
    assert set(df.node) == set(cluster.node_ids())  # node ids recorded in every row
    trials = pq.read_table(storage / "job" / "trials.parquet").to_pandas()
    assert set(trials.status) == {"completed"} and set(trials.node) == set(df.node)
    assert trials.set_index("strategy").cpus.to_dict()["lp"] == 0.5 and set(trials.cpus) == {0.5, 1.0}
    assert list((tmp_path / "shared-cache" / "features").glob("*.npz"))  # the spec's shared feature cache
    listed = lpft("jobs", "--address", cluster.dashboard, env=cluster.env)
    assert listed.returncode == 0 and job_id in listed.stdout and "SUCCEEDED" in listed.stdout
    # Token authentication is on: without the token the dashboard refuses, in one line, exit 2.
    no_token = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    p = lpft("jobs", "--address", cluster.dashboard, env={**no_token, "HOME": str(tmp_path)})
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "token" in p.stderr.lower()


def test_stop_ends_a_running_job(cluster, tmp_path):
    p = lpft("submit", spec_file(tmp_path, "long", ft_epochs=20000), "--address", cluster.dashboard,
             "--storage", tmp_path / "store", env=cluster.env)
    assert p.returncode == 0, p.stderr[-2000:]
    job_id = p.stdout.strip().splitlines()[0]
    time.sleep(3)
    p = lpft("stop", job_id, "--address", cluster.dashboard, env=cluster.env)
    assert p.returncode == 0 and "stop requested" in p.stdout
    deadline = time.time() + 60
    while time.time() < deadline:
        listed = lpft("jobs", "--address", cluster.dashboard, env=cluster.env).stdout
        line = next(ln for ln in listed.splitlines() if job_id in ln)
        if "STOPPED" in line:
            break
        time.sleep(2)
    assert "STOPPED" in line
    # And its trials are gone: the next test had both nodes' CPUs, or (under load, a trial still
    # ending on the second node) every trial of its sweep on the head.
    assert cluster.wait_free(timeout=120)


def test_a_jobs_secrets_reach_it_and_no_log_listing_or_argv(cluster, tmp_path, s3_env, monkeypatch):
    """Credentials in the storage URI and secret --env values: the job writes to S3 with them,
    and they show in no log of the cluster, in no job listing, and not in the stored spec."""
    secret = "sekrit-4242-never-echoed"
    endpoint = s3_env["AWS_ENDPOINT_URL"].split("//", 1)[1]
    storage = f"s3://lpftid:{secret}@lpft/jobs?endpoint_override={endpoint}&scheme=http"
    # The recipe in docs/clusters.md: the token alone, no RAY_AUTH_MODE.
    env = {k: v for k, v in cluster.env.items() if k != "RAY_AUTH_MODE"}
    p = lpft("submit", spec_file(tmp_path, "secret"), "--address", cluster.dashboard, "--storage", storage,
             "--env", "AWS_ACCESS_KEY_ID=lpftid", "--env", f"AWS_SECRET_ACCESS_KEY={secret}",
             "--env", f"AWS_ENDPOINT_URL={s3_env['AWS_ENDPOINT_URL']}", "--follow", env=env)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    job_id = p.stdout.splitlines()[0].strip()
    for key, value in s3_env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    root = locate("s3://lpft/jobs/secret")
    assert len((root / "results").files(".parquet")) == 6  # the driver had the storage, its workers the keys
    assert secret not in (root / "spec.yaml").read_bytes().decode()
    listed = lpft("jobs", "--address", cluster.dashboard, env=env)
    assert listed.returncode == 0 and job_id in listed.stdout
    # What Ray keeps of the job (entrypoint, runtime_env, metadata), asked by a fresh process:
    # Ray reads RAY_AUTH_MODE once, when it is first imported, and this one imported it long ago.
    probe = ("import sys; from lpft.cluster.jobs import client; i = client(sys.argv[1]).get_job_info(sys.argv[2]); "
             "print(i.entrypoint); print(i.runtime_env); print(i.metadata)")
    info = subprocess.run([sys.executable, "-c", probe, cluster.dashboard, job_id], env=env, capture_output=True,
                          text=True, timeout=120)
    assert info.returncode == 0 and "working_dir" in info.stdout, info.stderr[-2000:]
    assert "--storage" not in info.stdout.splitlines()[0]
    for text in (info.stdout, p.stdout, p.stderr, listed.stdout, listed.stderr):
        assert secret not in text
    logs = [f for f in Path(cluster.temp_dir).rglob("*") if f.is_file() and "/logs/" in str(f)]
    leaks = [(f, [ln for ln in f.read_text(errors="replace").splitlines() if secret in ln][:2])
             for f in logs if secret.encode() in f.read_bytes()]
    assert logs and not leaks, [(str(f), [ln[max(0, ln.index(secret) - 200):] for ln in lines]) for f, lines in leaks]


def nodes_of(path: Path) -> set[str]:
    """The nodes a trial file names; empty while a checkpoint replaces it under this reader (the
    file is renamed into place whole, but pyarrow opens it more than once)."""
    try:
        return set(pq.read_table(path, columns=["node"]).column("node").to_pylist())
    except OSError:
        return set()


def steps_in(path: Path) -> int:
    """How many evaluated steps a trial file holds so far (0 while it is being replaced)."""
    try:
        return len(set(pq.read_table(path, columns=["step"]).column("step").to_pylist()))
    except OSError:
        return 0


def test_a_module_named_by_imports_is_shipped_to_both_nodes(cluster, tmp_path):
    """A spec's `imports:` and `import_path:` reach every node through Ray's runtime_env: the test
    plugin's benchmark and strategy (tests/plugin_example) run on both. On this module's cluster
    (an own one was a cluster start of 20 s); test_plugins.py has the installed case."""
    from test_plugins import PLUGIN, spec, sweep_on_both_nodes

    path = spec(tmp_path, "imported", imports=["lpft_example_plugin"], import_path=[str(PLUGIN)])
    sweep_on_both_nodes(cluster, path, cluster.env, "imported")


def test_losing_a_node_loses_no_trial(cluster, tmp_path):
    """Runs last in this module: it kills the second node."""
    head, second = cluster.node_ids()
    spec = spec_file(tmp_path, "lost", ft_epochs=1500, max_failures=3)
    sweep = subprocess.Popen([sys.executable, "-m", "lpft.cli", "sweep", str(spec), "--address", cluster.address,
                              "--storage", str(tmp_path)], env=cluster.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        # Kill the second node once one of its trials has written a checkpointed partial result and
        # is far from done (a finished trial's file looks the same, and then nothing would be retried).
        deadline = time.time() + 240
        while time.time() < deadline:
            files = [f for f in (tmp_path / "lost" / "results").rglob("*.parquet") if "strategy=lp/" not in str(f)]
            watched = [(f.stem, steps_in(f)) for f in files
                       if nodes_of(f) == {second} and 0 < steps_in(f) <= 1500 // 20 // 2]
            if watched:
                break
            time.sleep(0.2)
        else:
            pytest.fail("no trial of the second node reached a checkpoint")
        cluster.kill_node(1)
        out, err = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, (out[-3000:], err[-3000:])  # the summary (stdout) says which trial failed
    trials = pq.read_table(tmp_path / "lost" / "trials.parquet").to_pandas()
    assert len(trials) == 6 and trials.trial_id.is_unique and set(trials.status) == {"completed"}
    df = results(tmp_path / "lost")
    assert not df.duplicated(["trial_id", "step", "eval_set"]).any()
    steps = df[df.strategy != "lp"].groupby("trial_id").step.nunique()
    assert (steps == 1500 // 20).all()  # every FT/LP-FT trial has all its evaluations, once
    retried = trials[trials.resumed_from_step > 0]
    # Once flaky (1 run in 3, 2026-12-06): no trial resumed, with every other check passing. The
    # checkpoint is written before the results file this waits for, so that is not the cause;
    # what each trial did is printed for the next time.
    shown = trials[["trial_id", "node", "status", "resumed_from_step"]].to_string()
    assert len(retried) >= 1 and set(retried.node) == {head}, (  # resumed from a checkpoint, on the head
        f"killed the second node ({second}) while {watched} (trial, evaluated steps) ran there;\n{shown}\n"
        f"checkpoints left: {sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / 'lost').rglob('step-*.pt'))}")


def test_a_head_whose_job_agent_is_not_up_yet_is_waited_for_not_refused():
    """A just-started (or busy) head answers "No available agent to submit job, please try
    again later" for a while: `lpft submit` waits for it; any other error is one line at once."""
    from lpft.cluster.jobs import _submit_when_ready
    from lpft.errors import InputError

    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) < 3:
            raise RuntimeError("Request failed with status code 500: No available agent to submit job, "
                               "please try again later.")
        return "raysubmit_1"

    assert _submit_when_ready("submitting", flaky, entrypoint="x") == "raysubmit_1" and len(calls) == 3

    def refused(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("Request failed with status code 401: Unauthorized")

    calls.clear()
    with pytest.raises(InputError, match="401"):
        _submit_when_ready("submitting", refused)
    assert len(calls) == 1

    def never_ready(**kwargs):
        raise RuntimeError("No available agent to submit job, please try again later.")

    start = time.monotonic()
    with pytest.raises(InputError, match="No available agent"):  # not forever: the deadline holds
        _submit_when_ready("submitting", never_ready, within=1.0)
    assert time.monotonic() - start < 5
