"""Safe to open anything (issue 25): a results folder someone else wrote, damaged or hostile, is
one line naming the file and what is wrong (exit 2, nothing written), or with --skip-bad left
out and counted; `lpft analyze --out rep` never writes outside `rep`."""

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lpft.cli import main
from lpft.dataset import HparamColumns, write_trial

HPARAMS = HparamColumns({"lr": float, "seed": int})
SETS = (("id_val", "id_val"), ("id_test", "id_test"), ("shift", "ood"))
TRIALS = {("ft", "a", 0, 0.1): (.85, .90, .50), ("ft", "b", 1, 0.1): (.85, .92, .54),
          ("ft", "c", 0, 1.0): (.80, .82, .40), ("lp", "e", 0, None): (.75, .74, .66)}


def sweep_folder(root, sweep="s"):
    """A small sweep's results: three FT trials and one LP trial, two steps each."""
    for (strategy, trial, seed, lr), accs in TRIALS.items():
        rows = [{"sweep": sweep, "strategy": strategy, "trial_id": trial, "seed": seed, "step": step,
                 "eval_set": name, "role": role, "accuracy": acc - 0.01 * step, "hp.lr": lr, "hp.seed": seed}
                for step in (1, 2) for (name, role), acc in zip(SETS, accs)]
        write_trial(root / "results", strategy, trial, rows, HPARAMS)
    return root


def every_file(root):
    return sorted((root / "results").rglob("*.parquet"))


def rewrite(file, change):
    """The file as `change(table)` returns it (its footer's constants go: they would describe the old rows)."""
    pq.write_table(change(pq.read_table(file)), file)


def set_column(name, values):
    return lambda t: t.set_column(t.schema.get_field_index(name), name, values(t))


def files_under(root):
    return set(root.rglob("*"))


def analyze(*args):
    return main(["analyze", *map(str, args)])


@pytest.mark.parametrize("column", ["sweep", "benchmark", "eval_set", "trial_id"])
@pytest.mark.parametrize("value", ["{tmp}/ABS", "../../ESCAPE", "a/b", "..", "s\nx", "x" * 101])
def test_analyze_writes_nothing_outside_out_whatever_the_names_in_the_files(tmp_path, capsys, column, value):
    """Two sweeps (so each gets its report folder, `--out` joined with its name); every file of the
    second names its sweep (or benchmark, eval set, trial) as a path. Refused before anything is
    written; with --skip-bad the second sweep has no file left, refused the same way."""
    value = value.format(tmp=tmp_path)
    good, bad = sweep_folder(tmp_path / "good", "good"), sweep_folder(tmp_path / "bad", "bad")
    for file in every_file(bad):
        rewrite(file, set_column(column, lambda t: pa.array([value] * t.num_rows, pa.string()) if column != "eval_set"
                                 else pc.replace_substring(t[column], "shift", value)))
    before = files_under(tmp_path)
    for extra in ([], ["--skip-bad"]):
        assert analyze(good, bad, "--out", tmp_path / "out" / "rep", *extra) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert not extra or "no readable results" in err
        assert extra or (f"{column} {value!r:.40}" in err and "a.parquet" in err and "not a plain name" in err), err
    assert files_under(tmp_path) == before  # nothing written anywhere: not in rep, not beside it


@pytest.mark.parametrize("column, value", [("sweep", "../../ESCAPE"), ("benchmark", "/abs"),
                                           ("eval_set", "../../../e"), ("trial_id", "../../t")])
def test_one_hostile_file_is_left_out_with_skip_bad_and_the_report_stays_inside_out(tmp_path, capsys, column, value):
    root = sweep_folder(tmp_path / "data")
    a = root / "results" / "strategy=ft" / "a.parquet"
    rewrite(a, set_column(column, lambda t: pa.array([value] * t.num_rows, pa.string())))
    before = files_under(tmp_path)
    out = tmp_path / "out" / "rep"
    assert analyze(root, "--out", out, "--skip-bad") == 0
    assert "left out 1 bad results file (--skip-bad)" in capsys.readouterr().out
    assert (out / "report.html").is_file()
    assert all(out in p.parents or p in (out, out.parent) for p in files_under(tmp_path) - before)


def _null(name):
    return set_column(name, lambda t: pa.nulls(t.num_rows, t.schema.field(name).type))


def _without_role(role):
    return lambda t: t.filter(pc.not_equal(t["role"], role))


def _metadata(key, value):
    return lambda t: t.replace_schema_metadata({**t.schema.metadata, key: value})


@pytest.mark.parametrize("damage, needle", [
    (_null("eval_set"), "column 'eval_set' is null in 6 rows"),
    (_null("trial_id"), "column 'trial_id' is null in 6 rows"),
    (_null("step"), "column 'step' is null in 6 rows"),  # was: "step None ... recorded twice"
    (_null("seed"), "column 'seed' is null in 6 rows"),
    (_null("role"), "column 'role' is null in 6 rows"),
    (_without_role("id_val"), "no id_val rows"),
    (_without_role("ood"), "no ood rows"),
    (_without_role("id_test"), "no id_test rows"),
    (lambda t: t.filter(pc.equal(t["role"], "ood")),  # two roles missing: the whole sentence
     "no id_val and no id_test rows (the analysis needs each trial's id_val, id_test, ood accuracies)"),
    (set_column("role", lambda t: pa.array(["weird"] * t.num_rows)), "eval set 'id_val' has role 'weird'"),
    (_metadata(b"lpft.step_hparams", b"{not json"), "metadata lpft.step_hparams is not a JSON list of names"),
    (_metadata(b"lpft.path_hparams", b'{"alpha": 1}'), "metadata lpft.path_hparams is not a JSON list of names"),
    (_metadata(b"lpft.step_hparams", b"[1, 2]"), "metadata lpft.step_hparams is not a JSON list of names"),
])
def test_a_damaged_file_is_one_line_or_left_out_and_counted(tmp_path, capsys, damage, needle):
    root = sweep_folder(tmp_path / "data")
    rewrite(root / "results" / "strategy=ft" / "a.parquet", damage)
    assert analyze(root, "--out", tmp_path / "r1") == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "strategy=ft/a.parquet" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r1").exists()  # nothing half-written
    assert analyze(root, "--out", tmp_path / "r2", "--skip-bad") == 0
    assert "left out 1 bad results file (--skip-bad)" in capsys.readouterr().out
    assert (tmp_path / "r2" / "report.html").is_file()


def test_a_footer_that_lies_about_its_rows_is_not_trusted(tmp_path, capsys):
    """lpft.constant is only a shortcut: a footer whose shape is not lpft's is read as columns."""
    from lpft.dataset import write_table
    from lpft.footer import CONSTANT_KEY

    root = sweep_folder(tmp_path / "data")
    a = root / "results" / "strategy=ft" / "a.parquet"
    for footer in ({"rows": -6, "columns": {}}, {"rows": 6, "columns": ["trial_id"]}, [1]):
        write_table(pq.read_table(a), a, {CONSTANT_KEY: json.dumps(footer).encode()})
        assert analyze(root, "--out", tmp_path / "r") == 0, capsys.readouterr().err


def test_a_whole_sweep_without_ood_sets_is_one_line(tmp_path, capsys):
    root = sweep_folder(tmp_path / "data")
    for file in every_file(root):
        rewrite(file, _without_role("ood"))
    assert analyze(root, "--out", tmp_path / "r") == 2
    assert "no ood rows" in capsys.readouterr().err
    assert analyze(root, "--out", tmp_path / "r", "--skip-bad") == 2
    err = capsys.readouterr().err.strip()
    assert "no readable results" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_an_unreachable_object_store_is_one_line(tmp_path, capsys, monkeypatch):
    from conftest import free_port

    port = free_port()  # nothing listens there
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(key, value)
    assert analyze("s3://lpft/sweeps/s", "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lpft: error: s3://lpft/sweeps/s: cannot list results") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_a_hostile_file_on_s3_is_named_by_its_uri(tmp_path, capsys, s3_env, monkeypatch):
    """Object stores are read through Arrow's dataset: each row still knows its file."""
    for key, value in s3_env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    local = sweep_folder(tmp_path / "data")
    hostile = str(tmp_path / "ABS")  # an absolute path: the report's folder, before the fix
    rewrite(local / "results" / "strategy=ft" / "b.parquet",
            set_column("sweep", lambda t: pa.array([hostile] * t.num_rows)))
    from lpft.storage import locate

    remote = locate("s3://lpft/hostile")
    for file in every_file(local):
        with (remote / str(file.relative_to(local))).open_write() as f:
            f.write(file.read_bytes())
    assert analyze("s3://lpft/hostile", "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err.strip()
    assert f"s3://lpft/hostile/results/strategy=ft/b.parquet: sweep {hostile!r} is not a plain name" in err, err
    assert analyze("s3://lpft/hostile", "--out", tmp_path / "r", "--skip-bad") == 0
    assert "left out 1 bad results file" in capsys.readouterr().out
    assert not (tmp_path / "ABS").exists()


def test_a_benchmark_never_writes_an_eval_set_name_the_analysis_would_refuse():
    import numpy as np

    from lpft.data.base import Benchmark, Split
    from lpft.errors import InputError

    split = Split(np.zeros((2, 3)), np.zeros(2, np.int64), "ood")
    ok = {"id_train": split, "id_val": split, "id_test": split}
    Benchmark("b", None, {**ok, "sketch": split}, 2, ("linear", "benchmark"))
    for name in ("../x", "my set", "a\nb"):
        with pytest.raises(InputError, match="it names the analysis's files"):
            Benchmark("b", None, {**ok, name: split}, 2, ("linear", "benchmark"))


def test_a_damaged_trials_table_or_spec_beside_the_results_is_ignored_not_a_traceback(tmp_path, capsys):
    """What the analysis reads beside the results (trials.parquet's budgets, spec.yaml's name) only
    adds context: damaged, it is left out; the sweep's name is never a terminal's escape sequence."""
    root = sweep_folder(tmp_path / "data")
    table = pa.table({"strategy": ["ft"], "status": ["interrupted"]})
    with pq.ParquetWriter(root / "trials.parquet", table.schema) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata({b"lpft.budget": b"[1, 2]", b"lpft.interrupted": b"SIGINT"})  # not a mapping
    (root / "spec.yaml").write_text('name: "evil\\n\\x1b[31mred"\n')
    assert analyze(root, "--out", tmp_path / "r") == 0, capsys.readouterr().err
    assert "\x1b" not in capsys.readouterr().out
    assert "<title>lpft report: data</title>" in (tmp_path / "r" / "report.html").read_text()


def _add_rows(file, rows):
    """`rows` (dicts of some columns) appended to the file, the rest of each copied from its first row."""
    t = pq.read_table(file)
    first = t.slice(0, 1).to_pylist()[0]
    extra = pa.Table.from_pylist([{**first, **r} for r in rows], schema=t.schema)
    pq.write_table(pa.concat_tables([t, extra]), file)


def test_a_conflict_names_its_file_step_and_eval_set_and_an_adapted_score_is_no_conflict(tmp_path, capsys):
    root = sweep_folder(tmp_path)
    a = next(f for f in every_file(root) if "trial_id=a" in str(f) or f.stem == "a")
    # A BatchNorm-adapted score of the same step and set is another evaluation, not a repeat.
    _add_rows(a, [{"step": 2, "eval_set": "shift", "role": "ood", "accuracy": 0.77, "adapt": "bn"}])
    assert analyze(root, "--out", tmp_path / "rep1") == 0
    _add_rows(a, [{"step": 2, "eval_set": "shift", "role": "ood", "accuracy": 0.11}])
    assert analyze(root, "--out", tmp_path / "rep2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{a}: step 2 on shift is recorded twice with different accuracies" in err[0], err


def test_two_strategies_may_name_a_trial_alike_without_a_conflict(tmp_path, capsys):
    """A trial is named within its strategy (results/strategy=<s>/<trial>.parquet): the same name
    under two strategies is two trials, not one evaluation recorded twice."""
    root = sweep_folder(tmp_path)
    rows = [{"sweep": "s", "strategy": "lp", "trial_id": "a", "seed": 0, "step": step, "eval_set": name,
             "role": role, "accuracy": acc - 0.02 * step, "hp.lr": None, "hp.seed": 0}
            for step in (1, 2) for (name, role), acc in zip(SETS, (.7, .7, .6))]
    write_trial(root / "results", "lp", "a", rows, HPARAMS)
    assert analyze(root, "--out", tmp_path / "rep") == 0, capsys.readouterr().err


def test_with_a_real_repeat_found_a_namesake_trial_and_an_adapted_score_are_still_no_repeat(tmp_path, capsys):
    """The two cases above one at a time never reach the full duplicate search (the analysis's pivot
    finds no repeat first); beside a real repeat they do, and must still not count as repeats."""
    root = sweep_folder(tmp_path)
    rows = [{"sweep": "s", "strategy": "lp", "trial_id": "a", "seed": 0, "step": step, "eval_set": name,
             "role": role, "accuracy": acc - 0.02 * step, "hp.lr": None, "hp.seed": 0}
            for step in (1, 2) for (name, role), acc in zip(SETS, (.7, .7, .6))]
    write_trial(root / "results", "lp", "a", rows, HPARAMS)  # ft's trial "a" has other accuracies
    ft = root / "results" / "strategy=ft"
    _add_rows(ft / "b.parquet", [{"step": 2, "eval_set": "shift", "role": "ood", "accuracy": 0.77, "adapt": "bn"}])
    _add_rows(ft / "c.parquet", [{"step": 2, "eval_set": "shift", "role": "ood", "accuracy": 0.11}])  # the repeat
    assert analyze(root, "--skip-bad", "--out", tmp_path / "rep") == 0
    out = capsys.readouterr()
    assert "left out 1 bad results file (--skip-bad)" in out.out, out
    assert "c.parquet: step 2 on shift is recorded twice" in out.out + out.err, out


def test_an_evaluation_twice_is_looked_for_among_the_files_left_after_the_damaged_ones():
    """row_problems by hand, on four files: 0 holds an accuracy of 1.5 (damaged); 1 and 2 record
    one evaluation with different accuracies (both named); 3 records one of file 0's evaluations
    with another accuracy, which is no clash once file 0 is left out."""
    import polars as pl

    from lpft.row_checks import FILE, row_problems

    def row(file, trial, step, eval_set, accuracy):
        return {FILE: file, "sweep": "s", "benchmark": "b", "strategy": "ft", "trial_id": trial, "seed": 0,
                "step": step, "eval_set": eval_set, "role": "ood" if eval_set == "shift" else eval_set,
                "accuracy": accuracy}

    frame = pl.DataFrame([row(0, "t0", 1, "id_val", 1.5), row(0, "t0", 2, "id_val", 0.5),
                          row(1, "t1", 1, "id_val", 0.6), row(2, "t1", 1, "id_val", 0.7),
                          row(3, "t0", 2, "id_val", 0.4), row(3, "t3", 1, "shift", 0.2)])
    twice = "step 1 on id_val is recorded twice with different accuracies"
    assert row_problems(frame) == {0: "accuracy 1.5 is not in [0, 1]", 1: twice, 2: twice}
    assert row_problems(frame, duplicates=False) == {0: "accuracy 1.5 is not in [0, 1]"}


def test_every_file_with_a_bad_name_or_role_is_named_with_the_whole_reason():
    """row_problems by hand: a bad sweep name in file 0, a bad eval set name in file 1, wrong roles
    in files 2 and 3; each file gets its own first problem, in full."""
    import polars as pl

    from lpft.names import RULE
    from lpft.row_checks import FILE, row_problems

    def row(file, sweep="s", eval_set="id_val", role="id_val"):
        return {FILE: file, "sweep": sweep, "benchmark": "b", "strategy": "ft", "trial_id": f"t{file}", "seed": 0,
                "step": 1, "eval_set": eval_set, "role": role, "accuracy": 0.5}

    frame = pl.DataFrame([row(0, sweep="../up"), row(1, eval_set="a b", role="ood"), row(2, role="ood"),
                          row(3, eval_set="shift", role="id_test"), row(3, eval_set="id_test", role="ood")])
    wrong = "(id_val and id_test are their own roles, every other set is ood)"
    assert row_problems(frame) == {
        0: f"sweep '../up' is not a plain name ({RULE}); results' names become folder and file names",
        1: f"eval_set 'a b' is not a plain name ({RULE}); results' names become folder and file names",
        2: f"eval set 'id_val' has role 'ood' {wrong}",
        3: f"eval set 'shift' has role 'id_test' {wrong}"}


def test_every_file_with_a_null_or_an_accuracy_outside_0_1_is_named():
    """row_problems by hand: nulls in two columns of two files, accuracies below 0 and above 1 in two others."""
    import polars as pl

    from lpft.row_checks import FILE, row_problems

    def row(file, **change):
        return {FILE: file, "sweep": "s", "benchmark": "b", "strategy": "ft", "trial_id": f"t{file}", "seed": 0,
                "step": 1, "eval_set": "id_val", "role": "id_val", "accuracy": 0.5, **change}

    frame = pl.DataFrame([row(0, seed=None), row(1, step=None), row(2, accuracy=-0.25), row(3, accuracy=1.25),
                          row(4)])
    assert row_problems(frame) == {0: "column 'seed' is null in 1 rows", 1: "column 'step' is null in 1 rows",
                                   2: "accuracy -0.25 is not in [0, 1]", 3: "accuracy 1.25 is not in [0, 1]"}
