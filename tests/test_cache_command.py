"""`lpft cache list|du|prune|clear` and `cache_max_size` (issue 30): what each entry is, the
least recently used removed first, nothing but lpft's own files touched, and a trial reading the
cache while it is pruned still completes with the numbers an untouched cache gives."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lpft.cachedir import STALE_TEMP_S, parse_age, parse_size
from lpft.cli import main
from lpft.data import load_benchmark
from lpft.errors import InputError
from lpft.models import build_backbone, cached_features
from lpft.strategies.lp import LPParams, lp_head
from lpft.sweeps.spec import parse_spec

SMALL = {"n_train": 200, "n_val": 100, "n_test": 100, "n_ood": 100}


def test_sizes_and_ages_read_as_du_and_find_would():
    assert parse_size("500M") == 500 * 2**20
    assert parse_size("1.5GiB") == 3 * 2**29
    assert parse_size("20GB") == 20 * 10**9
    assert parse_size("4k") == 4096
    assert parse_size("123") == 123 and parse_size(123) == 123
    assert parse_age("30d") == 30 * 86400 and parse_age("90m") == 5400 and parse_age("2w") == 14 * 86400
    for bad in ("lots", "-1G", "5 parsecs", "", True):
        with pytest.raises(InputError, match="size"):
            parse_size(bad)
    with pytest.raises(InputError, match="--older-than"):
        parse_age("3x")


def test_the_spec_field_is_checked_and_read_in_bytes():
    spec = {"name": "s", "benchmark": {"name": "synthetic"}, "strategies": {"lp": {}}}
    assert parse_spec(spec).cache_max_size is None
    assert parse_spec({**spec, "cache_max_size": "2G"}).cache_max_size == 2 * 2**30
    with pytest.raises(InputError, match=r"^cache_max_size must be a size"):
        parse_spec({**spec, "cache_max_size": "big"})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Synthetic features (4 splits) and two LP heads in an empty cache."""
    root = tmp_path / "cache"
    monkeypatch.setenv("LPFT_CACHE", str(root))
    bench = load_benchmark("synthetic", **SMALL)
    backbone = build_backbone("linear", "benchmark", bench)
    cached_features(backbone, bench)
    for c in (0.1, 10.0):
        lp_head(bench, backbone, LPParams(c_min=c, c_max=c, num_cs=1))
    return root, bench, backbone


def files(root: Path) -> dict[Path, os.stat_result]:
    return {p: p.stat() for p in root.rglob("*") if p.is_file()}


def listed(capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert main(["cache", "list", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_list_names_each_entry_and_du_adds_them_up(cache, capsys):
    root, bench, backbone = cache
    got = listed(capsys)
    assert {(e["kind"], e["benchmark"], e["backbone"], e["split"]) for e in got} == {
        *(("features", bench.key, "linear", s) for s in bench.splits), ("LP head", bench.key, "linear", "all")}
    heads = sorted(e["detail"] for e in got if e["kind"] == "LP head")
    assert heads == [f"weights {backbone.digest[:8]}, C {c:g}..{c:g} x1, seed 0" for c in (0.1, 10.0)]
    on_disk = files(root)
    assert {Path(e["path"]): e["bytes"] for e in got} == {p: s.st_size for p, s in on_disk.items()}
    assert main(["cache", "du"]) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1] == str(len(on_disk))
    assert main(["cache", "list"]) == 0  # the table a person reads
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["kind", "benchmark", "backbone", "split", "detail", "size", "last", "use"]
    assert table[-1] == f"{root}: 6 entries, {sum(s.st_size for s in on_disk.values()) / 1024:.1f} KiB"


def test_a_cache_hit_is_a_use(cache):
    root, bench, backbone = cache
    old = time.time() - 86400
    for p in files(root):
        os.utime(p, (old, old))
    cached_features(backbone, bench)  # every split read back
    used = {p.parent.name: s.st_mtime > old + 1 for p, s in files(root).items()}
    assert used == {"features": True, "heads": False}


def aged(root: Path) -> list[Path]:
    """Every entry given its own last use, a day apart: the first one least recently used."""
    order = sorted(files(root))
    now = time.time()
    for k, p in enumerate(order):
        t = now - (len(order) - k) * 86400
        os.utime(p, (t, t))
    return order


def test_prune_removes_the_least_recently_used_down_to_the_size(cache, capsys):
    root, _, _ = cache
    order = aged(root)
    sizes = [p.stat().st_size for p in order]
    limit = sum(sizes[-3:]) + 1  # room for the three most recent and one byte
    assert main(["cache", "prune", "--max-size", str(limit), "--dry-run"]) == 0
    assert set(files(root)) == set(order)  # a dry run removes nothing
    assert main(["cache", "prune", "--max-size", str(limit)]) == 0
    assert sorted(files(root)) == order[-3:]
    assert sum(s.st_size for s in files(root).values()) <= limit
    assert capsys.readouterr().out.splitlines()[-1].startswith("removed 3 entries, ")


def test_prune_older_than_and_clear(cache, capsys):
    root, _, _ = cache
    order = aged(root)  # last uses: 6, 5, ... 1 days ago
    assert main(["cache", "prune", "--older-than", "84h"]) == 0  # 3.5 days
    assert sorted(files(root)) == order[-3:]
    foreign = [root / "notes.txt", root / "features" / "mine.txt", root / "heads" / "keep.npz.bak"]
    for p in foreign:
        p.write_text("not lpft's")
    link = root / "features" / "linked.npz"  # a link is not lpft's entry either: it and its target stay
    link.symlink_to(foreign[0])
    writing, stale = root / "features" / ".abc.tmp", root / "features" / ".old.tmp"
    writing.write_bytes(b"a write in progress"), stale.write_bytes(b"left by a killed writer")
    os.utime(stale, (time.time() - STALE_TEMP_S - 60,) * 2)
    assert main(["cache", "clear"]) == 0
    assert set(files(root)) == {*foreign, link, writing}
    assert foreign[0].read_text() == "not lpft's"


def test_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    for args, field in ((["prune"], "--older-than"), (["prune", "--max-size", "huge"], "--max-size"),
                        (["list", "--root", str(tmp_path / "file")], "--root")):
        assert main(["cache", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and field in err, err


def test_cache_max_size_evicts_the_least_recently_used_as_entries_are_written(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path))
    bench = load_benchmark("synthetic", **SMALL)
    backbone = build_backbone("linear", "benchmark", bench)
    entry = cached_features(backbone, bench)["id_train"].nbytes + 1000  # one split's entry, and then some
    monkeypatch.setenv("LPFT_CACHE_MAX_SIZE", str(2 * entry))
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path / "bounded"))
    for c in (0.1, 1.0, 10.0):
        lp_head(bench, backbone, LPParams(c_min=c, c_max=c, num_cs=1))  # 4 feature entries, then a head
    left = files(tmp_path / "bounded")
    assert sum(s.st_size for s in left.values()) <= 2 * entry
    newest = max(left, key=lambda p: left[p].st_mtime_ns)
    assert newest.parent.name == "heads"  # the last written is kept


def test_a_trial_reading_the_cache_while_it_is_pruned_completes_with_the_same_numbers(cache, capsys):
    root, _, _ = cache
    command = [sys.executable, "-m", "lpft", "run", "synthetic", "--strategy", "lpft", "--json",
               *(f"--set={k}={v}" for k, v in {**SMALL, "epochs": 2, "num_cs": 1}.items())]
    env = {**os.environ, "LPFT_CACHE": str(root)}
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    runs, stop = [], threading.Event()

    def trials():
        for _ in range(2):
            runs.append(subprocess.run(command, capture_output=True, text=True, env=env, timeout=300))
        stop.set()

    thread = threading.Thread(target=trials)
    thread.start()
    prunes = 0
    while not stop.is_set():
        assert main(["cache", "prune", "--max-size", "200K"]) == 0
        prunes += 1
    thread.join()
    assert prunes > 10
    assert main(["cache", "prune", "--max-size", "200K"]) == 0  # with no trial writing: under the size
    assert 0 < sum(e["bytes"] for e in listed(capsys)) <= 200 * 1024
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["evaluations"] == json.loads(first.stdout)["evaluations"]
