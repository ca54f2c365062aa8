"""Caches that can never answer with another dataset's features (issue 30): two copies of a
dataset with the same file names, sizes and labels but other pixels, under two data roots and
one cache, each get what an empty cache gives them; a file touched or rewritten in place is
another benchmark; a cached array made for another key, or of another shape, is made again."""

import os
import pickle
import shutil

import numpy as np
import pytest
from image_folders import write_tree
from paper_data import (
    write_breeds,
    write_cifar10,
    write_cifar101,
    write_domainnet,
    write_fmow,
    write_imagenet,
    write_stl10,
)
from PIL import Image

from lpft.data import load_benchmark
from lpft.data.images import IMAGE_EXTENSIONS
from lpft.data.registry import _build
from lpft.errors import InputError
from lpft.models import build_backbone, cached_features
from lpft.models.features import extract, feature_key
from lpft.strategies.lp import LPParams, lp_head
from lpft.trial import run_trial


def small_cifar(d):
    write_cifar10(d / "cifar10", per_class_per_batch=1, test_per_class=1)  # 50 training images, 10 test


WRITERS = {  # each benchmark's fixture as $LPFT_DATA (d), at the smallest size its splits allow
    "cifar10-stl": lambda d: (small_cifar(d), write_stl10(d / "stl10", per_class=1)),
    "cifar10-cifar10.1": lambda d: (small_cifar(d), write_cifar101(d / "cifar10.1", n=10)),
    "living17": lambda d: write_breeds(d / "imagenet", train_per_class=2, val_per_class=1),
    "domainnet": lambda d: write_domainnet(d / "domainnet", per_class=2),
    "fmow": write_fmow,  # d/fmow_v1.1
    "imagenet": lambda d: write_imagenet(d, per_class=2),  # d/imagenet and its OOD sets beside it
    "imagefolder": lambda d: write_tree(d / "imagefolder", per_class=4),
}
PARAMS = {"cifar10-stl": {"n_val": 10}, "cifar10-cifar10.1": {"n_val": 10}, "living17": {"n_val": 2},
          "domainnet": {"n_val": 2}, "fmow": {}, "imagenet": {"n_val": 2}, "imagefolder": {}}


def repaint(folder):
    """Every image in `folder` (files, CIFAR pickles, STL binaries, CIFAR-10.1 arrays) with each
    pixel value XOR 0x7f, in place: the same names and labels, other pixels. The high bit is
    kept, so even the protocol-2 pickles (bytes as latin-1 text) keep their sizes."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            with Image.open(path) as img:
                other = Image.fromarray(np.asarray(img.convert("RGB")) ^ 0x7F)
            other.save(path)
        elif path.name.startswith(("data_batch_", "test_batch")):
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            batch[b"data"] = batch[b"data"] ^ 0x7F
            with open(path, "wb") as f:
                pickle.dump(batch, f, protocol=2)
        elif path.name == "test_X.bin":
            (np.fromfile(path, np.uint8) ^ 0x7F).tofile(path)
        elif path.name.endswith("_data.npy"):
            np.save(path, np.load(path) ^ 0x7F)


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory):
    """(A, B) data roots of one benchmark: B is A copied, every image repainted, and every file
    given A's mtime back: by name, size (the CIFAR, STL and CIFAR-10.1 files keep theirs) and
    mtime, only the root tells the copies apart."""
    made = {}

    def make(name):
        if name not in made:
            a, b = tmp_path_factory.mktemp(f"{name}-a"), tmp_path_factory.mktemp(f"{name}-b")
            WRITERS[name](a)
            shutil.copytree(a, b, dirs_exist_ok=True)
            repaint(b)
            for path in a.rglob("*"):
                shutil.copystat(path, b / path.relative_to(a))
            made[name] = a, b
        return made[name]

    return make


def bench_at(monkeypatch, data, name="cifar10-stl", **params):
    monkeypatch.setenv("LPFT_DATA", str(data))
    return load_benchmark(name, image_size=32, **{**PARAMS[name], **params})


def test_lp_under_two_roots_and_one_cache_gives_each_copy_its_own_numbers(two_copies, tmp_path, monkeypatch):
    """`lpft run cifar10-stl --strategy lp` under LPFT_DATA=A, then B: B's numbers, not A's."""
    a, b = two_copies("cifar10-stl")
    settings = {**PARAMS["cifar10-stl"], "image_size": 32, "backbone": "test_resnet", "weights": "none", "num_cs": 4}

    def run(data, cache):
        monkeypatch.setenv("LPFT_DATA", str(data))
        monkeypatch.setenv("LPFT_CACHE", str(cache))
        return [(e.step, e.eval_set, e.accuracy) for e in run_trial("cifar10-stl", "lp", settings).result.evaluations]

    shared = [run(a, tmp_path / "shared"), run(b, tmp_path / "shared")]
    empty = [run(a, tmp_path / "empty-a"), run(b, tmp_path / "empty-b")]
    assert empty[0] != empty[1]  # the copies give different numbers, so the test can tell them apart
    assert shared == empty


def test_lp_ft_head_under_two_roots_and_one_cache(two_copies, tmp_path, monkeypatch):
    a, b = two_copies("cifar10-stl")
    hp = LPParams(num_cs=4)

    def head(data, cache):
        monkeypatch.setenv("LPFT_CACHE", str(cache))
        bench = bench_at(monkeypatch, data)
        return lp_head(bench, build_backbone("test_resnet", "none", bench), hp).weight

    shared = [head(a, tmp_path / "shared"), head(b, tmp_path / "shared")]
    empty = [head(a, tmp_path / "empty-a"), head(b, tmp_path / "empty-b")]
    assert not np.array_equal(empty[0], empty[1])
    for got, want in zip(shared, empty):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", list(WRITERS))
def test_features_of_every_file_based_benchmark_follow_its_root(name, two_copies, tmp_path, monkeypatch):
    """The same parameters under LPFT_DATA=A then B, one cache: B's features are B's."""
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path))
    for data, other in zip(two_copies(name), reversed(two_copies(name))):
        bench = bench_at(monkeypatch, data, name)
        backbone = build_backbone("test_resnet", "none", bench)
        cached = cached_features(backbone, bench)
        for split_name, split in bench.splits.items():
            np.testing.assert_array_equal(cached[split_name], extract(backbone, bench, split), err_msg=split_name)
        opposite = bench_at(monkeypatch, other, name)
        assert opposite.key != bench.key
        assert not np.array_equal(extract(backbone, opposite, opposite.train), cached["id_train"])


def fresh(monkeypatch, data, **params):
    """The benchmark as a new process builds it (the process keeps the one it built)."""
    _build.cache_clear()
    return bench_at(monkeypatch, data, **params)


@pytest.mark.parametrize("verify", ["mtime", "content"])
def test_a_file_touched_or_rewritten_in_place_is_another_benchmark(verify, two_copies, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(two_copies("cifar10-stl")[0], data)
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path / "cache"))
    params = {} if verify == "mtime" else {"verify": verify}  # mtime is the default
    bench = fresh(monkeypatch, data, **params)
    backbone = build_backbone("test_resnet", "none", bench)
    before = cached_features(backbone, bench)
    assert fresh(monkeypatch, data, **params).key == bench.key  # nothing changed: the same entries

    stl = data / "stl10" / "stl10_binary" / "test_X.bin"
    old = os.stat(stl)
    os.utime(stl, ns=(old.st_atime_ns, old.st_mtime_ns + 10**9))  # touched: the same bytes, a newer mtime
    touched = fresh(monkeypatch, data, **params)
    assert (touched.key != bench.key) == (verify == "mtime")  # content: the bytes are the same

    (np.fromfile(stl, np.uint8) ^ 0x7F).tofile(stl)  # rewritten in place: same name, same size
    if verify == "content":
        os.utime(stl, ns=(old.st_atime_ns, old.st_mtime_ns))  # ... even with its old mtime put back
    assert os.stat(stl).st_size == old.st_size
    rewritten = fresh(monkeypatch, data, **params)
    assert rewritten.key not in (bench.key, touched.key)
    after = cached_features(backbone, rewritten)
    np.testing.assert_array_equal(after["stl10"], extract(backbone, rewritten, rewritten.splits["stl10"]))
    assert not np.array_equal(after["stl10"], before["stl10"])
    np.testing.assert_array_equal(after["id_train"], before["id_train"])  # CIFAR itself did not change


def test_verify_is_mtime_or_content():
    for name in ("cifar10-stl", "imagefolder"):
        with pytest.raises(InputError, match="verify must be one of mtime, content"):
            load_benchmark(name, verify="sometimes")


def entry(folder, key):
    (path,) = folder.glob(f"{key}.*")
    return path


def drop_last_row(path):
    """The entry at `path` with its array one row short, whatever else the file holds."""
    if path.suffix == ".npy":
        np.save(path, np.load(path)[:-1])
        return
    with np.load(path) as z:
        members = {k: z[k] for k in z.files}
    members["array"] = members["array"][:-1]
    with open(path, "wb") as f:
        np.savez(f, **members)


def test_a_cached_array_made_for_another_key_or_of_another_shape_is_made_again(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path))
    bench = load_benchmark("synthetic", n_train=200, n_val=100, n_test=100, n_ood=100)
    backbone = build_backbone("linear", "benchmark", bench)
    truth = {k: extract(backbone, bench, s) for k, s in bench.splits.items()}
    cached_features(backbone, bench)
    folder = tmp_path / "features"
    val, test, ood = (entry(folder, feature_key(backbone, bench, s)) for s in ("id_val", "id_test", "ood"))
    shutil.copyfile(val, test)  # a hand-copied file: id_val's array (the same rows) under id_test's name
    drop_last_row(ood)
    capfd.readouterr()
    got = cached_features(backbone, bench)
    for name, want in truth.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 2, lines  # one line each, saying why
    assert f"rebuilding {test}: it was made for features of {bench.key}/id_val" in lines[0]
    assert f"rebuilding {ood}: it holds 99 rows, features of {bench.key}/ood" in lines[1]
    assert lines[1].endswith("has 100")
    cached_features(backbone, bench)  # the rebuilt entries are read back, silently
    assert capfd.readouterr().err == ""


def test_an_lp_head_cached_for_another_c_path_is_made_again(tmp_path, monkeypatch, capfd):
    bench = load_benchmark("synthetic", n_train=200, n_val=100, n_test=100, n_ood=100)
    backbone = build_backbone("linear", "benchmark", bench)
    weak, strong = LPParams(c_min=1e-4, c_max=1e-4, num_cs=1), LPParams(c_min=10.0, c_max=10.0, num_cs=1)
    heads = {}
    for name, hp in (("weak", weak), ("strong", strong)):
        monkeypatch.setenv("LPFT_CACHE", str(tmp_path / name))
        heads[name] = lp_head(bench, backbone, hp)
    assert not np.allclose(heads["weak"].weight, heads["strong"].weight)
    (weak_file,), (strong_file,) = ((tmp_path / n / "heads").iterdir() for n in ("weak", "strong"))
    shutil.copyfile(weak_file, strong_file)  # the weak head under the strong head's name
    capfd.readouterr()
    again = lp_head(bench, backbone, strong)  # LPFT_CACHE is still the strong one's
    np.testing.assert_array_equal(again.weight, heads["strong"].weight)
    assert again.C == 10.0
    assert "rebuilding" in capfd.readouterr().err
