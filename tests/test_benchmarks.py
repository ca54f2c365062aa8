"""The paper's benchmarks, each read from a tiny fixture in its dataset's real on-disk format."""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from paper_data import (
    CIFAR_CLASSES,
    STL_CLASSES,
    corner_is_top_left,
    write_breeds,
    write_cifar10,
    write_cifar101,
    write_domainnet,
    write_fmow,
    write_imagenet,
    write_stl10,
)

from lpft.data import load_benchmark
from lpft.data.breeds import Hierarchy, breeds_split
from lpft.data.loading import batches
from lpft.errors import InputError
from lpft.models.backbone import build_backbone

SMALL = {"image_size": 32}


def roles(bench):
    return {k: s.role for k, s in bench.splits.items()}


def label_from_colour(img) -> int:
    """Inverse of paper_data.picture's tint (JPEG-tolerant)."""
    a = np.asarray(img).astype(float)
    h = a.shape[0]
    red, blue = a[h // 2:, h // 2:, 0].mean(), a[h // 2:, h // 2:, 2].mean()
    return round((red - 20) / 8) + 10 * round((blue - 20) / 8)


def check_images(bench, n=3):
    """Orientation and label of the first images of every split, and the transformed shape."""
    for name, split in bench.splits.items():
        for i in range(min(n, len(split))):
            img = split.x.load(i)
            assert corner_is_top_left(np.asarray(img)), f"{name}[{i}] is flipped or transposed"
    backbone = build_backbone("test_resnet", "none", bench)
    x, _y = next(batches(bench.splits["id_test"], backbone.inputs, bench, 4))
    size = bench.params.image_size
    assert x.shape == (min(4, len(bench.splits["id_test"])), 3, size, size) and x.dtype == torch.float32


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root)
    write_stl10(root)
    write_cifar101(root)
    return root


def test_cifar10_stl(cifar_root):
    bench = load_benchmark("cifar10-stl", root=str(cifar_root), n_val=20, **SMALL)
    assert bench.num_classes == 10 and list(bench.class_names) == CIFAR_CLASSES
    assert roles(bench) == {"id_train": "id_train", "id_val": "id_val", "id_test": "id_test", "stl10": "ood"}
    assert (len(bench.train), len(bench.splits["id_val"]), len(bench.splits["id_test"])) == (80, 20, 20)
    stl = bench.splits["stl10"]
    assert len(stl) == 18  # 2 per class, monkey dropped
    for i in range(len(stl)):  # each image keeps its own class, renamed to CIFAR's id
        stl_name = STL_CLASSES[label_from_colour(stl.x.load(i))]
        assert CIFAR_CLASSES[stl.y[i]] == {"car": "automobile"}.get(stl_name, stl_name)
    assert CIFAR_CLASSES.index("frog") not in set(stl.y) and set(stl.y) <= set(range(10))
    for i in range(len(bench.train)):
        assert label_from_colour(bench.train.x.load(i)) == bench.train.y[i]
    check_images(bench)


def test_cifar10_cifar101(cifar_root):
    bench = load_benchmark("cifar10-cifar10.1", root=str(cifar_root), n_val=20, **SMALL)
    assert roles(bench)["cifar10.1"] == "ood" and len(bench.splits["cifar10.1"]) == 20
    ood = bench.splits["cifar10.1"]
    assert all(label_from_colour(ood.x.load(i)) == ood.y[i] for i in range(len(ood)))
    check_images(bench)


@pytest.fixture(scope="module")
def breeds_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet")
    return root, write_breeds(root)


def test_breeds_hierarchy_split(breeds_root):
    root, made = breeds_root
    h = Hierarchy(root / "BREEDS-Benchmarks/imagenet_class_hierarchy/modified", "living17")
    supers, source, target = breeds_split(h, 5, "n00004258", 4, "rand")
    names = [made["names"][s] for s in supers]
    assert sorted(names) == ["bird", "cat", "dog"]  # 'rare' has 2 subclasses; car and boat are not living
    for s, a, b in zip(supers, source, target):
        assert len(a) == len(b) == 2 and not set(a) & set(b)
        assert set(a) | set(b) <= set(made["supers"][s])
    assert breeds_split(h, 5, "n00004258", 4, "rand") == (supers, source, target)  # seeded, as BREEDS
    for kind in ("good", "bad"):
        _, a, b = breeds_split(h, 5, "n00004258", 4, kind)
        assert all(len(x) == len(y) == 2 and not set(x) & set(y) for x, y in zip(a, b))


@pytest.mark.parametrize("name, level, ancestor, n_sub, classes", [
    ("living17", 5, "n00004258", 4, ("bird", "cat", "dog")),
    ("entity30", 4, None, 8, ("artifact", "living thing")),
])
def test_breeds_benchmarks(breeds_root, name, level, ancestor, n_sub, classes):
    root, made = breeds_root
    bench = load_benchmark(name, root=str(root), n_val=4, **SMALL)
    assert sorted(bench.class_names) == list(classes) and bench.num_classes == len(classes)
    assert roles(bench) == {"id_train": "id_train", "id_val": "id_val", "id_test": "id_test", "target": "ood"}
    h = Hierarchy(root / "BREEDS-Benchmarks/imagenet_class_hierarchy/modified", name)
    supers, _, _ = breeds_split(h, level, ancestor, n_sub, "rand")
    wnids = {}
    for split_name, split in bench.splits.items():
        folders = {p.split("/")[-2] for p in split.x.paths}
        wnids[split_name] = folders
        for path, label in zip(split.x.paths, split.y):  # the label is the image's superclass
            assert path.split("/")[-2] in h.leaves_under(supers[label])
            assert bench.class_names[label] == made["names"][supers[label]]
        top = {p.split("/")[-3] for p in split.x.paths}
        assert top == ({"train"} if split_name in ("id_train", "id_val") else {"val"})
    assert not wnids["target"] & (wnids["id_train"] | wnids["id_test"])  # unseen subpopulations
    assert wnids["id_test"] == wnids["id_train"] | wnids["id_val"]
    check_images(bench)


def test_domainnet(tmp_path):
    write_domainnet(tmp_path)
    bench = load_benchmark("domainnet", root=str(tmp_path), n_val=2, **SMALL)
    assert bench.num_classes == 40 and bench.class_names[:3] == ("airplane", "apple", "axe")
    assert roles(bench) == {"id_train": "id_train", "id_val": "id_val", "id_test": "id_test",
                            "real": "ood", "painting": "ood", "clipart": "ood"}
    for name, split in bench.splits.items():
        domain = "sketch" if name.startswith("id_") else name
        assert all(f"/{domain}/" in p for p in split.x.paths)
        assert all(label_from_colour(split.x.load(i)) == split.y[i] for i in range(len(split)))
    check_images(bench)


def test_fmow(tmp_path):
    rows = write_fmow(tmp_path)
    bench = load_benchmark("fmow", root=str(tmp_path), n_val=2, **SMALL)
    assert bench.num_classes == 3 and bench.class_names == ("airport", "dam", "park")
    assert roles(bench) == {"id_train": "id_train", "id_val": "id_val", "id_test": "id_test",
                            "africa": "ood", "europe": "ood"}

    def rows_of(split):
        return [rows[int(p.rsplit("_", 1)[1].split(".")[0])] for p in split.x.paths]

    expect = {"id_train": ("train", "2010", {"USA", "BRA"}), "id_val": ("val", "2011", {"USA", "BRA"}),
              "id_test": ("test", "2012", {"USA", "BRA"}), "africa": ("test", "2017", {"NGA"}),
              "europe": ("test", "2017", {"FRA"})}
    for name, (split, year, countries) in expect.items():
        got = rows_of(bench.splits[name])
        assert len(got) == 3 * len(countries)
        assert {r["split"] for r in got} == {split} and {r["timestamp"][:4] for r in got} == {year}
        assert {r["country_code"] for r in got} == countries
        labels = [bench.class_names.index(r["category"]) for r in got]
        assert labels == list(bench.splits[name].y)
    val_ood = load_benchmark("fmow", root=str(tmp_path / "fmow_v1.1"), n_val=2, ood_split="val", **SMALL)
    assert {r["timestamp"][:4] for r in rows_of(val_ood.splits["africa"])} == {"2014"}
    check_images(bench)


def test_imagenet_with_class_subsets(tmp_path):
    root = write_imagenet(tmp_path)
    bench = load_benchmark("imagenet", root=str(root), n_val=2, **SMALL)
    assert bench.num_classes == 4
    assert roles(bench) == {"id_train": "id_train", "id_val": "id_val", "id_test": "id_test", "imagenet_v2": "ood",
                            "imagenet_r": "ood", "imagenet_sketch": "ood", "imagenet_a": "ood"}
    assert list(bench.splits["imagenet_r"].classes) == [0, 1] and list(bench.splits["imagenet_a"].classes) == [0, 1]
    assert bench.splits["imagenet_v2"].classes is None and bench.splits["imagenet_sketch"].classes is None
    for split in bench.splits.values():
        assert all(label_from_colour(split.x.load(i)) == split.y[i] for i in range(len(split)))
    check_images(bench)


def test_class_subset_scoring_ignores_other_classes():
    from lpft.data.base import predict

    logits = np.array([[0.0, 1.0, 5.0, 0.5], [2.0, 1.0, 9.0, 0.0]])
    assert list(predict(logits, None)) == [2, 2]
    assert list(predict(logits, np.array([0, 1]))) == [1, 0]


# Wrong root, missing split, layout that does not match: one line naming the expected path.
@pytest.mark.parametrize("name, breaks, needle", [
    ("cifar10-stl", lambda r: None, "data root not found"),
    ("cifar10-stl", lambda r: (r / "cifar-10-batches-py" / "test_batch").unlink(), "cifar-10-batches-py/test_batch"),
    ("cifar10-stl", lambda r: (r / "stl10_binary" / "test_y.bin").unlink(), "stl10_binary/test_y.bin"),
    ("cifar10-cifar10.1", lambda r: (r / "cifar10.1_v6_labels.npy").unlink(), "cifar10.1_v6_labels.npy"),
])
def test_cifar_layout_errors(tmp_path, name, breaks, needle):
    root = tmp_path / "data"
    if needle != "data root not found":
        write_cifar10(root)
        write_stl10(root)
        write_cifar101(root)
        breaks(root)
    with pytest.raises(InputError) as err:
        load_benchmark(name, root=str(root), n_val=20)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_layout_errors_name_the_path(tmp_path):
    root, _ = tmp_path / "in", write_breeds(tmp_path / "in")
    (root / "BREEDS-Benchmarks/imagenet_class_hierarchy/modified/class_hierarchy.txt").unlink()
    with pytest.raises(InputError, match=re.escape("modified/class_hierarchy.txt")):
        load_benchmark("living17", root=str(root), n_val=4)
    write_domainnet(tmp_path / "dn")
    (tmp_path / "dn/real/axe/real_test_2_1.jpg").unlink()
    with pytest.raises(InputError, match=re.escape("real/axe/real_test_2_1.jpg")):
        load_benchmark("domainnet", root=str(tmp_path / "dn"), n_val=2)
    with pytest.raises(InputError, match=re.escape("SENTRY_splits/sketch_train_mini.txt")):
        load_benchmark("domainnet", root=str(tmp_path / "in"), n_val=2)
    write_fmow(tmp_path / "fm")
    (tmp_path / "fm/fmow_v1.1/country_code_mapping.csv").unlink()
    with pytest.raises(InputError, match=re.escape("fmow_v1.1/country_code_mapping.csv")):
        load_benchmark("fmow", root=str(tmp_path / "fm"), n_val=2)
    im = write_imagenet(tmp_path / "im")
    (im / "val" / "loose.JPEG").write_bytes(b"")
    (im / "val" / "not_a_wnid").mkdir()
    with pytest.raises(InputError, match="val/not_a_wnid is not an ImageNet class folder"):
        load_benchmark("imagenet", root=str(im), n_val=2)


def test_lpft_data_env_and_cli_exit_2(tmp_path, monkeypatch):
    write_domainnet(tmp_path / "domainnet")
    monkeypatch.setenv("LPFT_DATA", str(tmp_path))
    assert load_benchmark("domainnet", n_val=2, **SMALL).num_classes == 40  # $LPFT_DATA/domainnet
    env = {**__import__("os").environ, "LPFT_DATA": str(tmp_path / "nowhere")}
    p = subprocess.run([sys.executable, "-m", "lpft.cli", "run", "imagenet", "--strategy", "lp"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2
    missing = tmp_path / "nowhere" / "imagenet"
    assert p.stderr.strip().splitlines() == [f"lpft: error: imagenet: data root not found: {missing}"]


def test_trials_on_a_fixture_are_the_same_for_any_number_of_workers(cifar_root):
    from lpft.trial import run_trial

    settings = {"root": str(cifar_root), "n_val": 20, "image_size": 32, "augment": True, "backbone": "test_resnet",
                "weights": "none", "epochs": 2, "batch_size": 16}
    runs = [run_trial("cifar10-stl", "ft", {**settings, "workers": w}).result for w in (0, 2)]
    assert runs[0].status == "completed"
    assert {e.eval_set for e in runs[0].evaluations} == {"id_val", "id_test", "stl10"}
    assert [e.accuracy for e in runs[0].evaluations] == [e.accuracy for e in runs[1].evaluations]
    lp = run_trial("cifar10-stl", "lp", {k: v for k, v in settings.items() if k not in ("epochs", "batch_size")}
                   | {"num_cs": 3}).result
    assert {e.eval_set for e in lp.evaluations} == {"id_val", "id_test", "stl10"} and len(lp.evaluations) == 9


def test_a_crafted_cifar_pickle_cannot_run_code(tmp_path):
    """A pickle whose reduce calls os.system is refused by name before anything runs."""
    from conftest import code_running_pickle

    from lpft.data.cifar import _unpickle

    marker, path = tmp_path / "ran", tmp_path / "batches.meta"
    path.write_bytes(code_running_pickle(b"label_names", marker))
    with pytest.raises(InputError, match=r"refusing (posix|os)\.system"):
        _unpickle(path, "cifar10-stl")
    assert not marker.exists()
