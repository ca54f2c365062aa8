"""The analysis' calibration table: the selected models' rows, intervals computed here with scipy,
the OOD average per model, gaps counted, and results written before calibration (schema 1)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import half_up
from scipy import stats

from lpft.analysis.console import report_text
from lpft.analysis.report import analyze, write_report
from lpft.calibration import COLUMNS
from lpft.dataset import HparamColumns, write_trial

HPARAMS = HparamColumns({"lr": float, "seed": int})
SETS = (("id_val", "id_val"), ("id_test", "id_test"), ("shift", "ood"), ("sketch", "ood"))


def ece_of(trial: str, step: int, name: str) -> float:
    """A distinct, known ECE per (trial, step, set): what the table must average."""
    return round(0.01 * (1 + ord(trial[-1]) % 7) + 0.001 * step + 0.0001 * len(name), 6)


def bins_of(trial: str, step: int, name: str) -> dict[str, list]:
    """Known reliability bins per (trial, step, set): 15 bins, examples in two of them."""
    k = ord(trial[-1]) % 5 + step
    count = [0] * 15
    count[3], count[12] = 10 + k, 20 + len(name)
    correct = [0] * 15
    correct[3], correct[12] = k, 15 + step
    conf = [0.0] * 15
    conf[3], conf[12] = 0.23 * count[3], 0.83 * count[12]
    return {"rel_count": count, "rel_conf_sum": conf, "rel_correct": correct}


def rows(strategy: str, trial: str, seed: int, lr: float | None, steps: dict) -> list[dict]:
    out = []
    for step, accs in steps.items():
        for (name, role), acc in zip(SETS, accs):
            cal = dict.fromkeys(COLUMNS, 0.5) | {"ece": ece_of(trial, step, name), "temperature": 1.5,
                                                "nll": 2 * ece_of(trial, step, name)}
            out.append({"sweep": "s", "strategy": strategy, "trial_id": trial, "seed": seed, "step": step,
                        "eval_set": name, "role": role, "accuracy": acc, "hp.lr": lr, "hp.seed": seed, **cal,
                        **bins_of(trial, step, name)})
    return out


DATA = {  # (strategy, trial, seed, lr): {step: (id_val, id_test, shift, sketch)}
    ("ft", "ft-a", 0, 0.1): {1: (.80, .85, .60, .5), 2: (.85, .90, .50, .5)},
    ("ft", "ft-b", 1, 0.1): {1: (.81, .86, .62, .5), 2: (.85, .92, .54, .5)},
    ("ft", "ft-c", 2, 0.1): {1: (.82, .86, .62, .5), 2: (.86, .92, .54, .5)},
    ("ft", "ft-d", 0, 1.0): {1: (.78, .80, .70, .5), 2: (.80, .82, .40, .5)},
    ("lp", "lp-e", 0, None): {0: (.70, .71, .65, .5), 1: (.75, .74, .66, .5)},
    ("lp", "lp-f", 1, None): {0: (.72, .71, .65, .5), 1: (.71, .74, .66, .5)},
}


def write(folder: Path, change=lambda r: r) -> Path:
    for (strategy, trial, seed, lr), steps in DATA.items():
        write_trial(folder / "results", strategy, trial, [change(r) for r in rows(strategy, trial, seed, lr, steps)],
                    HPARAMS)
    return folder


def t_interval(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values)
    return float(v.mean()), float(stats.t.ppf(0.95, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def test_the_selected_models_calibration_with_t_intervals(tmp_path):
    report = analyze([write(tmp_path)])
    cal = report.calibration
    assert cal is not None and cal.sets == ["id_val", "id_test", "shift", "sketch", "ood_avg"]
    # FT: lr 0.1 wins on ID val; its three seeds at step 2 (each trial's best ID val step).
    picked = {"ft": [("ft-a", 2), ("ft-b", 2), ("ft-c", 2)], "lp": [("lp-e", 1), ("lp-f", 0)]}
    for strategy, models in picked.items():
        for name in ("id_val", "id_test", "shift"):
            mean, half = t_interval([ece_of(t, s, name) for t, s in models])
            cell = cal.cells[(strategy, "ece")][name]
            assert cell.n == len(models) and cell.mean == pytest.approx(mean) and cell.half == pytest.approx(half)
        ood = [(ece_of(t, s, "shift") + ece_of(t, s, "sketch")) / 2 for t, s in models]
        mean, half = t_interval(ood)
        assert cal.cells[(strategy, "ece")]["ood_avg"].mean == pytest.approx(mean)
        assert cal.cells[(strategy, "ece")]["ood_avg"].half == pytest.approx(half)
        nll = t_interval([2 * ece_of(t, s, "shift") for t, s in models])
        assert cal.cells[(strategy, "nll")]["shift"].mean == pytest.approx(nll[0])
    # Every seed at 0.5: no spread to estimate, said so, never "± 0.0".
    assert cal.cells[("ft", "brier")]["shift"].why == "identical"
    text = report_text(report, "text")
    assert "calibration of the selected models" in text and "ECE % TS" in text
    assert not re.search(r"± 0\.0+(?![0-9])", text) and "0.500 (identical)" in text
    assert cal.missing == 0 and not [n for n in report.notes if n.startswith("calibration")]
    written = write_report(report, tmp_path / "analysis")
    csv = pd.read_csv(tmp_path / "analysis" / "calibration.csv")
    assert tmp_path / "analysis" / "calibration.csv" in written
    assert set(csv.metric) == {m for m in COLUMNS if m != "temperature"}
    row = csv[(csv.strategy == "ft") & (csv.metric == "ece") & (csv.eval_set == "shift")].iloc[0]
    assert row["mean"] == pytest.approx(t_interval([ece_of(t, 2, "shift") for t in ("ft-a", "ft-b", "ft-c")])[0])
    html = (tmp_path / "analysis" / "report.html").read_text()
    assert "<h2>Calibration</h2>" in html


def test_values_that_could_not_be_computed_are_left_out_and_counted(tmp_path):
    def damage(r: dict) -> dict:
        if r["trial_id"] == "ft-b" and r["eval_set"] == "shift":
            return {**r, **dict.fromkeys(COLUMNS)}  # its logits were not finite
        if r["trial_id"] == "ft-c" and r["eval_set"] == "id_test":
            return {**r, **{c: None for c in COLUMNS if c.endswith("_ts") or c == "temperature"}}
        return r

    report = analyze([write(tmp_path, damage)])
    cal = report.calibration
    assert cal.cells[("ft", "ece")]["shift"].n == 2  # ft-b's missing value left out, not a zero
    assert cal.cells[("ft", "ece")]["ood_avg"].n == 2  # nor an OOD average over one set
    assert cal.missing == 1 and cal.untempered == 1
    notes = [n for n in report.notes if n.startswith("calibration")]
    assert len(notes) == 2 and "1 of the selected models' 20 evaluations have no value" in notes[0]


def test_results_written_before_calibration_have_no_table_and_still_read():
    golden = Path(__file__).parent / "golden"  # results schema version 1
    report = analyze([golden])
    assert report.calibration is None
    assert "calibration" not in report_text(report, "text")


def test_reliability_bins_pool_the_selected_models_seeds_and_the_figures_are_drawn(tmp_path):
    report = analyze([write(tmp_path)])
    bins = report.reliability
    picked = {"ft": [("ft-a", 2), ("ft-b", 2), ("ft-c", 2)], "lp": [("lp-e", 1), ("lp-f", 0)]}
    for strategy, models in picked.items():
        for name in ("id_val", "shift", "sketch"):
            mine = bins[(bins.strategy == strategy) & (bins.eval_set == name)].set_index("bin")
            for b in (3, 12):
                count = sum(bins_of(t, s, name)["rel_count"][b] for t, s in models)
                correct = sum(bins_of(t, s, name)["rel_correct"][b] for t, s in models)
                conf = sum(bins_of(t, s, name)["rel_conf_sum"][b] for t, s in models)
                assert mine.loc[b, "count"] == count
                assert mine.loc[b, "accuracy"] == pytest.approx(correct / count)
                assert mine.loc[b, "confidence"] == pytest.approx(conf / count)
            assert mine.loc[0, "count"] == 0 and np.isnan(mine.loc[0, "accuracy"])
    written = write_report(report, tmp_path / "out")
    for stem in ("reliability", "calibration_vs_accuracy"):
        assert tmp_path / "out" / f"{stem}.png" in written
        assert (tmp_path / "out" / f"{stem}.png").stat().st_size > 10_000
    assert report.calibration_points is not None and len(report.calibration_points) == len(report.frontier)
    # Every point's OOD ECE is its OOD sets' mean.
    point = report.calibration_points.set_index("trial_id").loc["ft-d"]
    point = point[point.step == 1].iloc[0]
    assert point.ood_ece == pytest.approx((ece_of("ft-d", 1, "shift") + ece_of("ft-d", 1, "sketch")) / 2)


def test_the_calibration_sentence_states_the_differences_the_table_shows(tmp_path):
    report = analyze([write(tmp_path)])
    text = report_text(report, "text")
    line = next(line for line in text.splitlines() if line.startswith("OOD ECE"))
    ft = np.mean([(ece_of(t, 2, "shift") + ece_of(t, 2, "sketch")) / 2 for t in ("ft-a", "ft-b", "ft-c")])
    lp = np.mean([(ece_of(t, s, "shift") + ece_of(t, s, "sketch")) / 2 for t, s in (("lp-e", 1), ("lp-f", 0))])
    shown = float(half_up(ft)) - float(half_up(lp))  # as the table rounds each
    assert f"FT vs LP: {shown:+.1f} points raw, +0.0 after TS" in line  # TS values all 0.5 here


def test_a_narrow_interval_keeps_a_significant_digit_never_plus_minus_zero():
    from lpft.analysis.calibration import SHOWN, cell
    from lpft.analysis.intervals import Estimate

    assert cell(Estimate(0.103, 0.00007, 3), SHOWN["nll"]) == "0.103 ± 0.00007"
    assert cell(Estimate(0.021, 0.0003, 3), SHOWN["ece"]) == "2.1 ± 0.03"
    assert cell(Estimate(0.021, 0.004, 3), SHOWN["ece"]) == "2.1 ± 0.4"
    assert cell(Estimate(0.5, float("nan"), 3, why="identical"), SHOWN["brier"]) == "0.500 (identical)"


def test_reliability_bins_that_are_not_lpfts_are_left_out_and_counted_never_an_error(tmp_path):
    def damage(r: dict) -> dict:
        if r["trial_id"] == "ft-b" and r["eval_set"] == "shift":
            return {**r, "rel_count": [1, 2, 3]}  # three bins, not fifteen
        if r["trial_id"] == "ft-c" and r["eval_set"] == "shift":
            return {**r, "rel_correct": [10**6] * 15}  # more right than scored
        return r

    report = analyze([write(tmp_path, damage)])
    shift = report.reliability[(report.reliability.strategy == "ft") & (report.reliability.eval_set == "shift")]
    assert shift.set_index("bin").loc[3, "count"] == bins_of("ft-a", 2, "shift")["rel_count"][3]  # ft-a's alone
    left_out = "reliability diagram: 2 of the selected models' evaluations left out"
    assert any(n.startswith(left_out) for n in report.notes)
    write_report(report, tmp_path / "out")  # draws with what is left


def test_a_cloud_beyond_its_cap_is_a_fixed_sample_and_the_title_says_so():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from lpft.analysis.calibration_plots import CLOUD_MAX, calibration_scatter

    rng = np.random.default_rng(0)
    n = {"ft": CLOUD_MAX + 700, "lp": 40}
    points = pd.DataFrame([{"strategy": s, "trial_id": f"{s}-{i}", "seed": 0, "step": 0,
                            "ood_avg": rng.uniform(), "ood_ece": rng.uniform()} for s in n for i in range(n[s])])
    chosen = points.groupby("strategy").head(1)[["strategy", "trial_id", "seed", "step"]]
    fig = calibration_scatter(points, chosen)
    clouds = [c for c in fig.axes[0].collections if len(c.get_offsets()) > 1]
    assert sorted(len(c.get_offsets()) for c in clouds) == [40, CLOUD_MAX]
    assert f"a random {CLOUD_MAX:,} per strategy" in fig._suptitle.get_text()
    again = calibration_scatter(points, chosen)  # the same sample every time
    first = next(c for c in again.axes[0].collections if len(c.get_offsets()) == CLOUD_MAX).get_offsets()
    assert np.array_equal(first, next(c for c in clouds if len(c.get_offsets()) == CLOUD_MAX).get_offsets())
    plt.close("all")
    small = calibration_scatter(points[points.strategy == "lp"], chosen[chosen.strategy == "lp"])
    assert "random" not in small._suptitle.get_text()
