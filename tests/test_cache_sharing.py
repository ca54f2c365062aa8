"""A cache entry is made once per node: trials that need the same features or LP head at the same
time take turns (the first makes it, the others wait and read it), and an LP trial keeps its head
where the LP-FT and WiSE trials of its sweep look for it."""

import threading
import time

import numpy as np
import pytest

from lpft.atomic import one_builder
from lpft.data import load_benchmark
from lpft.models import build_backbone
from lpft.models.features import cached_array
from lpft.strategies import lp as lp_module
from lpft.strategies.lp import LPParams, lp_head
from lpft.trial import run_trial


def test_callers_racing_for_one_entry_compute_it_once_and_all_read_it(tmp_path, capfd):
    """Three callers at once, each with its own open of the lock file (as three processes have:
    flock locks belong to an open file, not to a process)."""
    path = tmp_path / "features" / "k.npz"
    record = {"key": "k", "for": "features of test/id_train"}
    calls, go = [], threading.Barrier(3)

    def compute():
        calls.append(threading.get_ident())
        time.sleep(0.5)  # long enough that the others arrive while it runs
        return np.arange(12.0).reshape(4, 3)

    got = []

    def caller():
        go.wait()
        got.append(cached_array(path, record, 4, compute))

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1 and len(got) == 3
    assert all(np.array_equal(a, np.arange(12.0).reshape(4, 3)) for a in got)
    err = capfd.readouterr().err
    assert err.count("lpft: cache: waiting for another process on this node to finish features of test/id_train") == 2
    assert [p.name for p in path.parent.iterdir()] == ["k.npz"]  # no partial write, no lock file left


def test_a_foreign_entry_is_made_again_with_one_line_saying_why(tmp_path, capfd):
    path = tmp_path / "heads" / "k.npz"
    cached_array(path, {"key": "other", "for": "another head"}, 2, lambda: np.zeros((2, 2)))
    again = cached_array(path, {"key": "k", "for": "this head"}, 2, lambda: np.ones((2, 2)))
    assert np.array_equal(again, np.ones((2, 2)))
    assert capfd.readouterr().err == (f"lpft: cache: rebuilding {path}: it was made for another head (key other), "
                                      "not this key\n")


def test_when_the_maker_fails_the_next_makes_it_and_never_two_at_once(tmp_path):
    """The maker leaves (here: fails) while one caller waits on its lock file and another arrives
    after the file is gone: the two still take turns (the waiter, finding its file removed, locks
    the one under the name), never both inside at once."""
    lock = tmp_path / "k.npz.lock"
    inside, most, lock_held, release = [0], [0], threading.Event(), threading.Event()
    guard = threading.Lock()

    def build(fail=False, hold=None):
        with one_builder(lock, "waiting"):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            if hold:
                lock_held.set()
                release.wait(10)
            time.sleep(0.3)
            with guard:
                inside[0] -= 1
            if fail:
                raise RuntimeError("the maker failed")

    def failing():
        with pytest.raises(RuntimeError):
            build(fail=True, hold=True)

    first = threading.Thread(target=failing)
    first.start()
    lock_held.wait(10)
    waiter = threading.Thread(target=build)
    waiter.start()
    time.sleep(0.3)  # the waiter is blocked on the maker's lock file
    release.set()
    first.join(10)
    late = threading.Thread(target=build)  # arrives after the maker removed its lock file
    late.start()
    for t in (waiter, late):
        t.join(10)
    assert most[0] == 1 and not lock.exists()


def test_a_file_system_without_flock_makes_the_entry_unlocked(tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_flock(f, how):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    path = tmp_path / "features" / "k.npz"
    got = cached_array(path, {"key": "k", "for": "features"}, 3, lambda: np.arange(3.0))
    assert np.array_equal(got, np.arange(3.0)) and path.is_file()


def test_an_lp_trials_head_is_the_one_lp_ft_starts_from_without_fitting_again(tmp_path, monkeypatch):
    settings = {"n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 100, "num_cs": 5, "bn_adapt": "true"}
    hp = LPParams(num_cs=5)  # LP-FT's LP (its C path, no BN adaptation: the head is the plain features')
    bench = load_benchmark("synthetic", n_train=200, n_val=100, n_test=100, n_ood=100)
    backbone = build_backbone("linear", "benchmark", bench)
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path / "fresh"))
    fitted = lp_head(bench, backbone, hp)  # what LP-FT gets from an empty cache

    monkeypatch.setenv("LPFT_CACHE", str(tmp_path / "shared"))
    trial = run_trial("synthetic", "lp", settings).result.model

    def no_fit(*args, **kwargs):
        raise AssertionError("the LP trial's head was not found: the path was fitted again")

    monkeypatch.setattr(lp_module, "probe", no_fit)
    read = lp_head(bench, backbone, hp)
    for head in (trial, read):
        np.testing.assert_array_equal(head.weight, fitted.weight)
        np.testing.assert_array_equal(head.bias, fitted.bias)
        assert (head.C, head.step) == (fitted.C, fitted.step)
    with pytest.raises(AssertionError, match="fitted again"):  # another C path: not answered by the trial's head
        lp_head(bench, backbone, LPParams(num_cs=4))


def test_a_caller_with_the_array_in_hand_does_not_wait_for_another_maker(tmp_path, capfd):
    """An LP trial keeping its head (wait=False) while an LP-FT trial fits the same one: it
    returns at once with its own, writes nothing, and the maker's file is the one kept."""
    path = tmp_path / "heads" / "k.npz"
    record = {"key": "k", "for": "the LP head"}
    started, release = threading.Event(), threading.Event()

    def slow_maker():
        started.set()
        release.wait(10)
        return np.ones((2, 2))

    maker = threading.Thread(target=cached_array, args=(path, record, 2, slow_maker))
    maker.start()
    started.wait(10)
    t0 = time.perf_counter()
    mine = cached_array(path, record, 2, lambda: np.full((2, 2), 7.0), wait=False)
    took = time.perf_counter() - t0
    release.set()
    maker.join(10)
    assert took < 1 and np.array_equal(mine, np.full((2, 2), 7.0))
    assert np.array_equal(cached_array(path, record, 2, lambda: np.zeros((2, 2))), np.ones((2, 2)))
    assert "waiting" not in capfd.readouterr().err


def test_an_entry_of_the_wrong_size_is_judged_by_its_header_and_never_read(tmp_path, capfd, monkeypatch):
    """Its key matches, its rows do not (a hand-copied file): made again, with one line saying
    why, and the stored array itself never loaded (at ImageNet's scale, 10 GB read for nothing,
    twice: before the lock and under it)."""
    path = tmp_path / "features" / "k.npz"
    record = {"key": "k", "for": "features of test/ood"}
    cached_array(path, record, 99, lambda: np.zeros((99, 3), np.float32))
    read, load = [], np.lib.npyio.NpzFile.__getitem__
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda z, key: read.append(key) or load(z, key))
    again = cached_array(path, record, 100, lambda: np.ones((100, 3), np.float32))
    assert again.shape == (100, 3) and "array" not in read and read.count("record") == 2
    assert capfd.readouterr().err == (f"lpft: cache: rebuilding {path}: it holds 99 rows, features of test/ood "
                                      "has 100\n")
    monkeypatch.undo()
    assert np.array_equal(cached_array(path, record, 100, lambda: np.zeros((100, 3))), again)  # kept, read back
