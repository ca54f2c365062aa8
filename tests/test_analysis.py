"""lpft.analysis: loading with schema checks, selection by hand-computed example, frontiers, robustness."""

import itertools
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # makes pa.compute available below
import pyarrow.parquet as pq
import pytest
from conftest import half_up
from scipy import stats
from scipy.stats import linregress, norm

from lpft.analysis.frontier import pareto_mask
from lpft.analysis.robustness import effective_robustness, fit_baseline
from lpft.analysis.selection import SELECTIONS
from lpft.analysis.tables import paper_sentence, render
from lpft.dataset import HparamColumns, read_results, write_trial
from lpft.errors import InputError

HPARAMS = HparamColumns({"lr": float, "seed": int})


def rows(strategy, trial, seed, lr, steps):
    """steps: {step: (id_val, id_test, ood)}"""
    out = []
    for step, accs in steps.items():
        for (name, role), acc in zip((("id_val", "id_val"), ("id_test", "id_test"), ("shift", "ood")), accs):
            out.append({"sweep": "s", "strategy": strategy, "trial_id": trial, "seed": seed, "step": step,
                        "eval_set": name, "role": role, "accuracy": acc, "hp.lr": lr, "hp.seed": seed})
    return out


@pytest.fixture
def results(tmp_path):
    # FT, lr 0.1 (2 seeds): best ID val at step 2 -> ID test .90/.92, OOD .50/.54; mean val .85
    # FT, lr 1.0 (2 seeds): val .80 -> not selected by ID val; but OOD .70 at step 1 -> oracle's pick
    data = {
        ("ft", "a", 0, 0.1): {1: (.80, .85, .60), 2: (.85, .90, .50)},
        ("ft", "b", 1, 0.1): {1: (.81, .86, .62), 2: (.85, .92, .54)},
        ("ft", "c", 0, 1.0): {1: (.78, .80, .70), 2: (.80, .82, .40)},
        ("ft", "d", 1, 1.0): {1: (.78, .80, .72), 2: (.80, .84, .42)},
        ("lp", "e", 0, None): {0: (.70, .71, .65), 1: (.75, .74, .66)},
    }
    for (strategy, trial, seed, lr), steps in data.items():
        write_trial(tmp_path / "results", strategy, trial, rows(strategy, trial, seed, lr, steps), HPARAMS)
    return tmp_path


def test_id_val_selection_by_hand(results):
    chosen = SELECTIONS["id_val"]().select(read_results([results]).to_pandas())
    ft = chosen.frame[chosen.frame.strategy == "ft"].sort_values("trial_id")
    assert list(ft.trial_id) == ["a", "b"] and list(ft.step) == [2, 2]
    assert ft.id_test.mean() == pytest.approx(0.91) and ft.ood_avg.mean() == pytest.approx(0.52)
    assert list(chosen.frame[chosen.frame.strategy == "lp"].step) == [1]


def test_a_tie_between_configs_goes_to_the_one_whose_hyperparameters_sort_first_whatever_the_rows_order():
    """lpft.best's tie rule, through the analysis: lr 0.1 sorts before 1.0 (and 1e-05 before both,
    though '1e-05' > '0.1' as text), whichever trial's rows come first."""
    import pandas as pd

    trials = [("a", 1.0), ("b", 1e-05), ("c", 0.1)]
    for order in (trials, trials[::-1]):
        df = pd.DataFrame([r for t, lr in order for r in rows("ft", t, 0, lr, {1: (0.8, 0.9, 0.5)})])
        chosen = SELECTIONS["id_val"]().select(df)
        assert list(chosen.frame.trial_id) == ["b"] and chosen.ties["ft"][0] == 2


def test_oracle_differs_and_says_so(results):
    chosen = SELECTIONS["oracle"]().select(read_results([results]).to_pandas())
    ft = chosen.frame[chosen.frame.strategy == "ft"].sort_values("trial_id")
    assert list(ft.trial_id) == ["c", "d"] and list(ft.step) == [1, 1]
    assert "oracle" in render(chosen)


def test_last_step(results):
    chosen = SELECTIONS["last"]().select(read_results([results]).to_pandas())
    assert set(chosen.frame[chosen.frame.strategy == "ft"].step) == {2}


def _selected_by_hand():
    """The fixture's selected models, worked out by hand: FT lr 0.1 (trials a, b) at step 2, LP's e at step 1."""
    return {"ft": {"id_test": [.90, .92], "shift": [.50, .54]}, "lp": {"id_test": [.74], "shift": [.66]}}


@pytest.mark.parametrize("ci, quantile", [("t", lambda n: stats.t.ppf(0.95, n - 1)), ("z", lambda n: 1.645)])
def test_table_formats(results, ci, quantile):
    import io

    import pandas as pd

    chosen = SELECTIONS["id_val"]().select(read_results([results]).to_pandas())
    want = _selected_by_hand()
    ft = np.array(want["ft"]["id_test"])
    half = 100 * quantile(2) * ft.std(ddof=1) / np.sqrt(2)  # t: 6.314 * 1.0 = 6.3 points; z: 1.6
    cell = f"91.0 ± {half:.1f}"
    text = render(chosen, ci=ci)
    assert ("Student t" if ci == "t" else "1.645") in text.splitlines()[1]
    assert "one seed: no interval" in text.splitlines()[1]
    rows = {line.split()[0]: line.split() for line in text.splitlines()[4:]}
    assert rows["ft"][1] == "2" and rows["lp"][1] == "1"
    assert f"*{cell}" in text
    assert rows["lp"][2:] == ["74.0", "*66.0", "*66.0"]  # one seed: the mean alone, no "± 0.0"
    assert f"**{cell}**" in render(chosen, "md", ci)
    latex = render(chosen, "latex", ci)
    assert r"\toprule" in latex and rf"\textbf{{91.0 $\pm$ {half:.1f}}}" in latex
    csv = pd.read_csv(io.StringIO(render(chosen, "csv", ci))).set_index("strategy")
    for strategy, columns in want.items():
        for column, values in (("id_test", columns["id_test"]), ("shift", columns["shift"]),
                               ("ood_avg", columns["shift"])):
            v = np.array(values)
            assert csv.loc[strategy, f"{column}_mean"] == pytest.approx(v.mean())
            assert csv.loc[strategy, f"{column}_n"] == len(v)
            expected = quantile(len(v)) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
            assert csv.loc[strategy, f"{column}_ci90_{ci}"] == pytest.approx(expected, nan_ok=True)
    assert paper_sentence(chosen) == "FT vs LP: +17.0 ID, -14.0 OOD"


def test_filters_are_pushed_down(results):
    table = read_results([results], strategy="lp", eval_set="shift")
    assert set(table.column("strategy").to_pylist()) == {"lp"} and table.num_rows == 2


def test_not_a_results_dataset_is_refused(tmp_path):
    pq.write_table(pa.table({"x": [1]}), tmp_path / "x.parquet")
    with pytest.raises(InputError, match="column 'sweep' is missing"):
        read_results([tmp_path])
    with pytest.raises(InputError, match="no results"):
        read_results([tmp_path / "nothing"])


def test_wrong_type_and_unknown_version_are_refused(tmp_path):
    base = {"sweep": ["s"], "trial_id": ["t"], "seed": [0], "step": [0], "eval_set": ["id_val"],
            "role": ["id_val"], "accuracy": [0.5]}
    (tmp_path / "a" / "strategy=lp").mkdir(parents=True)
    pq.write_table(pa.table({**base, "step": ["zero"]}), tmp_path / "a" / "strategy=lp" / "t.parquet")
    with pytest.raises(InputError, match="column 'step' has type string, expected int64"):
        read_results([tmp_path / "a"])
    (tmp_path / "b" / "strategy=lp").mkdir(parents=True)
    table = pa.table(base).replace_schema_metadata({b"lpft.schema_version": b"99"})
    pq.write_table(table, tmp_path / "b" / "strategy=lp" / "t.parquet")
    with pytest.raises(InputError, match="schema version 99"):
        read_results([tmp_path / "b"])


def test_pareto_frontier_matches_brute_force():
    rng = np.random.default_rng(0)
    x, y = rng.random(400), rng.random(400)
    x[:20] = x[20:40]  # ties in x
    mask = pareto_mask(x, y)
    brute = np.array([not np.any((x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))) for i in range(len(x))])
    np.testing.assert_array_equal(mask, brute)
    # no points, several OOD columns: one empty mask for each
    from lpft.analysis.frontier import pareto_masks

    masks = pareto_masks(np.zeros(0), [np.zeros(0), np.zeros(0), np.zeros(0)])
    assert len(masks) == 3 and all(m.dtype == bool and m.shape == (0,) for m in masks)


def test_each_strategys_frontier_matches_brute_force():
    import pandas as pd

    from lpft.analysis.report import frontier_points

    rng = np.random.default_rng(3)
    n = 300
    points = pd.DataFrame({"strategy": rng.choice(["lp", "ft", "lpft"], n), "id_test": rng.random(n).round(2),
                           "ood_avg": rng.random(n), "b": rng.random(n)})  # rounded: ties in ID
    flags = frontier_points(points, ["ood_avg", "b"])
    for col in ("ood_avg", "b"):
        np.testing.assert_array_equal(flags[f"frontier.{col}"], pareto_mask(points.id_test.to_numpy(), points[col]))
        for _name, part in points.groupby("strategy"):
            mine = flags.loc[part.index, f"strategy_frontier.{col}"].to_numpy()
            np.testing.assert_array_equal(mine, pareto_mask(part.id_test.to_numpy(), part[col].to_numpy()))


def test_points_keep_the_order_of_their_first_rows_whether_their_rows_are_together_or_apart():
    """`wide` lists points as their rows first appear (files as listed, steps as written): the
    frontier's tie rule ("the first duplicate wins") and every table's row order rest on it."""
    from lpft.analysis.selection import wide

    rng = np.random.default_rng(5)
    trials = [f"t{i:03d}" for i in rng.permutation(400)]  # not sorted: the order is the rows'
    points = [(t, step) for t in trials for step in (2, 0, 1)]
    together = [r for t, step in points for r in rows("ft", t, 0, 0.1, {step: tuple(rng.uniform(0, 1, 3))})]
    apart = sorted(together, key=lambda r: r["eval_set"] != "id_val")  # each set's rows one block: runs break
    for layout in (together, apart):
        got = wide(pa.Table.from_pylist(layout)).frame
        assert list(zip(got.trial_id, got.step)) == points


def test_rows_laid_out_as_lpft_writes_them_take_the_every_kth_row_path_and_no_other_layout_does(monkeypatch):
    """The every-k-th-row path (`_regular_points`) is what makes a million rows fast: it must be
    taken for lpft's own layout (a point's rows together, its eval sets in one order), and
    never for a layout it would read wrong, which the group-by reads right."""
    from lpft.analysis import selection

    grouped = []
    real = selection._group_points
    monkeypatch.setattr(selection, "_group_points", lambda *a: grouped.append(1) or real(*a))
    layout = [r for t in ("t0", "t1", "t2") for step in (0, 1) for r in rows("ft", t, 0, 0.1, {step: (.5, .6, .7)})]
    regular = selection.wide(pa.Table.from_pylist(layout)).frame
    assert not grouped and len(regular) == 6
    for n in (1, 2):  # one point, and two (k is where the second starts)
        assert len(selection.wide(pa.Table.from_pylist(layout[:3 * n])).frame) == n and not grouped
    others = {
        "a point's rows apart": layout[:2] + layout[3:6] + layout[2:3] + layout[6:],
        "a point written twice (files joined)": layout + layout[:3],
        "one point's sets in another order": [layout[1], layout[0], *layout[2:]],
        "a point without one set": layout[:2] + layout[3:],
        "a set twice in a point": [layout[0], layout[0], layout[2], *layout[3:]],
        "a set twice in every point": [layout[i - i % 3] if i % 3 == 1 else r for i, r in enumerate(layout)],
    }
    for name, rows_ in others.items():
        grouped.clear()
        got = selection.wide(pa.Table.from_pylist(rows_)).frame
        assert grouped, name
        if name in ("a point's rows apart", "one point's sets in another order"):  # same points, same numbers
            a, b = (f.sort_values(["trial_id", "step"]).reset_index(drop=True) for f in (regular, got))
            np.testing.assert_allclose(a[["id_val", "id_test", "shift"]], b[["id_val", "id_test", "shift"]])


def test_a_points_per_step_value_and_path_are_its_own_whether_its_rows_are_together_or_apart():
    """A per-step hyperparameter (LP's C) and a path one (`paths`) are read per point, on the
    every-k-th-row path (rows together) and on the group-by's (rows apart) alike."""
    from lpft.analysis.selection import wide

    together = []
    for t in ("t0", "t1"):
        for step in (0, 1, 2):
            for r in rows("lp", t, 0, None, {step: (0.5, 0.6, 0.7)}):
                together.append({**r, "hp.C": 10.0 ** step, "hp.route": f"{t}/{step}", "hp.via": "x"})
    apart = sorted(together, key=lambda r: r["eval_set"] != "id_val")
    for layout in (together, apart):
        got = wide(pa.Table.from_pylist(layout), per_step=frozenset({"hp.C"}),
                   paths=frozenset({"hp.route", "hp.via"})).frame  # the first path column is the point's path
        assert list(zip(got.trial_id, got.step, got["hp.C"], got.path)) == [
            (t, step, 10.0 ** step, f"{t}/{step}") for t in ("t0", "t1") for step in (0, 1, 2)], layout[0]


def test_a_configs_label_is_its_hyperparameters_joined_in_column_order_and_empty_without_any():
    from lpft.analysis.selection import wide

    two = [{**r, "hp.wd": 0.01} for r in rows("ft", "t0", 0, 0.1, {1: (0.5, 0.6, 0.7)})]
    assert list(wide(pa.Table.from_pylist(two)).frame.config) == ["0.1|0.01"]  # hp.seed is no hyperparameter
    none = [{k: v for k, v in r.items() if k != "hp.lr"} for r in rows("lp", "t1", 0, None, {0: (0.5, 0.6, 0.7)})]
    assert list(wide(pa.Table.from_pylist(none)).frame.config) == [""]


def test_points_without_an_ood_set_have_an_ood_average_of_nan():
    from lpft.analysis.selection import wide

    in_distribution = [r for r in rows("ft", "t0", 0, 0.1, {1: (0.5, 0.6, 0.7)}) if r["role"] != "ood"]
    points = wide(pa.Table.from_pylist(in_distribution))
    assert points.ood_sets == [] and list(points.frame.id_val) == [0.5] and np.isnan(points.frame.ood_avg).all()


def test_points_do_not_depend_on_the_rows_order(results):
    """lpft writes a point's rows together (a run); rows joined in any order, or an evaluation
    written twice, must give the same (trial, step) table."""
    from lpft.analysis.selection import wide

    table = read_results([results])
    ordered = wide(table)
    shuffled = wide(table.take(np.random.default_rng(0).permutation(table.num_rows)))
    key = ["trial_id", "step"]
    a, b = (p.frame.sort_values(key).reset_index(drop=True) for p in (ordered, shuffled))
    assert len(a) == 10 and ordered.repeated == shuffled.repeated == 0
    columns = ["id_val", "id_test", "shift", "ood_avg"]
    np.testing.assert_allclose(a[columns], b[columns])
    assert list(a.trial_id) == list(b.trial_id) and list(a.config) == list(b.config)
    twice = wide(pa.concat_tables([table, table.slice(0, 1)]))
    assert twice.repeated == 1 and len(twice.frame) == 10
    # One point's eval sets in another order: no longer every k-th row per set (the group-by's case).
    swapped = wide(table.take(np.r_[1, 0, 2:table.num_rows]))
    c = swapped.frame.sort_values(key).reset_index(drop=True)
    np.testing.assert_allclose(a[columns], c[columns])
    assert swapped.repeated == 0


def test_constant_columns_come_from_the_footer_and_read_as_the_rows_are(results, tmp_path):
    """A trial file names its constant columns in its footer (lpft.constant); the local read
    takes them from there and scans the rest. Whatever the footers say or lack, the rows read
    are the ones a full scan gives, in the same order."""
    import json

    import polars as pl

    from lpft.dataset import load_results, write_table
    from lpft.footer import CONSTANT_KEY

    one = results / "results" / "strategy=ft" / "a.parquet"
    footer = json.loads(pl.read_parquet_metadata(str(one))[CONSTANT_KEY.decode()])
    assert footer["rows"] == 6 and footer["columns"]["trial_id"] == "a" and footer["columns"]["hp.lr"] == 0.1
    assert {"step", "eval_set", "role", "accuracy"}.isdisjoint(footer["columns"])
    from lpft.dataset.read import _folder, _good_files
    from lpft.footer import scan_varying
    from lpft.storage import locate

    found = _good_files(_folder(locate(results)), results, False, [])
    fast = scan_varying(found.files, found.constants, found.schemas[0], {}, (), "_file")
    assert fast is not None  # the fast read applies
    # The same files without the footer key (as lpft wrote them before it): the full scan.
    plain = tmp_path / "plain"
    for f in (results / "results").rglob("*.parquet"):
        target = plain / f.relative_to(results / "results")
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pq.read_table(f), target)
    assert CONSTANT_KEY.decode() not in pl.read_parquet_metadata(str(next(plain.rglob("*.parquet"))))
    for filters in ({}, {"strategy": "lp"}, {"sweep": "s"}, {"eval_set": "shift"}, {"sweep": "other"}):
        fast, full = (load_results([p], **filters).frame for p in (results, plain))
        assert fast.columns == full.columns and fast.dtypes == full.dtypes
        assert fast.equals(full), filters
    expected = load_results([plain]).frame
    assert expected.height == 30
    # A footer whose row count does not match its file: read whole, not trusted.
    lying = pq.read_table(one)
    write_table(lying, one, {CONSTANT_KEY: json.dumps({**footer, "rows": 5}).encode()})
    assert load_results([results]).frame.equals(expected)
    # One file without the key among files with it: read whole.
    pq.write_table(lying, one)
    assert load_results([results]).frame.equals(expected)


def test_a_tie_in_id_val_picks_the_earliest_step(tmp_path):
    # Written out of step order: step 3 first; id_val ties at .80 on steps 3 and 1.
    data = {3: (.80, .70, .5), 1: (.80, .60, .4), 2: (.75, .90, .6)}
    write_trial(tmp_path / "results", "ft", "a", rows("ft", "a", 0, 0.1, data), HPARAMS)
    write_trial(tmp_path / "results", "ft", "b", rows("ft", "b", 1, 0.1, {1: (float("nan"), .5, .5)}), HPARAMS)
    chosen = SELECTIONS["id_val"]().select(read_results([tmp_path], skip_bad=True).to_pandas())
    assert list(chosen.frame.step) == [1] and chosen.frame.id_test.tolist() == [.60]
    assert list(SELECTIONS["last"]().select(read_results([tmp_path], skip_bad=True).to_pandas()).frame.step) == [3]


def test_frontier_ownership_runs():
    from lpft.analysis.frontier import ownership

    s = np.array(["lp", "ft", "ft", "lpft", "lp"])
    x = np.array([0.70, 0.90, 0.95, 0.80, 0.60])
    y = np.array([0.80, 0.60, 0.50, 0.70, 0.10])  # the last point is dominated
    assert ownership(s, x, y) == [("lp", 0.70, 0.70), ("lpft", 0.80, 0.80), ("ft", 0.90, 0.95)]
    # a run of three frontier points keeps its lowest ID (by hand: ft owns .90 to .99)
    s, x, y = np.append(s, "ft"), np.append(x, 0.99), np.append(y, 0.40)
    assert ownership(s, x, y) == [("lp", 0.70, 0.70), ("lpft", 0.80, 0.80), ("ft", 0.90, 0.99)]


def test_effective_robustness_matches_scipy():
    rng = np.random.default_rng(1)
    id_acc, ood_acc = rng.uniform(0.5, 0.95, 50), rng.uniform(0.2, 0.8, 50)
    fit = fit_baseline(id_acc, ood_acc)
    ref = linregress(norm.ppf(id_acc), norm.ppf(ood_acc))
    assert fit.slope == pytest.approx(ref.slope) and fit.intercept == pytest.approx(ref.intercept)
    er = effective_robustness(id_acc, ood_acc, fit)
    np.testing.assert_allclose(er, ood_acc - norm.cdf(ref.slope * norm.ppf(id_acc) + ref.intercept))


def test_report_writes_tables_figures_and_one_html_page(results, tmp_path):
    from PIL import Image

    from lpft.analysis.report import analyze, write_report

    report = analyze([results])
    written = write_report(report, tmp_path / "report")
    names = {p.name for p in written}
    assert {"frontier_grid.png", "frontier_grid.svg", "frontier_grid.pdf", "report.html", "table.md"} <= names
    # one OOD set: its own figure and the average's would be the grid again, byte for byte
    assert not {"frontier_shift.png", "frontier_ood_avg.png"} & names
    pngs = [p.read_bytes() for p in written if p.suffix == ".png"]
    assert len(set(pngs)) == len(pngs)
    for pdf in (p for p in written if p.suffix == ".pdf"):  # venues refuse Type 3 fonts: TrueType embedded
        fonts = re.findall(rb"/Subtype\s*/(Type3|TrueType|Type1|Type0|CIDFontType2)", pdf.read_bytes())
        assert fonts and b"Type3" not in fonts, (pdf.name, fonts)
    png = tmp_path / "report" / "frontier_grid.png"
    assert png.stat().st_size > 20_000
    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # drawn on, not a blank canvas
    page = (tmp_path / "report" / "report.html").read_text()
    assert 'src="data:image/png;base64,' in page
    assert page.count('alt="ID vs OOD accuracy frontiers"') == 1  # the grid, once, embedded
    assert page.count("<img") == 3  # and the learning curves and hyperparameters (no Optuna study here)
    assert "FT vs LP" in page and "Effective robustness" in page and "er_ci90" not in page
    assert '<td class="best">' in page and "lr 0.1" in page  # best cell bold; the selected hyperparameters
    assert 'href="table.tex"' in page and 'href="frontier_grid.svg"' in page and 'href="frontier_grid.pdf"' in page
    assert "lpft report: " in page and "<pre>" not in page


def test_figures_png_writes_the_pngs_alone_and_the_same_page(results, tmp_path, capsys):
    """`--figures png`: every figure the full report has, as PNG only, bytes identical; the page
    embeds the same figures and links no file that is not there."""
    from lpft.cli import main

    assert main(["analyze", str(results), "--out", str(tmp_path / "all")]) == 0
    assert main(["analyze", str(results), "--out", str(tmp_path / "png"), "--figures", "png"]) == 0
    full = {p.name for p in (tmp_path / "all").iterdir()}
    quick = {p.name for p in (tmp_path / "png").iterdir()}
    assert {n for n in full if n.endswith(".svg") or n.endswith(".pdf")}  # the full one has vector files
    assert quick == {n for n in full if not (n.endswith(".svg") or n.endswith(".pdf"))}
    for name in (n for n in quick if n.endswith(".png")):
        assert (tmp_path / "png" / name).read_bytes() == (tmp_path / "all" / name).read_bytes(), name
    page = (tmp_path / "png" / "report.html").read_text()
    for link in re.findall(r'href="([^"#:]+)"', page):
        assert (tmp_path / "png" / link).is_file(), link
    assert page.count("<img") == (tmp_path / "all" / "report.html").read_text().count("<img")
    with pytest.raises(SystemExit) as usage:  # argparse's choices
        main(["analyze", str(results), "--figures", "svg"])
    assert usage.value.code == 2 and "invalid choice: 'svg'" in capsys.readouterr().err


def test_notebook_runs_top_to_bottom(results, tmp_path, monkeypatch):
    import os

    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("LPFT_RESULTS", str(results))
    monkeypatch.setenv("LPFT_COMPARE", os.pathsep.join(two_sweeps(tmp_path, "x")))  # the --compare view
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # figures as outputs, as in Jupyter
    root = Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "notebooks" / "frontiers.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "FT vs LP" in outputs and "selection: ID val" in outputs
    assert "== x" in outputs and "a/ft" in outputs and "b/ft" in outputs  # both sweeps, side by side
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "image/png" in o.get("data", {})]
    assert len(figures) == 3  # the grid, the effective-robustness bars, the compared frontier


def test_the_notebook_runs_through_jupyter_nbconvert_from_its_folder_with_its_defaults(results, tmp_path):
    """As a user runs it: `jupyter nbconvert --execute` in notebooks/, no environment variables,
    the checkout's results/demo/synthetic found from there; each figure shown exactly once."""
    import os
    import shutil
    import subprocess
    import sys

    import nbformat

    checkout = tmp_path / "checkout"
    shutil.copytree(results, checkout / "results" / "demo" / "synthetic")
    (checkout / "notebooks").mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "notebooks" / "frontiers.ipynb", checkout / "notebooks")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LPFT_RESULTS", "LPFT_COMPARE", "MPLBACKEND"))}
    jupyter = Path(sys.executable).with_name("jupyter")
    done = subprocess.run([str(jupyter), "nbconvert", "--to", "notebook", "--execute", "frontiers.ipynb",
                           "--output", "ran.ipynb"], cwd=checkout / "notebooks", env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(checkout / "notebooks" / "ran.ipynb", as_version=4)
    pngs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    frontier = next(i for i, c in enumerate(nb.cells) if "frontier_figure(report" in c.source)
    bars = next(i for i, c in enumerate(nb.cells) if "ax.bar(" in c.source)
    assert pngs == [frontier, bars]  # the frontier grid once, the effective-robustness chart once


def test_golden_results_give_the_expected_table_and_frontier():
    """tests/golden/: real synthetic runs, checked in with the exact expected outputs."""
    import sys

    golden = Path(__file__).parent / "golden"
    sys.path.insert(0, str(golden))
    try:
        from make_golden import expected
    finally:
        sys.path.remove(str(golden))
    table, frontier = expected()
    assert table == (golden / "expected_table.txt").read_text()
    assert frontier == (golden / "expected_frontier.csv").read_text()
    # The golden numbers, recomputed here from the Parquet rows with pandas and scipy alone
    # (tests/oracle.py: the paper's selection), then the mean and Student-t half-width.
    import re

    import pandas as pd
    from oracle import selected

    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[4:])}
    header = re.split(r"\s{2,}", table.splitlines()[2].strip())
    assert header == ["strategy", "seeds", "id_test", "ood", "ood_avg"]
    chosen_by = selected(pd.read_parquet(golden / "results"))
    means = {}
    for strategy, chosen in chosen_by.items():
        assert rows[strategy][1] == str(len(chosen))
        for column in ("id_test", "ood", "ood_avg"):
            v = chosen["ood" if column == "ood_avg" else column].to_numpy()  # one OOD set: its average is it
            means[strategy, column] = v.mean()
            if np.ptp(v) > 0:
                half = stats.t.ppf(0.95, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
                cell = f"{half_up(v.mean())} ± {half_up(half)}"
            else:
                cell = f"{half_up(v.mean())} (identical)"
            assert rows[strategy][header.index(column)].lstrip("*") == cell, (strategy, column, rows[strategy])
    for column in ("id_test", "ood", "ood_avg"):  # the best mean of each column, and only it, is marked
        best = max(chosen_by, key=lambda s: means[s, column])
        assert [s for s in rows if rows[s][header.index(column)].startswith("*")] == [best], column
    # The frontier by brute force over every evaluated (trial, step) point: not dominated by any other.
    long = pd.read_parquet(golden / "results")
    long["eval_set"] = long["eval_set"].astype(str)
    points = long.pivot_table(index=["strategy", "trial_id", "step"], columns="eval_set",
                              values="accuracy").reset_index()
    x, y = points["id_test"].to_numpy(), points["ood"].to_numpy()
    front = [i for i in range(len(points))
             if not any(x[j] >= x[i] and y[j] >= y[i] and (x[j] > x[i] or y[j] > y[i]) for j in range(len(points)))]
    got = pd.read_csv(golden / "expected_frontier.csv")
    values = {(round(x[i], 4), round(y[i], 4)) for i in front}  # equal points (LP-FT's seeds agree): one kept
    assert sorted(zip(got.id_test, got.ood_avg)) == sorted(values)
    owners = {(points.trial_id[i], points.step[i]) for i in front}
    assert set(zip(got.trial_id, got.step)) <= owners


def _copy(results, tmp_path):
    import shutil

    shutil.copytree(results, tmp_path / "copy")
    return tmp_path / "copy"


@pytest.mark.parametrize("damage, needle", [
    ("truncated", "unreadable Parquet"),
    ("empty", "unreadable Parquet"),
    ("string accuracy", "column 'accuracy' has type string, expected double"),
    ("no seed", "column 'seed' is missing"),
    ("percent", "accuracy 80.0 is not in [0, 1]"),
    ("conflict", "recorded twice with different accuracies"),
])
def test_each_bad_file_is_named_or_skipped_and_counted(results, tmp_path, damage, needle, capsys):
    from lpft.cli import main

    root = _copy(results, tmp_path)
    bad = root / "results" / "strategy=ft" / "a.parquet"
    table = pq.read_table(bad)
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[:-100])
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "string accuracy":
        pq.write_table(table.set_column(table.schema.get_field_index("accuracy"), "accuracy",
                                        table["accuracy"].cast(pa.string())), bad)
    elif damage == "no seed":
        pq.write_table(table.drop(["seed"]), bad)
    elif damage == "percent":
        pq.write_table(table.set_column(table.schema.get_field_index("accuracy"), "accuracy",
                                        pa.compute.multiply(table["accuracy"], 100.0)), bad)
    else:  # the same evaluations once more, with other accuracies
        halved = table.set_column(table.schema.get_field_index("accuracy"), "accuracy",
                                  pa.compute.multiply(table["accuracy"], 0.5))
        pq.write_table(pa.concat_tables([table, halved]), bad)
    assert main(["analyze", str(root), "--out", str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "a.parquet" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r1").exists()  # nothing half-written
    assert main(["analyze", str(root), "--out", str(tmp_path / "r2"), "--skip-bad"]) == 0
    assert "left out 1 bad results file (--skip-bad)" in capsys.readouterr().out


def test_a_read_only_out_is_one_line(results, tmp_path, capsys):
    from lpft.cli import main

    assert main(["analyze", str(results), "--out", "/proc/lpft-report"]) == 2
    assert "--out /proc/lpft-report: cannot write the report" in capsys.readouterr().err


def test_a_dense_sweep_gives_a_small_report_with_the_cloud_rasterised(tmp_path):
    """Issue 13, case 11: every point as an SVG element made a 128 MB figure at a million rows.
    Here 3,000 points: the cloud is one embedded image, the lines stay vectors, the points CSV
    is compact; and the bootstrap CI is the one the per-resample refit gave."""
    import re

    from test_robustness import bootstrap_ci

    from lpft.analysis.plots import RASTERIZE_ABOVE
    from lpft.analysis.report import analyze, write_report

    rng = np.random.default_rng(0)
    trials, steps = 30, 100
    assert trials * steps > RASTERIZE_ABOVE
    for t in range(trials):
        strategy, lr = ("ft", "lp", "lpft")[t % 3], float(10 ** rng.uniform(-4, -1))
        acc = np.clip(rng.uniform(0.6, 0.9) + rng.normal(0, 0.03, (steps, 3)), 0, 1)
        write_trial(tmp_path / "results", strategy, f"t{t}", [r for s in range(steps) for r in rows(
            strategy, f"t{t}", t % 2, lr, {s: tuple(acc[s])})], HPARAMS)
    report = analyze([tmp_path])
    write_report(report, tmp_path / "report")
    svg = (tmp_path / "report" / "frontier_grid.svg").read_text()
    assert svg.count("<image") == 1 and len(svg) < 400_000  # ~2.4 MB with a vector per point
    assert "Pareto frontier" in svg  # the legend and lines are still text and paths
    csv = (tmp_path / "report" / "frontier.csv").read_text().splitlines()
    assert len(csv) == trials * steps + 1 and "config" not in csv[0] and "hp.lr" in csv[0]
    numbers = [f for f in csv[1].split(",") if re.fullmatch(r"\d\.\d+", f)]
    assert numbers and all(len(f.lstrip("0.")) <= 5 for f in numbers)  # 5 significant digits
    assert ",True" not in csv[1] and csv[1].endswith((",0", ",1"))  # flags as 0/1
    # The bootstrap refits on probit values computed once: the same CI as refitting each resample.
    base = report.frontier[report.frontier.strategy == "ft"]
    x, y = base["id_test"].to_numpy(), base["ood_avg"].to_numpy()
    lo, hi = bootstrap_ci(x, y, 0.8, 0.7, n=200)
    draws = np.random.default_rng(0)
    values = []
    for _ in range(200):
        idx = draws.integers(0, len(x), len(x))
        values.append(float(effective_robustness(0.8, 0.7, fit_baseline(x[idx], y[idx]))))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(values, [0.05, 0.95])))


def test_effective_robustness_far_outside_the_baselines_id_range_is_flagged(tmp_path, capsys):
    """Six FT points over ID 80–90% on a rising line; LP's selected model sits at 74%: its number
    is an extrapolation of the FT line and says so in the table, the CLI, the HTML and the figure."""
    from lpft.analysis.report import analyze, write_report
    from lpft.cli import main

    results = tmp_path / "sweep"
    data = {("ft", f"f{i}", i % 2, lr): {1: (.80 + i / 50, .80 + i / 50, .50 + i / 100)}
            for i, lr in enumerate((0.1, 0.2, 0.3, 0.4, 0.5, 0.6))}
    data[("lp", "l", 0, None)] = {0: (.74, .74, .60)}
    for (strategy, trial, seed, lr), steps in data.items():
        write_trial(results / "results", strategy, trial, rows(strategy, trial, seed, lr, steps), HPARAMS)
    report = analyze([results])
    caveats = dict(zip(report.robustness.strategy, report.robustness.caveat))
    assert caveats["lp"].startswith("extrapolated: ID 74.0% is outside the baseline's ID range 80.0–90.0%")
    assert not caveats["ft"].startswith("extrapolated")  # within the range
    write_report(report, tmp_path / "report")
    assert "extrapolated" in (tmp_path / "report" / "report.html").read_text()
    assert "LP (ER extrapolated)" in (tmp_path / "report" / "frontier_grid.svg").read_text()  # its label
    assert main(["analyze", str(results), "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out.split("effective robustness vs", 1)[1]
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("lp "))
    assert "points (90% CI" in line and "[extrapolated: ID 74.0%" in line


def test_effective_robustness_within_the_baselines_range_is_not_flagged(tmp_path):
    from lpft.analysis.report import analyze

    data = {("ft", f"f{i}", i % 2, lr): {1: (.80 + i / 100, .80 + i / 100, .50 + i / 200)}
            for i, lr in enumerate((0.1, 0.2, 0.3, 0.4, 0.5, 0.6))}
    data[("lp", "l", 0, None)] = {0: (.82, .83, .60)}
    for (strategy, trial, seed, lr), steps in data.items():
        write_trial(tmp_path / "results", strategy, trial, rows(strategy, trial, seed, lr, steps), HPARAMS)
    robust = analyze([tmp_path]).robustness.set_index("strategy")
    assert robust.loc["lp", "caveat"] == "" and np.isfinite(robust.loc["lp", "effective_robustness"])
    assert robust.loc["lp", "er_ci90_low"] < robust.loc["lp", "effective_robustness"] < robust.loc["lp", "er_ci90_high"]
    # the number itself, from scipy: the FT points' line on probit axes, LP's distance above it
    ft = [(.80 + i / 100, .50 + i / 200) for i in range(6)]
    fit = linregress(norm.ppf([a for a, _ in ft]), norm.ppf([b for _, b in ft]))
    assert robust.loc["lp", "effective_robustness"] == pytest.approx(
        .60 - norm.cdf(fit.slope * norm.ppf(.83) + fit.intercept), abs=1e-9)


def test_a_one_trial_sweep_analyses_and_gives_no_effective_robustness(tmp_path, capsys):
    """One FT trial, one evaluated step: no baseline line can be fit (it was an IndexError)."""
    from lpft.cli import main

    write_trial(tmp_path / "results", "ft", "only", rows("ft", "only", 0, 0.1, {1: (.8, .8, .5)}), HPARAMS)
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "probit fit: none: too few baseline points (1, need 5)" in " ".join(out.split())
    assert "ft none:" not in out  # the reason once, not per strategy
    assert (tmp_path / "report" / "frontier_grid.png").stat().st_size > 10_000


@pytest.mark.parametrize("size", ["single", "double"])
def test_the_legend_hides_no_selected_model_and_the_axes_hold_them_all(tmp_path, size):
    """Issue 14: the legend sat on FT's selected marker; axes were stretched by a C path to chance."""
    import matplotlib

    matplotlib.use("Agg")
    from lpft.analysis.plots import frontier_figure
    from lpft.analysis.report import analyze

    rng = np.random.default_rng(3)
    for t in range(12):
        strategy = ("ft", "lp", "lpft")[t % 3]
        steps = {s: tuple(np.clip(rng.uniform(0.85, 0.95, 3) - (0.6 if strategy == "lp" and s < 3 else 0), 0, 1))
                 for s in range(8)}  # LP's first steps near chance, as a C path would be
        write_trial(tmp_path / "results", strategy, f"t{t}", rows(strategy, f"t{t}", t % 2, 0.1 * t, steps), HPARAMS)
    report = analyze([tmp_path])
    fig = frontier_figure(report.frontier, report.chosen, report.columns, report.baseline, report.selection,
                          size=size)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    means = report.chosen.groupby("strategy")[["id_test", *report.columns]].mean()
    for ax, column in zip(fig.axes, report.columns):
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        for strategy, m in means.iterrows():
            assert x0 <= m["id_test"] <= x1 and y0 <= m[column] <= y1, (strategy, column)
            px, py = ax.transData.transform((m["id_test"], m[column]))
            assert not legend.contains(px, py), (strategy, column)
        assert x0 > 0.5  # fitted to the selected models and the frontier, not to chance
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        assert labels and all(t.get_text().endswith("%") for t in labels)
        boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
        assert all(a.x1 < b.x0 for a, b in itertools.pairwise(boxes)), [t.get_text() for t in labels]  # no collisions
    assert any("points outside the axes" in ax.get_xlabel() for ax in fig.axes)


def test_the_html_report_renders_in_a_real_browser(results, tmp_path):
    """Headless Chromium (Debian's package; .ci/run installs it) loads the page without console
    errors, and what it draws is not blank."""
    from browser import chromium, load
    from PIL import Image

    from lpft.analysis.report import analyze, write_report

    chromium()
    write_report(analyze([results]), tmp_path / "report")
    dom, console = load(tmp_path / "report" / "report.html", tmp_path, shot=tmp_path / "shot.png")
    pixels = np.asarray(Image.open(tmp_path / "shot.png").convert("L"), dtype=float)
    assert pixels.std() > 20 and (pixels < 100).mean() > 0.005  # text and a figure, not an empty page
    assert "Effective robustness" in dom and not console, console


def two_sweeps(tmp_path, second_benchmark):
    """Sweep a on benchmark x, sweep b on `second_benchmark`: LP and FT each, two seeds."""
    rng = np.random.default_rng(5)
    for sweep, bench in (("a", "x"), ("b", second_benchmark)):
        for t in range(6):
            strategy, seed = ("lp", "ft")[t % 2], t // 2 % 2
            out = []
            for s in range(3):
                accs = rng.uniform(0.6, 0.9, 3) if bench == "x" else rng.uniform(0.1, 0.3, 3)
                # Trial names as lpft gives them: the same in both sweeps.
                for r in rows(strategy, f"{strategy}-{t:03d}", seed, 0.1 * (t + 1), {s: tuple(accs)}):
                    out.append({**r, "sweep": sweep, "benchmark": bench})
            write_trial(tmp_path / sweep / "results", strategy, f"{strategy}-{t:03d}", out, HPARAMS)
    return [str(tmp_path / "a"), str(tmp_path / "b")]


def test_two_benchmarks_are_reported_apart_never_merged(tmp_path, capsys):
    from lpft.analysis.report import analyze, analyze_groups
    from lpft.cli import main

    paths = two_sweeps(tmp_path, "y")
    reports = analyze_groups(paths)
    assert sorted(reports) == ["a", "b"]
    for label, report in reports.items():
        seeds = report.chosen.groupby("strategy").seed.nunique()
        assert (seeds <= 2).all(), seeds  # not four "seeds" from two sweeps
        accuracy = report.frontier["ood_avg"]
        assert (accuracy > 0.5).all() if label == "a" else (accuracy < 0.5).all()  # no cross-benchmark mean
    with pytest.raises(InputError, match="results of 2 sweeps"):
        analyze(paths)
    assert main(["analyze", *paths, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "== a" in out and "== b" in out and "nan" not in out
    assert (tmp_path / "out" / "a" / "report.html").is_file() and (tmp_path / "out" / "b" / "report.html").is_file()
    # --compare never mixes benchmarks either: still one report each
    assert sorted(analyze_groups(paths, compare=True)) == ["x", "y"]


def test_compare_puts_one_benchmarks_sweeps_side_by_side(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from lpft.analysis.plots import frontier_figure
    from lpft.analysis.report import analyze_groups

    paths = two_sweeps(tmp_path, "x")  # two backbones, say, on one benchmark
    (label, report), = analyze_groups(paths, compare=True).items()
    assert label == "x"
    assert set(report.chosen.strategy) == {"a/lp", "a/ft", "b/lp", "b/ft"}
    assert set(report.robustness.strategy) == {"a/lp", "a/ft", "b/lp", "b/ft"}  # both sweeps' FT make the line
    assert (report.chosen.groupby("strategy").size() == 1).all()  # each sweep's own best config, none merged
    assert len(report.frontier) == 2 * 6 * 3  # every (trial, step) of both sweeps, though trial names repeat
    fig = frontier_figure(report.frontier, report.chosen, ["ood_avg"], report.baseline, report.selection)
    labels = fig.legends[0].get_texts()
    assert {t.get_text() for t in labels} >= {"a/LP", "a/FT", "b/LP", "b/FT"}  # each by its label, sweep kept
    selected = {c.get_label(): c.lines[0] for c in fig.axes[0].containers}  # the errorbars' marker lines
    assert selected["a/FT"].get_marker() != selected["b/FT"].get_marker()  # a marker set per sweep
    assert selected["a/FT"].get_color() == selected["b/FT"].get_color()  # a colour per strategy


def test_effective_robustness_per_ood_set_and_over_seeds(tmp_path):
    """Each OOD set gets its own line and number; the interval resamples seeds too, so a strategy
    whose seeds disagree gets a wider one than resampling baseline points alone would give."""
    from test_robustness import bootstrap_ci

    from lpft.analysis.report import analyze

    sets = (("id_val", "id_val"), ("id_test", "id_test"), ("p", "ood"), ("q", "ood"))
    rng = np.random.default_rng(2)
    for t in range(12):
        strategy, seed = ("ft", "lp")[t % 2], t % 4
        steps = {}
        for s in range(4):
            i = rng.uniform(0.80, 0.90)
            steps[s] = (i, i, i - 0.2 + rng.normal(0, 0.01), i - 0.1 + (0.08 * seed if strategy == "lp" else 0))
        out = [{"sweep": "s", "trial_id": f"t{t}", "seed": seed, "step": s, "eval_set": name, "role": role,
                "accuracy": float(np.clip(acc[j], 0, 1)), "hp.lr": 0.1, "hp.seed": seed}
               for s, acc in steps.items() for j, (name, role) in enumerate(sets)]
        write_trial(tmp_path / "results", strategy, f"t{t}", out, HPARAMS)
    report = analyze([tmp_path])
    table = report.robustness_by_set.set_index(["strategy", "eval_set"])
    assert set(table.index) == {(s, e) for s in ("ft", "lp") for e in ("p", "q", "ood_avg")}
    assert table.loc[("lp", "q"), "effective_robustness"] > table.loc[("lp", "p"), "effective_robustness"] + 0.05
    lp = report.chosen[report.chosen.strategy == "lp"]
    assert lp.seed.nunique() > 1
    base = report.frontier[report.frontier.strategy == "ft"]
    lo, hi = bootstrap_ci(base["id_test"], base["q"], lp["id_test"].mean(), lp["q"].mean())
    row = table.loc[("lp", "q")]
    assert row.er_ci90_high - row.er_ci90_low > 2 * (hi - lo)  # the seeds' spread is in the interval
    # An independent computation: the line by scipy's linregress on probit axes, and a plain numpy
    # bootstrap of the baseline's points and the strategy's seeds, within Monte-Carlo error.
    x, y = norm.ppf(base["id_test"].to_numpy()), norm.ppf(base["q"].to_numpy())
    fit = linregress(x, y)
    ids, oods = lp["id_test"].to_numpy(), lp["q"].to_numpy()
    er = oods.mean() - norm.cdf(fit.slope * norm.ppf(ids.mean()) + fit.intercept)
    assert row.effective_robustness == pytest.approx(er, abs=1e-9)
    draws = np.random.default_rng(123)
    values = []
    for _ in range(4000):
        p = draws.integers(0, len(x), len(x))
        k = draws.integers(0, len(ids), len(ids))
        line = linregress(x[p], y[p])
        values.append(oods[k].mean() - norm.cdf(line.slope * norm.ppf(ids[k].mean()) + line.intercept))
    ref_lo, ref_hi = np.quantile(values, [0.05, 0.95])
    assert (row.er_ci90_low, row.er_ci90_high) == pytest.approx((ref_lo, ref_hi), abs=0.01)
    from lpft.analysis.report import write_report

    write_report(report, tmp_path / "report")
    assert "eval_set" in (tmp_path / "report" / "effective_robustness.csv").read_text().splitlines()[0]


def test_a_folder_of_sweeps_gets_a_report_per_sweep(tmp_path, capsys):
    """`lpft analyze results/demo`: the folder holds one folder per sweep, each with lpft's own
    trials.parquet and spec.yaml beside its results; none of those is read as a results file."""
    import pyarrow as pa

    from lpft.cli import main
    from lpft.dataset import write_table

    for sweep, ft_val in (("alpha", .85), ("beta", .95)):
        for trial, (strategy, lr, acc) in enumerate((("ft", 0.1, ft_val), ("lp", None, .7))):
            data = [{**r, "sweep": sweep} for r in rows(strategy, f"t{trial}", 0, lr, {1: (acc, acc, .5)})]
            write_trial(tmp_path / "all" / sweep / "results", strategy, f"t{trial}", data, HPARAMS)
        write_table(pa.table({"trial_id": ["t0", "t1"], "status": ["completed"] * 2}),
                    tmp_path / "all" / sweep / "trials.parquet")
        (tmp_path / "all" / sweep / "spec.yaml").write_text(f"name: {sweep}\n")
    assert main(["analyze", str(tmp_path / "all")]) == 0
    out = capsys.readouterr().out
    assert "== alpha" in out and "== beta" in out
    for sweep, shown in (("alpha", "85.0"), ("beta", "95.0")):
        table = (tmp_path / "all" / "report" / sweep / "table.txt").read_text()
        ft = next(line.split() for line in table.splitlines() if line.startswith("ft "))
        assert ft[:3] == ["ft", "1", f"*{shown}"]
        assert (tmp_path / "all" / "report" / sweep / "report.html").exists()


def test_ood_avg_is_the_mean_over_every_ood_set_and_nan_with_one_missing(tmp_path):
    """Two OOD sets; trial b's step 2 lost its `sketch` row. By hand: a's ood_avg is (.6+.4)/2 = .5
    and (.7+.5)/2 = .6; b's step 1 (.8+.6)/2 = .7, step 2 NaN (not .9, the one set it has)."""
    from lpft.analysis.selection import wide

    sets = (("id_val", "id_val"), ("id_test", "id_test"), ("photo", "ood"), ("sketch", "ood"))
    data = {("a", 1): (.8, .8, .6, .4), ("a", 2): (.9, .9, .7, .5), ("b", 1): (.7, .7, .8, .6),
            ("b", 2): (.95, .95, .9, None)}
    out = []
    for (trial, step), accs in data.items():
        out += [{"sweep": "s", "strategy": "ft", "trial_id": trial, "seed": 0, "step": step, "eval_set": name,
                 "role": role, "accuracy": acc, "hp.lr": 0.1 if trial == "a" else 1.0, "hp.seed": 0}
                for (name, role), acc in zip(sets, accs) if acc is not None]
    for trial in "ab":
        write_trial(tmp_path / "results", "ft", trial, [r for r in out if r["trial_id"] == trial], HPARAMS)
    df = read_results([tmp_path]).to_pandas()
    points = wide(df).frame.set_index(["trial_id", "step"]).ood_avg
    assert points[("a", 1)] == pytest.approx(0.5) and points[("a", 2)] == pytest.approx(0.6)
    assert points[("b", 1)] == pytest.approx(0.7) and np.isnan(points[("b", 2)])
    # Selected on ood_avg (the oracle): b's config (.7 at its step 1) over a's (.6), not on the
    # .9 that b's incomplete step 2 would average to.
    chosen = SELECTIONS["oracle"]().select(df).frame
    assert list(zip(chosen.trial_id, chosen.step)) == [("b", 1)]


def test_effective_robustness_at_accuracies_0_and_1_and_at_the_extrapolation_margin():
    """Φ⁻¹ of 0 and 1 is infinite: lpft clips to [1e-4, 1 − 1e-4] (docs/analysis.md), on the baseline's
    points and on the model's alike; by hand with scipy on those clipped values. The baseline's
    ID range .6–.8 covers a model up to 2 points beyond it, and flags one further out."""
    from lpft.analysis.robustness import clipped, extrapolation, fit_baseline

    # What the report's note counts: values beyond the bounds, not the bounds themselves (by hand).
    assert clipped([0.0, 5e-5, 1e-4, 0.5, 1 - 1e-4, 1.0]) == 3 and clipped([0.2, 0.9]) == 0
    base_id = np.array([0.6, 0.65, 0.7, 0.75, 0.8, 1.0])
    base_ood = np.array([0.3, 0.33, 0.4, 0.42, 0.5, 1.0])
    fit = fit_baseline(base_id, base_ood)
    clip = np.clip(base_id, 1e-4, 1 - 1e-4), np.clip(base_ood, 1e-4, 1 - 1e-4)
    ref = linregress(norm.ppf(clip[0]), norm.ppf(clip[1]))
    assert (fit.slope, fit.intercept) == pytest.approx((ref.slope, ref.intercept), rel=1e-12)
    got = effective_robustness(np.array([0.0, 1.0]), np.array([0.0, 0.9]), fit)
    want = np.array([0.0, 0.9]) - norm.cdf(ref.slope * norm.ppf([1e-4, 1 - 1e-4]) + ref.intercept)
    assert got == pytest.approx(want, abs=1e-12) and np.isfinite(got).all()
    base = np.array([0.6, 0.7, 0.8])
    assert extrapolation(base, 0.8 + 0.02) == "" and extrapolation(base, 0.6 - 0.02) == ""
    assert extrapolation(base, 0.8 + 0.0201).startswith("extrapolated: ID 82.0% is outside")
    assert extrapolation(base, 0.6 - 0.0201).startswith("extrapolated: ID 58.0% is outside")


def test_a_seed_is_never_part_of_a_config_and_each_selection_names_its_metric():
    """hp.seed (a strategy's seed field) is the run's seed, not a hyperparameter: two seeds of one
    lr are one config. No path column without a path hyperparameter. The chosen table is
    numbered from 0 and each selection says what it ranked configs on."""
    from lpft.analysis.selection import SELECTIONS, wide

    long = pa.Table.from_pylist([r for seed in (0, 1) for r in rows("ft", f"t{seed}", seed, 0.1,
                                                                    {1: (.8, .8, .5), 2: (.9, .85, .6)})])
    assert wide(long).frame["config"].nunique() == 1  # hp.seed is no part of a config
    points = wide(long, frozenset({"hp.seed"}))  # even declared per step, the seed is not a hyperparameter
    assert points.frame["config"].nunique() == 1 and "hp.seed" not in points.frame.columns
    assert "path" not in points.frame.columns
    for name, metric in (("id_val", "id_val"), ("oracle", "ood_avg"), ("last", "id_val")):
        chosen = SELECTIONS[name]().select_points(points)
        assert chosen.metric == metric and list(chosen.frame.index) == [0, 1], name
        assert "index" not in chosen.frame.columns


@pytest.mark.parametrize(("lo", "hi"), [(0.87, 0.978), (0.5, 0.97), (0.85, 0.995), (0.3, 0.999), (0.6, 0.8),
                                        (0.01, 0.3), (0.9, 0.93)])
def test_ticks_are_round_apart_and_reach_both_ends_of_a_probit_axis(lo, hi):
    """A panel reaching 97.8% (FT's models there) gets a tick above 96%; every tick a multiple of
    a round step, none crowding the next, the last ones near the axis's ends in probit units."""
    from lpft.analysis.plots import TICK_STEPS, _ticks

    ticks = _ticks(lo, hi, 7)
    z = norm.ppf(ticks)
    span = norm.ppf(hi) - norm.ppf(lo)
    assert all(lo <= t <= hi for t in ticks) and len(ticks) >= 3
    assert all(any(abs(t / s - round(t / s)) < 1e-6 for s in TICK_STEPS) for t in ticks)
    assert np.diff(z).min() >= 0.75 * span / 7 - 1e-9
    assert norm.ppf(hi) - z[-1] <= 1.5 * span / 7 and z[0] - norm.ppf(lo) <= 1.5 * span / 7, ticks
