import os
import socket
import subprocess
import sys
import time

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may reach a hub at run time
# OpenMP threads that spin at each barrier: with torch on both of CI's 2 cores and anything else
# running (a test's Ray processes, a sweep's trials), every one of a model's ~100 parallel
# regions waits for a descheduled thread. Lite0 forward on 50 images: 0.1 s passive, 0.9-2 s
# spinning; test_variants' L2-SP test 57 s -> 7 s. Read when OpenMP loads, so set before torch is
# imported; subprocesses (lpft sweeps, their Ray workers) inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# One torch thread per process: `make test` runs two xdist workers on CI's two cores, so a second
# thread per worker only contends (six synthetic FT/LP-FT trials in one process: 2.6 s on one
# thread, 3.7 s on two, on an otherwise idle 2-core machine). Ray trials set their own count
# (their `resources.cpu`), whatever this says.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def feature_cache(tmp_path_factory: pytest.TempPathFactory):
    """A private feature/head cache per test session (subprocesses inherit it)."""
    root = tmp_path_factory.mktemp("lpft-cache")
    old = os.environ.get("LPFT_CACHE")
    os.environ["LPFT_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("LPFT_CACHE", None)
    else:
        os.environ["LPFT_CACHE"] = old


@pytest.fixture(scope="session")
def ray_cluster(feature_cache):
    """One lean Ray cluster for the session (a head with every core, on loopback, token
    authentication on), for sweeps that need no Ray of their own: `lpft sweep --address
    ray_cluster.address` with `env=ray_cluster.env` skips the ~6 s of starting one. Started on
    first use, after LPFT_CACHE is set: its workers inherit it. Sweeps that kill their process
    group, stop themselves, serve the dashboard or need their own environment in a trial keep
    a local instance. Its processes run under umask 027 (a group-shared machine's): the trial
    workers write most of a sweep's files, and test_synthetic_sweep_dataset checks they follow it."""
    from lpft.cluster.local import LocalCluster

    umask = os.umask(0o027)  # inherited by the nodes and all they start
    try:
        cluster = LocalCluster(cpus_per_node=os.cpu_count() or 1, lean=True).start(nodes=1)
    finally:
        os.umask(umask)
    try:
        yield cluster
    finally:
        cluster.stop()


# Small digits subsets: every split and OOD set present, seconds per run.
SMALL_DIGITS = {"n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 60, "size": 32}


@pytest.fixture(scope="session")
def small_digits():
    from lpft.data import load_benchmark

    return load_benchmark("digits", **SMALL_DIGITS)


def code_running_pickle(value_key: object, marker) -> bytes:
    """A pickled {value_key: payload} whose unpickling would run `touch marker` (os.system):
    loaders must refuse it before the marker appears."""
    import os
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({value_key: Payload()}, protocol=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env():
    """A moto S3 server on loopback with one bucket; the env a client needs to reach it."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import boto3

        deadline = time.time() + 30
        while True:
            try:
                boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                             aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket="lpft")
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        yield env
    finally:
        server.terminate()
        server.wait(10)


def half_up(x: float) -> str:
    """An accuracy in percentage points as every lpft view must show it: half up to one decimal.
    The tests' own oracle, apart from lpft.text.pct: the binary value's exact decimal expansion,
    rounded to 9 places first (so 0.5095, stored as 0.50949999..., reads 51.0)."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(round(Decimal(100 * float(x)), 9).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# Under mutmut (`make mutation`) a mutant is killed by its first failing test (pytest -x): the
# small, precise tests go first, so a mutant they catch is not first run through every report test.
MUTATION_FIRST = ("test_tables.py", "test_best.py", "test_robustness.py", "test_properties.py", "test_intervals.py")


# Under pytest-xdist (`make test`: -n 2 --dist loadfile --no-loadscope-reorder) each module runs
# whole on one worker, so its module-scoped fixtures (a finished sweep, a two-node cluster) are
# made once. (Not loadgroup's xdist_group marks: xdist 3.8 names a group by setting
# item._nodeid, which pytest 9 no longer reads, so the marks group nothing.) Modules go out in
# collection order: the longest (measured) first, so none starts late and ends alone.
LONGEST_FIRST = ("test_cluster.py", "test_sweeps.py", "test_exactly_once.py", "test_cli.py", "test_interrupt.py",
                 "test_wise.py", "test_own_data.py", "test_trackers.py", "test_warm_nodes.py", "test_variants.py",
                 "test_storage.py", "test_answer.py", "test_deterministic_search.py", "test_analysis.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # collection happens in the workers
        first = {name: k for k, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable: file order kept within
    if os.environ.get("MUTANT_UNDER_TEST"):
        order = {name: k for k, name in enumerate(MUTATION_FIRST)}
        items.sort(key=lambda item: order.get(item.path.name, len(order)))  # stable: file order kept within
