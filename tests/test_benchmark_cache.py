"""Built benchmarks on the node's disk (lpft.data.cache): built once per node, not per worker;
a damaged entry or an unwritable cache costs a build, never a wrong benchmark or a failure."""

import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from lpft.data.base import Benchmark, Split
from lpft.data.cache import cached_build, entry_path
from lpft.data.fingerprint import fingerprint
from lpft.data.registry import BENCHMARKS, register

BUILDS = []


@dataclass(frozen=True)
class Params:
    n: int = 8


def build(p: Params) -> Benchmark:
    BUILDS.append(p)
    rng = np.random.default_rng(p.n)
    splits = {role: Split(rng.random((p.n, 3)).astype(np.float32), rng.integers(0, 2, p.n), role)
              for role in ("id_train", "id_val", "id_test")}
    return Benchmark("probe", p, splits, 2, ("none", "none"))


def test_built_once_then_read_back_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path))
    BUILDS.clear()
    first = cached_build("probe", Params(), build)
    second = cached_build("probe", Params(), build)
    assert len(BUILDS) == 1 and entry_path("probe", Params(), build).is_file()
    np.testing.assert_array_equal(first.train.x, second.train.x)
    cached_build("probe", Params(n=9), build)  # other parameters: another entry
    assert len(BUILDS) == 2 and len(list((tmp_path / "benchmarks").glob("probe-*.npz"))) == 2


def test_a_damaged_entry_is_built_again_and_a_read_only_cache_still_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path))
    BUILDS.clear()
    cached_build("probe", Params(), build)
    path = entry_path("probe", Params(), build)
    path.write_bytes(path.read_bytes()[:100])  # truncated, as by a full disk
    again = cached_build("probe", Params(), build)
    assert len(BUILDS) == 2 and again.train.x.shape == (8, 3)
    assert cached_build("probe", Params(), build).train.x.shape == (8, 3) and len(BUILDS) == 2  # rewritten whole
    # A cache that cannot be written, even by root (CI runs as root, which a mode bit would not
    # stop): its folder would sit under a regular file. The benchmark is still built.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LPFT_CACHE", str(blocker / "inner"))
    before = len(BUILDS)
    assert cached_build("probe", Params(), build).train.x.shape == (8, 3) and len(BUILDS) == before + 1


def test_what_an_entry_cannot_hold_exactly_is_not_cached(tmp_path, monkeypatch):
    """Arrays that would need a pickle are never written; a stale half-written entry is removed."""
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path))

    def objects(p: Params) -> Benchmark:
        bench = build(p)
        bench.truth["labels"] = np.array(["a", None], dtype=object)
        return bench

    BUILDS.clear()
    cached_build("probe", Params(), objects)
    cached_build("probe", Params(), objects)
    assert len(BUILDS) == 2 and not list((tmp_path / "benchmarks").glob("*.npz"))
    stale = tmp_path / "benchmarks" / ".probe-left-by-a-kill.tmp"
    stale.parent.mkdir()
    stale.write_bytes(b"x" * 10)
    os.utime(stale, (0, 0))
    cached_build("probe", Params(), build)
    assert not stale.exists() and len(list((tmp_path / "benchmarks").glob("probe-*.npz"))) == 1


def test_the_key_follows_the_packages_that_make_the_data(monkeypatch):
    import lpft.data.cache as cache

    before = entry_path("probe", Params(), build)
    versions = cache._versions()
    monkeypatch.setattr(cache, "_versions", lambda: {**versions, "mlxtend": versions["mlxtend"] + ".post1"})
    assert entry_path("probe", Params(), build) != before


def test_a_file_based_entry_follows_its_files(tmp_path, monkeypatch):
    """A builder that reads files is keyed by their fingerprint too: a file rewritten in place
    (the same name and size) is built again, not read from the old entry."""
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "x.npy"
    np.save(data, np.arange(24, dtype=np.float32).reshape(8, 3))

    def from_file(p: Params) -> Benchmark:
        BUILDS.append(p)
        x = np.load(data)
        return Benchmark("probe-file", p, {r: Split(x, np.arange(8) % 2, r) for r in ("id_train", "id_val", "id_test")},
                         2, ("none", "none"))

    def files() -> str:
        return fingerprint({"root": tmp_path}, [data])

    BUILDS.clear()
    first = cached_build("probe-file", Params(), from_file, files())
    mtime = data.stat().st_mtime_ns
    np.save(data, -np.load(data))
    os.utime(data, ns=(mtime + 10**9, mtime + 10**9))  # written a second later (not within one mtime tick)
    second = cached_build("probe-file", Params(), from_file, files())
    assert len(BUILDS) == 2 and np.array_equal(second.train.x, -first.train.x)
    assert cached_build("probe-file", Params(), from_file, files()).train.x.sum() == second.train.x.sum()
    assert len(BUILDS) == 2  # unchanged since: read back
    with pytest.raises(ValueError, match="disk_cache needs files="):
        register("probe-file", Params, folder="probe", disk_cache=True)


def test_digits_is_shared_across_processes(tmp_path):
    """A second process (a fresh Ray worker) reads the first's build: the same arrays, no decoding."""
    assert BENCHMARKS["digits"].disk_cache and not BENCHMARKS["synthetic"].disk_cache
    # Each process counts how often it decoded MNIST (the builder's slow part): a count, not a
    # wall-clock ratio, which a busy 2-core machine can upset.
    probe = ("import lpft.data.digits as d; from lpft.data import load_benchmark\n"
             "calls = []; decode = d._mnist\n"
             "d._mnist = lambda: (calls.append(1), decode())[1]\n"
             "b = load_benchmark('digits', size=32, n_train=200)\n"
             "print(len(calls), float(b.train.x.sum()), len(b.eval_sets))")
    env = {**os.environ, "LPFT_CACHE": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    assert runs[0][1:] == runs[1][1:]  # the same benchmark
    assert len(list((tmp_path / "benchmarks").glob("digits-*.npz"))) == 1
    assert (runs[0][0], runs[1][0]) == ("1", "0"), runs  # built once, then read back, never decoded again
