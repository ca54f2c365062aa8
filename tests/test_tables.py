"""The results table in every format, against numbers the test computes itself (scipy's t
quantile, numpy means, a half-up rounding written here) on a hand-made selection: each
strategy's cell, its interval, the note for a cell without one, the best mark, the legend, the
escaping of users' strategy names, and the frontier's owners line."""

import io
import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lpft.analysis.selection import Chosen
from lpft.analysis.tables import latex_escape, md_escape, owners_line, paper_sentence, render, summarize

NAN = math.nan
ODD = "a_b&c"  # a user's strategy name with characters that mean something in LaTeX and Markdown
ROWS = [  # strategy, seed, id_test, ood_a, ood_b
    ("ft", 0, 0.80, 0.50, 0.40), ("ft", 1, 0.84, 0.54, 0.42), ("ft", 2, 0.86, 0.52, 0.47),
    ("lp", 0, 0.70, 0.60, 0.58),  # deterministic: one run is exact
    ("lpft", 0, 0.88, 0.62, NAN), ("lpft", 1, 0.88, 0.66, NAN),  # identical ID; no ood_b value
    (ODD, 0, 0.50, 0.25, 0.75),  # one seed of a strategy that could vary
]
COLUMNS = ["id_test", "ood_a", "ood_b", "ood_avg"]
LEGEND = ("mean ± 90% CI over seeds (Student t, n−1 df; n = seeds); one seed: no interval; "
          "identical: every seed scored the same, no spread to estimate; deterministic: its seed changes "
          "nothing (its results' seed_controls), so one run is exact")


def points(x: float) -> str:
    """Percentage points, half up to one decimal (the test's own rounding)."""
    return str(Decimal(f"{100 * x:.9f}").quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def chosen() -> Chosen:
    frame = pd.DataFrame(ROWS, columns=["strategy", "seed", "id_test", "ood_a", "ood_b"])
    frame["ood_avg"] = frame[["ood_a", "ood_b"]].mean(axis=1, skipna=False)
    return Chosen(frame, ["ood_a", "ood_b"], "my label", deterministic=frozenset({"lp"}))


def expected_cells() -> dict[str, dict[str, str]]:
    """Each cell as text, from numpy and scipy."""
    frame = pd.DataFrame(ROWS, columns=["strategy", "seed", "id_test", "ood_a", "ood_b"])
    frame["ood_avg"] = (frame.ood_a + frame.ood_b) / 2
    out = {}
    for s, g in frame.groupby("strategy"):
        row = {}
        for c in COLUMNS:
            v = g[c].dropna().to_numpy()
            if len(v) == 0:
                row[c] = "–"
            elif len(v) == 1:
                row[c] = points(v[0]) + (" (deterministic)" if s == "lp" else "")
            elif np.ptp(v) == 0:
                row[c] = points(v[0]) + " (identical)"
            else:
                half = stats.t.ppf(0.95, len(v) - 1) * np.std(v, ddof=1) / math.sqrt(len(v))
                row[c] = f"{points(v.mean())} ± {points(half)}"
        out[s] = row
    return out


# The best mean of each column, worked out from ROWS by hand: a column's NaN is never best.
BEST = {"id_test": "lpft", "ood_a": "lpft", "ood_b": ODD, "ood_avg": "lp"}
ORDER = ["lp", "ft", "lpft", ODD]  # the paper's three in its order, then the others


def test_the_text_table_says_every_cell_its_interval_and_the_best(chosen):
    lines = render(chosen).splitlines()  # text is the default format
    assert lines[0] == "selection: my label; accuracy %; * best"
    assert lines[1] == LEGEND
    assert lines[2].split() == ["strategy", "seeds", *COLUMNS]
    assert set(lines[3]) == {"-", " "}
    cells = expected_cells()
    seeds = {"lp": 1, "ft": 3, "lpft": 2, ODD: 1}
    for line, s in zip(lines[4:], ORDER, strict=True):
        name, n, *rest = [part.strip() for part in line.split("  ") if part.strip()]
        want = [("*" if BEST[c] == s else "") + cells[s][c] for c in COLUMNS]
        assert (name, int(n), rest) == (s, seeds[s], want)


def test_markdown_and_latex_say_the_same_cells_with_their_own_marks_and_escapes(chosen):
    cells = expected_cells()
    md = render(chosen, "md")
    assert md.startswith(f"Selection: my label. Accuracy %, {LEGEND}; best in bold.\n\n")
    lines = md.splitlines()
    # a paper's names: the paper's strategies by their labels, the ID and average columns in words
    assert lines[2:4] == [r"| Strategy | Seeds | ID test | ood\_a | ood\_b | OOD avg. |", "|---|---|---|---|---|---|"]
    rows = lines[4:]
    assert len(rows) == 4
    assert [r.split(" | ")[0] for r in rows] == ["| LP", "| FT", "| LP-FT", r"| a\_b&c"]
    for r, s in zip(rows, ORDER):
        assert r.strip("| ").split(" | ")[2:] == [(f"**{cells[s][c]}**" if BEST[c] == s else cells[s][c])
                                                  for c in COLUMNS]
    tex = render(chosen, "latex").splitlines()
    assert tex[0] == f"% selection: my label; accuracy %, {LEGEND}"
    assert tex[1] == r"\begin{tabular}{lrrrrr}"
    assert tex[2:5] == [r"\toprule", r"Strategy & Seeds & ID test & ood\_a & ood\_b & OOD avg. \\", r"\midrule"]
    body = tex[5:9]
    labels = {"lp": "LP", "ft": "FT", "lpft": "LP-FT", ODD: ODD}
    for line, s in zip(body, ORDER):
        name, _, *vals = line.removesuffix(r" \\").split(" & ")
        assert name == latex_escape(labels[s]) and vals == [
            (r"\textbf{%s}" if BEST[c] == s else "%s") % cells[s][c].replace("±", r"$\pm$") for c in COLUMNS]
    assert body[3].startswith(r"a\_b\&c & 1 & ")
    assert tex[9:] == [r"\bottomrule", r"\end{tabular}"]


def test_the_csv_holds_every_number_and_note(chosen):
    text = render(chosen, "csv")
    assert text.startswith("strategy,seeds,")  # no index column before the strategy
    got = pd.read_csv(io.StringIO(text)).set_index("strategy")
    assert list(got.index) == ORDER
    assert set(got.selection) == {"my label"} and set(got.interval) == {"Student t, n−1 df"}
    frame = chosen.frame
    for s, g in frame.groupby("strategy"):
        for c in COLUMNS:
            v = g[c].dropna().to_numpy()
            assert got.at[s, f"{c}_n"] == len(v)
            if len(v):
                assert got.at[s, f"{c}_mean"] == pytest.approx(v.mean(), abs=1e-12)
            varying = len(v) > 1 and np.ptp(v) > 0
            half = stats.t.ppf(0.95, len(v) - 1) * np.std(v, ddof=1) / math.sqrt(len(v)) if varying else NAN
            assert got.at[s, f"{c}_ci90_t"] == pytest.approx(half, abs=1e-12, nan_ok=True)
    notes = got[[f"{c}_note" for c in COLUMNS]].fillna("")
    assert list(notes.loc["lp"]) == ["deterministic"] * 4
    assert list(notes.loc["lpft"]) == ["identical", "", "no value", "no value"]
    assert list(notes.loc[ODD]) == ["one seed"] * 4
    assert list(notes.loc["ft"]) == [""] * 4
    assert dict(got.seeds) == {"lp": 1, "ft": 3, "lpft": 2, ODD: 1}


def test_a_deterministic_strategys_identical_seeds_say_deterministic_and_a_missing_value_stays_missing():
    frame = pd.DataFrame([("lp", 0, 0.7, 0.6, NAN), ("lp", 1, 0.7, 0.6, NAN)],
                         columns=["strategy", "seed", "id_test", "ood_a", "ood_b"])
    frame["ood_avg"] = frame[["ood_a", "ood_b"]].mean(axis=1, skipna=False)
    _, cells = summarize(Chosen(frame, ["ood_a", "ood_b"], "x", deterministic=frozenset({"lp"})))
    assert {c: e.why for c, e in cells["lp"].items()} == {
        "id_test": "deterministic", "ood_a": "deterministic", "ood_b": "no value", "ood_avg": "no value"}
    assert cells["lp"]["ood_a"].mean == 0.6 and math.isnan(cells["lp"]["ood_a"].half)


def test_an_unknown_format_or_interval_method_is_refused(chosen):
    with pytest.raises(ValueError, match="table format must be one of text, md, latex, csv, got 'html'"):
        render(chosen, "html")
    with pytest.raises(Exception, match="interval method"):
        render(chosen, "text", "bootstrap")


def test_the_z_rule_is_the_papers_1645(chosen):
    got = pd.read_csv(io.StringIO(render(chosen, "csv", "z"))).set_index("strategy")
    v = np.array([0.80, 0.84, 0.86])
    assert got.at["ft", "id_test_ci90_z"] == pytest.approx(1.645 * v.std(ddof=1) / math.sqrt(3), abs=1e-12)


def test_names_are_text_in_latex_and_markdown():
    assert latex_escape(r"\&%$#_{}~^x") == (r"\textbackslash{}\&\%\$\#\_\{\}\textasciitilde{}"
                                            r"\textasciicircum{}x")
    assert md_escape(r"\|*_`[]<>x&") == r"\\\|\*\_\`\[\]\<\>x&"
    assert md_escape("XyZ-1.0") == "XyZ-1.0"  # only those characters


def test_the_owners_line_gives_each_owners_id_range():
    assert owners_line([("lp", 0.7, 0.7), ("ft", 0.8, 0.84), ("lpft", 0.9, 0.90004)]) == (
        "OOD-average frontier, by increasing ID accuracy: lp (ID 70.0%), ft (ID 80.0–84.0%), lpft (ID 90.0%)")


def test_the_papers_sentence_is_the_difference_of_the_rounded_means(chosen):
    ft_id, lp_id = np.mean([0.80, 0.84, 0.86]), 0.70
    ft_ood, lp_ood = np.mean([0.45, 0.48, 0.495]), 0.59
    d_id = Decimal(points(ft_id)) - Decimal(points(lp_id))
    d_ood = Decimal(points(ft_ood)) - Decimal(points(lp_ood))
    assert paper_sentence(chosen) == (f"FT vs LP: +{d_id} ID, {d_ood} OOD;  "
                                      f"LP-FT vs FT: {Decimal(points(0.88)) - Decimal(points(ft_id)):+} ID, - OOD")


def test_a_selection_with_no_models_is_a_table_of_headers_only():
    empty = Chosen(pd.DataFrame(columns=["strategy", "seed", "id_test", "ood_a", "ood_avg"]), ["ood_a"], "x")
    assert render(empty).splitlines() == [
        "selection: x; accuracy %; * best", "mean ± 90% CI over seeds (Student t, n−1 df; n = seeds)",
        "strategy  seeds  id_test  ood_a  ood_avg", "--------  -----  -------  -----  -------"]


def test_the_best_cell_skips_a_column_without_a_mean_and_rows_follow_the_declared_order():
    from lpft.analysis.intervals import Estimate
    from lpft.analysis.tables import _best, strategy_order
    from lpft.looks import Look

    nan = math.nan
    cells = {"a": {"c": Estimate(nan, nan, 0)}, "b": {"c": Estimate(0.5, nan, 1)}, "d": {"c": Estimate(0.4, nan, 1)}}
    assert _best(["c"], cells) == {"c": "b"}  # a's missing mean first in the row order: still b
    looks = {"b": Look("B", order=-1), "z": Look("Z", order=-2)}
    assert strategy_order(["a", "b", "z", "lp"], looks) == ["z", "b", "a", "lp"]  # the looks given, not lpft's



def test_summarize_defaults_to_student_t_and_orders_rows_as_the_results_declare():
    """Called as the report calls it (no `ci`): Student t over seeds, checked with scipy; rows in
    the order the files' looks declare ("b" first), not by name."""
    from lpft.analysis.tables import summarize
    from lpft.looks import Look

    frame = pd.DataFrame({"strategy": ["a", "a", "b", "b", "b"], "id_test": [0.50, 0.60, 0.70, 0.80, 0.75],
                          "shift": [0.3, 0.4, 0.5, 0.5, 0.6], "ood_avg": [0.3, 0.4, 0.5, 0.5, 0.6]})
    chosen = Chosen(frame, ["shift"], "ID val", looks={"a": Look("A", order=5), "b": Look("B", order=-1)})
    columns, cells = summarize(chosen)
    assert columns == ["id_test", "shift", "ood_avg"] and list(cells) == ["b", "a"]
    for strategy, values in (("a", [0.50, 0.60]), ("b", [0.70, 0.80, 0.75])):
        n = len(values)
        half = stats.t.ppf(0.95, n - 1) * np.std(values, ddof=1) / math.sqrt(n)
        assert cells[strategy]["id_test"].mean == pytest.approx(np.mean(values))
        assert cells[strategy]["id_test"].half == pytest.approx(half)
