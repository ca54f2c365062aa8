"""`imagefolder`: a researcher's own folder of images (or a manifest of them) as a benchmark."""

import csv
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from image_folders import CLASSES, LEVEL, write_set, write_tree

from lpft.cli import main
from lpft.data import load_benchmark
from lpft.data.images import to_rgb
from lpft.errors import InputError
from lpft.trial import run_trial


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("imagefolder") / "full")


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """train/ and ood/ only: val and test are held out of train."""
    return write_tree(tmp_path_factory.mktemp("imagefolder") / "bare", per_class=30, val=False, test=False)


def brightness_class(split, i):
    img = np.asarray(to_rgb(split.x.load(i)), dtype=float)
    return min(LEVEL, key=lambda c: abs(LEVEL[c] - img.mean()))


def test_classes_labels_roles_and_shapes(full):
    bench = load_benchmark("imagefolder", root=str(full), image_size=32)
    assert bench.class_names == CLASSES and bench.num_classes == 3
    assert {k: s.role for k, s in bench.splits.items()} == {
        "id_train": "id_train", "id_val": "id_val", "id_test": "id_test", "night": "ood", "sketch": "ood"}
    assert [len(bench.splits[k]) for k in ("id_train", "id_val", "id_test", "night", "sketch")] == [60, 12, 12, 8, 12]
    for split in bench.splits.values():  # every label is the image's own class, whatever its format
        assert all(CLASSES[split.y[i]] == brightness_class(split, i) for i in range(len(split)))
    assert list(bench.splits["night"].classes) == [0, 1] and bench.splits["sketch"].classes is None
    assert any("night covers 2 of 3 classes" in n for n in bench.notes)
    modes = {split.x.load(i).mode for split in bench.splits.values() for i in range(len(split))}
    assert modes == {"RGB"}  # greyscale, palette and RGBA files all arrive as RGB
    from lpft.data.loading import Inputs, batches

    x, y = next(batches(bench.splits["id_test"], Inputs((0.5,) * 3, (0.5,) * 3), bench, 5))
    assert x.shape == (5, 3, 32, 32) and y.dtype.is_floating_point is False


def test_val_and_test_held_out_of_train_when_absent(bare):
    bench = load_benchmark("imagefolder", root=str(bare), image_size=32)
    train, val, test = (set(bench.splits[k].x.paths) for k in ("id_train", "id_val", "id_test"))
    assert len(val) == len(test) == 9 and len(train) == 72  # a tenth each of 90
    assert not (train & val) and not (train & test) and not (val & test)
    again = load_benchmark("imagefolder", root=str(bare), image_size=32, split_seed=1)
    assert set(again.splits["id_val"].x.paths) != val  # the split seed decides
    n = load_benchmark("imagefolder", root=str(bare), image_size=32, n_val=20, n_test=5)
    assert (len(n.splits["id_val"]), len(n.splits["id_test"])) == (20, 5)


@pytest.mark.parametrize("layout", ["full", "bare"])
def test_a_probe_separates_the_fixture_on_every_set(layout, request):
    root = request.getfixturevalue(layout)
    result = run_trial("imagefolder", "lp", {"root": str(root), "image_size": 64, "num_cs": 10}).result
    assert set(result.final) == {"id_val", "id_test", "night", "sketch"}
    assert min(result.final.values()) >= 0.95, result.final


def manifest_rows(root):
    rows = []
    for split, folder in (("train", "train"), ("val", "val"), ("test", "test"), ("ood:night", "ood/night"),
                          ("ood:sketch", "ood/sketch")):
        for path in sorted((root / folder).rglob("*.*")):
            rows.append({"path": str(path.relative_to(root)), "label": path.parent.name, "split": split})
    return rows


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_manifest_gives_the_same_splits(full, kind):
    rows = manifest_rows(full)
    path = full / f"manifest.{kind}"
    if kind == "csv":
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, ["path", "label", "split"])
            writer.writeheader()
            writer.writerows(rows[::-1])  # any row order
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    folder = load_benchmark("imagefolder", root=str(full), image_size=32)
    listed = load_benchmark("imagefolder", manifest=str(path), image_size=32)
    assert listed.class_names == folder.class_names
    for name, split in folder.splits.items():
        other = listed.splits[name]
        assert other.x.paths == split.x.paths and list(other.y) == list(split.y) and other.role == split.role
        assert (other.classes is None) == (split.classes is None)


def error_of(capsys, *settings):
    code = main(["run", "imagefolder", "--strategy", "lp", *(a for s in settings for a in ("--set", s))])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    return err


def test_bad_folders_and_files_are_one_line(tmp_path, capsys):
    assert "expected class folders at" in error_of(capsys, f"root={tmp_path}")
    root = write_tree(tmp_path / "t", per_class=2, val=False, test=False)
    write_set(root / "ood" / "zoo", 1, classes=("giraffe",))
    assert f"{root / 'ood' / 'zoo' / 'giraffe'}: class 'giraffe' is not one of train's classes" in error_of(
        capsys, f"root={root}")
    (root / "ood" / "zoo" / "giraffe").rename(root / "ood" / "zoo" / "dark")
    broken = root / "train" / "mid" / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert f"unreadable image {broken}" in error_of(capsys, f"root={root}")
    bench = load_benchmark("imagefolder", root=str(root), image_size=32, skip_bad=True, n_val=1, n_test=1)
    assert str(broken) not in bench.train.x.paths
    assert any("skipped 1 unreadable images" in n for n in bench.notes)
    (root / "train" / "loose.png").write_bytes(b"")
    assert "images go in" in error_of(capsys, f"root={root}")


def test_bad_manifests_are_one_line(tmp_path, capsys):
    assert "manifest not found" in error_of(capsys, f"manifest={tmp_path / 'm.csv'}")
    (tmp_path / "m.csv").write_text("path,split\na.jpg,train\n")
    assert "column 'label' is missing" in error_of(capsys, f"manifest={tmp_path / 'm.csv'}")
    (tmp_path / "m.csv").write_text("path,label,split\na.jpg,cat,holdout\n")
    assert "row 2: split 'holdout' is not train, val, test or ood:<name>" in error_of(
        capsys, f"manifest={tmp_path / 'm.csv'}")
    (tmp_path / "m.csv").write_text("path,label,split\na.jpg,cat,train\n")
    assert f"unreadable image {tmp_path / 'a.jpg'}" in error_of(capsys, f"manifest={tmp_path / 'm.csv'}")
    with pytest.raises(InputError, match="n_val must be >= 0"):
        load_benchmark("imagefolder", manifest=str(tmp_path / "m.csv"), n_val=-1)


def test_hidden_files_empty_sets_and_reserved_names(tmp_path, capsys):
    root = write_tree(tmp_path / "t", per_class=3, val=False, test=False)
    (root / "train" / ".DS_Store").write_bytes(b"\0")
    (root / "train" / "dark" / "._img000.jpg").write_bytes(b"AppleDouble")  # macOS metadata, not an image
    bench = load_benchmark("imagefolder", root=str(root), image_size=32, n_val=1, n_test=1)
    assert bench.class_names == ("bright", "dark", "mid") and bench.num_classes == 3
    (root / "ood" / "fog").mkdir()
    assert f"{root / 'ood' / 'fog'} holds no images" in error_of(capsys, f"root={root}")
    (root / "ood" / "fog").rmdir()
    write_set(root / "ood" / "id_extra", 1, classes=("dark",))
    assert "OOD set 'id_extra': names starting id_ are ID splits" in error_of(capsys, f"root={root}")


def test_manifest_cells_are_checked(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("path,label,split\n,cat,train\n")
    assert "row 2: empty path or label" in error_of(capsys, f"manifest={tmp_path / 'm.csv'}")
    pq.write_table(pa.table({"path": [1, 2], "label": [0, 1], "split": ["train", "train"]}), tmp_path / "m.parquet")
    assert f"unreadable image {tmp_path / '1'}" in error_of(capsys, f"manifest={tmp_path / 'm.parquet'}")


def test_the_walk_reads_regular_files_inside_root_only(tmp_path, capsys):
    root = write_tree(tmp_path / "t", per_class=3, val=False, test=False)
    outside = write_set(tmp_path / "elsewhere", 1, classes=("mid",))[0]
    pipe = root / "train" / "mid" / "pipe.png"
    os.mkfifo(pipe)  # opening it would wait for a writer forever
    assert f"{pipe} is not a regular file" in error_of(capsys, f"root={root}")
    pipe.unlink()
    link = root / "train" / "mid" / "linked.png"
    link.symlink_to(outside)
    assert f"{link} is a symbolic link out of root" in error_of(capsys, f"root={root}")
    link.unlink()
    (root / "train" / "everything").symlink_to("/")  # would list the whole file system
    assert f"{root / 'train' / 'everything'} is a symbolic link out of root (to '/')" in error_of(
        capsys, f"root={root}")
    (root / "train" / "everything").unlink()
    (root / "ood" / "night").rename(tmp_path / "night")
    (root / "ood" / "night").symlink_to(tmp_path / "night")  # an eval set's folder too
    assert "ood/night is a symbolic link out of root" in error_of(capsys, f"root={root}")
    (root / "ood" / "night").unlink()
    (root / "ood" / "night").symlink_to(root / "ood" / "sketch")  # a link inside root is followed
    assert len(load_benchmark("imagefolder", root=str(root), image_size=32, n_val=1, n_test=1).splits["night"]) == 12
    assert "more than 5 files and folders under" in error_of(capsys, f"root={root}", "max_files=5")


def test_classes_are_two_or_more_each_with_training_images_and_plain_names(tmp_path, capsys):
    root = write_tree(tmp_path / "t", per_class=3, val=False, test=False)
    (root / "train" / "empty").mkdir()
    assert "class 'empty' has no training images" in error_of(capsys, f"root={root}")
    (root / "train" / "empty").rmdir()
    (root / "train" / "mid").rename(root / "train" / "mi\nd")
    assert "the train name 'mi\\nd' holds a control character" in error_of(capsys, f"root={root}")
    one = tmp_path / "one"
    write_set(one / "train", 4, classes=("bright",))
    assert "1 class ('bright'); a classifier needs at least two" in error_of(capsys, f"root={one}")
    write_set(one / "ood" / "fo\tg", 1, classes=("bright",))
    assert "the ood:fo\tg name 'fo\\tg' holds a control character" in error_of(capsys, f"root={one}")


def test_a_manifest_reads_regular_files_and_plain_labels(tmp_path, capsys):
    images = write_set(tmp_path / "imgs", 2, classes=("a", "b"))
    os.mkfifo(tmp_path / "pipe.png")
    rows = [f"{p},{p.parent.name},train" for p in images]
    (tmp_path / "m.csv").write_text("path,label,split\n" + "\n".join([*rows, "pipe.png,a,train"]) + "\n")
    assert f"unreadable image {tmp_path / 'pipe.png'}: not a regular file" in error_of(
        capsys, f"manifest={tmp_path / 'm.csv'}")
    (tmp_path / "m.csv").write_text("path,label,split\n" + "\n".join([*rows, f'{images[0]},"a\tb",train']) + "\n")
    assert "the train name 'a\\tb' holds a control character" in error_of(capsys, f"manifest={tmp_path / 'm.csv'}")
