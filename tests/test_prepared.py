"""The node's prepared copy of image files (issue 28, item 1): the same eval inputs as decoding
the files, training crops as torchvision draws them and the same for any worker count, one build
per node even when workers race, and a copy that is damaged, foreign, over budget or off never
read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from image_folders import write_tree
from PIL import Image

import lpft.data.prepared as prepared_mod
from lpft.cachedir import PREPARED_ENV, read_header
from lpft.data import load_benchmark
from lpft.data.crops import random_crop
from lpft.data.loading import Inputs, batches
from lpft.errors import InputError

INPUTS = Inputs((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LPFT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(PREPARED_ENV, "auto")
    prepared_mod._opened.clear()
    yield tmp_path / "cache" / "prepared"
    prepared_mod._opened.clear()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Every format and mode the imagefolder fixture has (greyscale, palette, RGBA, webp)."""
    return write_tree(tmp_path_factory.mktemp("prepared") / "tree", per_class=12)


def bench(tree, **kw):
    return load_benchmark("imagefolder", root=str(tree), image_size=16, **kw)


def run(b, split, setting, monkeypatch, *, train=False, workers=0, inputs=INPUTS, seed=3):
    monkeypatch.setenv(PREPARED_ENV, setting)
    gen = torch.Generator().manual_seed(seed)
    return [(x, y) for x, y in batches(b.splits[split], inputs, b, 8, train=train, generator=gen, workers=workers)]


def copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.img")) if folder.exists() else []


@pytest.mark.parametrize("size", [None, 20])
def test_eval_inputs_are_those_of_the_files_to_the_bit(tree, cache, monkeypatch, size):
    """Every eval set, also at a backbone's own input size (another resize, another copy)."""
    b = bench(tree)
    inputs = Inputs(INPUTS.mean, INPUTS.std, size=size)
    for split in b.eval_sets:
        files = run(b, split, "off", monkeypatch, inputs=inputs)
        ours = run(b, split, "auto", monkeypatch, inputs=inputs)
        assert len(files) == len(ours)
        for (xf, yf), (xo, yo) in zip(files, ours):
            assert xo.shape == xf.shape and torch.equal(xo, xf) and torch.equal(yo, yf)
    # one copy per folder of files the sets were taken from (val/, test/, and each OOD set's)
    made = copies(cache)
    assert len(made) == len({id(s.x.root) for s in b.eval_sets.values()})
    assert all(f"-{b.transforms.sizes(size)[1]}px-" in p.name for p in made)


def test_training_crops_are_torchvisions_draws_the_same_with_or_without_the_copy_and_any_workers(
        tree, cache, monkeypatch):
    b = bench(tree)
    first = run(b, "id_train", "auto", monkeypatch, train=True)
    again = run(b, "id_train", "auto", monkeypatch, train=True, workers=2)
    files = run(b, "id_train", "off", monkeypatch, train=True, workers=2)  # decoded on demand: the same run
    other = run(b, "id_train", "auto", monkeypatch, train=True, seed=4)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(first, again))
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(first, files))
    assert not all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(first, other))  # the seed matters
    # Against torchvision itself on one prepared image: the same box and flip from the same seed
    # (its RandomResizedCrop + flip on the PIL image), pixels within interpolation's rounding.
    from torchvision import transforms as T

    img = prepared_mod.prepared(b.train.x, 18, b.name, b.fingerprint).array(0)
    big = np.asarray(Image.fromarray(img).resize((180, 200), Image.BILINEAR))  # room for distinct boxes
    flips = 0
    for seed in range(20):
        torch.manual_seed(seed)
        ours = random_crop(big, 64).permute(1, 2, 0).numpy().astype(int)
        torch.manual_seed(seed)
        theirs = np.asarray(T.Compose([T.RandomResizedCrop(64), T.RandomHorizontalFlip()])(Image.fromarray(big)),
                            dtype=int)
        assert np.abs(ours - theirs).mean() < 3, seed
        flips += np.abs(ours - theirs[:, ::-1]).mean() < np.abs(ours - theirs).mean()
    assert flips == 0


def test_a_truncated_or_foreign_copy_is_never_read_and_is_built_again(tree, cache, monkeypatch, capfd):
    b = bench(tree)
    run(b, "sketch", "auto", monkeypatch)
    other = copies(cache)[0]
    want = run(b, "id_test", "auto", monkeypatch)
    path = next(p for p in copies(cache) if p != other)
    capfd.readouterr()
    for damage in ("truncate", "foreign"):
        if damage == "truncate":
            with open(path, "r+b") as f:
                f.truncate(path.stat().st_size - 100)
            with pytest.raises(ValueError, match=r"not the .* its header says"):
                read_header(path)
        else:  # another listing's whole copy renamed into this one's place
            path.write_bytes(other.read_bytes())
        prepared_mod._opened.clear()
        got = run(b, "id_test", "auto", monkeypatch)
        assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(want, got))
        assert "prepared" in capfd.readouterr().err  # built again, said so
        assert read_header(path)[0]["n"] == len(b.splits["id_test"].x.root)


def test_workers_racing_to_build_one_copy_build_it_once(tree, tmp_path):
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "from lpft.data import load_benchmark\nfrom lpft.data.loading import batches, Inputs\n"
              f"b = load_benchmark('imagefolder', root={str(tree)!r}, image_size=16)\n"
              "x = next(iter(batches(b.train, Inputs((0.5,)*3, (0.5,)*3), b, 4)))[0]\n"
              "print(float(x.sum()))\n")
    env = {**os.environ, "LPFT_CACHE": str(tmp_path / "race"), PREPARED_ENV: "auto"}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({o for o, _ in outs}) == 1  # the same first batch in each
    assert sum(e.count("prepared 36 images") for _, e in outs) == 1  # one built, the others waited and read it
    folder = tmp_path / "race" / "prepared"
    assert len(copies(folder)) == 1 and not list(folder.glob(".*.tmp"))


def test_over_budget_says_so_in_one_line_and_reads_the_files(tree, cache, monkeypatch, capfd):
    b = bench(tree)
    want = run(b, "id_test", "off", monkeypatch)
    assert copies(cache) == []  # off: nothing written
    got = run(b, "id_test", "2K", monkeypatch)
    err = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("lpft:")]
    assert len(err) == 1 and "would take about" in err[0] and f"{PREPARED_ENV}=2.0 KiB" in err[0], err
    assert copies(cache) == []
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(want, got))


def test_a_budget_makes_room_by_dropping_the_least_recently_used_copy(tree, cache, monkeypatch):
    b = bench(tree)
    run(b, "id_test", "auto", monkeypatch)
    run(b, "sketch", "auto", monkeypatch)
    first, second = sorted(copies(cache), key=lambda p: p.stat().st_mtime)
    os.utime(first, (1, 1))  # used long ago
    prepared_mod._opened.clear()
    run(b, "night", str(second.stat().st_size + first.stat().st_size), monkeypatch)
    left = copies(cache)
    assert first not in left and second in left and len(left) == 2


def test_an_image_that_fails_to_decode_is_the_same_one_line_error(tree, cache, monkeypatch, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tree, broken)
    b = bench(broken)  # which decodes every image: the file is cut after, as on a disk that changed
    victim = sorted((broken / "train" / "dark").glob("*.jpg"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    errors = []
    for setting in ("off", "auto"):
        with pytest.raises(InputError) as e:
            for workers in (0, 2):
                prepared_mod._opened.clear()
                run(b, "id_train", setting, monkeypatch, workers=workers)
        errors.append(str(e.value))
    assert errors[0] == errors[1] and errors[0].startswith(f"unreadable image {victim}")
    assert "\n" not in errors[1]
    assert copies(cache) == [] and not list(cache.glob(".*.tmp"))


def test_the_cache_command_lists_and_clears_prepared_copies(tree, cache, monkeypatch, capsys):
    from lpft.cli import main

    b = bench(tree)
    run(b, "id_test", "auto", monkeypatch)
    capsys.readouterr()
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert "prepared images" in out and "resize18" in out
    assert main(["cache", "clear"]) == 0
    assert copies(cache) == []


@pytest.mark.parametrize(("value", "stored"), [("auto", "auto"), ("off", "off"), (False, "off"), ("200G", "200G")])
def test_the_spec_key(value, stored):
    from lpft.sweeps.spec import parse_spec

    spec = {"name": "p", "benchmark": "synthetic", "strategies": {"lp": {}}}
    assert parse_spec({**spec, "prepared_images": value}).prepared_images == stored
    with pytest.raises(InputError, match=r"^prepared_images must be auto, off or a size"):
        parse_spec({**spec, "prepared_images": "big"})


def test_the_feature_caches_bound_never_evicts_a_copy_and_a_shared_feature_cache_leaves_it_on_the_node(
        tree, cache, monkeypatch, tmp_path):
    from lpft.cachedir import MAX_SIZE_ENV, NODE_CACHE_ENV, evict

    b = bench(tree)
    run(b, "id_test", "auto", monkeypatch)
    feature = cache.parent / "features" / "x.npz"
    feature.parent.mkdir(parents=True)
    feature.write_bytes(b"0" * 100)
    monkeypatch.setenv(MAX_SIZE_ENV, "200")  # smaller than the copy: it would go first by age
    os.utime(copies(cache)[0], (1, 1))
    evict(feature)
    assert len(copies(cache)) == 1 and feature.exists()
    monkeypatch.setenv(NODE_CACHE_ENV, str(tmp_path / "node"))  # as a trial with a shared feature_cache sets it
    prepared_mod._opened.clear()
    run(b, "sketch", "auto", monkeypatch)
    assert len(copies(tmp_path / "node" / "prepared")) == 1 and len(copies(cache)) == 1


def test_the_size_is_estimated_from_a_sample_of_headers(tree):
    b = bench(tree)
    source = b.train.x.root
    exact = prepared_mod.estimate(source, 18)
    widths = [Image.open(p).size for p in source.paths]
    assert exact == sum(3 * w * h for w, h in (prepared_mod.resized_size(*s, 18) for s in widths))
    assert exact <= prepared_mod.estimate(source, 18, sample=5) <= 1.1 * exact + 1
