"""One rule for "the best config": the searcher, the sweep's summary and the analysis agree,
on any ranking metric, whatever order the trials finished or were listed in."""

import random

import pytest

from lpft.analysis.selection import SELECTIONS
from lpft.best import Scored, best_config, config_key
from lpft.dataset import HparamColumns, read_results, write_trial
from lpft.storage import locate
from lpft.sweeps.ledger import Ledger
from lpft.sweeps.outcome import SUMMARY_HEADER, best_runs, summary_rows
from lpft.sweeps.searcher import SweepSearcher
from lpft.sweeps.trial_row import TrialRow

LR = SUMMARY_HEADER.index("best hp")


def searcher_after_search(tmp_path, replicate_seeds, metric):
    """A searcher whose FT search (two grid trials) has ended with TRIALS' first two."""
    searcher = SweepSearcher({"ft": []}, {"ft": 2}, replicate_seeds, metric, Ledger(locate(tmp_path)))
    searcher.issued["ft"] = 2
    for t in TRIALS[:2]:
        searcher.finished["ft"].append(({"strategy": "ft", "stage": "search", "seed": 0, "lr": t["hp.lr"]},
                                        {**t, "trial_id": t["trial_id"]}))
    return searcher


def as_rows(records):
    """Trials-table records as the summary reads them."""
    return [TrialRow.from_record(r) for r in records]


def trial(tid, lr, seed, stage, id_val, id_test=0.5, status="completed"):
    return {"trial_id": tid, "strategy": "ft", "stage": stage, "seed": seed, "status": status,
            "id_val": id_val, "id_test": id_test, "ood_avg": 0.4, "hp.lr": lr}


# A sweep whose searcher ranked on id_test: config b (lr 0.1) won and was replicated; a ranks
# higher on id_val but ran one seed only.
TRIALS = [trial("a", 0.3, 0, "search", 0.90, 0.80), trial("b", 0.1, 0, "search", 0.85, 0.95),
          trial("b1", 0.1, 1, "replicate", 0.80, 0.90), trial("b2", 0.1, 2, "replicate", 0.81, 0.91),
          trial("c", 1.0, 0, "search", 0.70, 0.10, status="diverged")]


def test_config_key_orders_numbers_numerically():
    assert config_key({"lr": 1e-5, "seed": 3}) < config_key({"lr": 1e-4, "seed": 0})  # "1e-05" > "0.0001" as text
    assert config_key({"lr": 0.1, "seed": 0}) == config_key({"lr": 0.1, "seed": 7})


def test_replicates_neither_help_nor_hurt_and_ties_are_order_free():
    a, b = config_key({"lr": 0.3}), config_key({"lr": 0.1})
    scored = [Scored(a, 0, 0.9), Scored(b, 0, 0.88), Scored(a, 1, 0.80), Scored(a, 2, 0.81)]
    assert best_config(scored) == a  # compared on seed 0, which both ran
    tied = [Scored(a, 0, 0.9), Scored(b, 0, 0.9)]
    for _ in range(5):
        random.shuffle(tied)
        assert best_config(tied) == b  # lr 0.1 sorts first
    assert best_config([]) is None


def test_summary_names_the_config_the_searcher_replicated_on_its_metric(tmp_path):
    searcher = searcher_after_search(tmp_path, [1, 2], "id_test")
    searcher._maybe_queue_replicates("ft")
    assert {c["lr"] for c in searcher.queue} == {0.1} and [c["seed"] for c in searcher.queue] == [1, 2]
    row = summary_rows(as_rows(TRIALS), "id_test")[0]
    assert row[LR] == "lr 0.1" and row[-1] == 3  # best lr and its seeds: the replicated config
    assert summary_rows(as_rows(TRIALS), "id_val")[0][LR] == "lr 0.3"  # ranked on id_val, a would win (one seed)


def test_a_resume_reordering_trials_changes_nothing():
    tie = [trial("x", 0.354, 0, "search", 0.9), trial("y", 0.351, 0, "search", 0.9),
           trial("y1", 0.351, 1, "replicate", 0.88)]
    firsts = set()
    for _ in range(6):
        random.shuffle(tie)
        firsts.add((best_runs(as_rows(tie), "ft")[0].trial_id, len(best_runs(as_rows(tie), "ft"))))
    assert firsts == {("y", 2)}


def test_analysis_selects_what_the_sweep_replicated(tmp_path):
    """Mean over the seeds every config ran: a (.90 on seed 0, replicates .84/.85) beats b (.88, one
    seed), as the searcher decided; a mean over each config's own seeds would pick b."""
    sets = (("id_val", "id_val"), ("id_test", "id_test"), ("shift", "ood"))
    runs = {("a0", 0.3, 0): 0.90, ("a1", 0.3, 1): 0.84, ("a2", 0.3, 2): 0.85, ("b0", 0.1, 0): 0.88}
    for (tid, lr, seed), val in runs.items():
        rows = [{"sweep": "s", "trial_id": tid, "seed": seed, "step": 1, "eval_set": name, "role": role,
                 "accuracy": val if role == "id_val" else 0.5, "hp.lr": lr, "hp.seed": seed} for name, role in sets]
        write_trial(tmp_path, "ft", tid, rows, HparamColumns({"lr": float, "seed": int}))
    chosen = SELECTIONS["id_val"]().select(read_results([tmp_path]).to_pandas())
    assert sorted(chosen.frame.trial_id) == ["a0", "a1", "a2"]
    summary = [trial(t, lr, seed, "search" if seed == 0 else "replicate", v) for (t, lr, seed), v in runs.items()]
    assert best_runs(as_rows(summary), "ft")[0].trial_id == "a0"


# By hand, on TRIALS' search seed 0 (the seed every config ran): on id_val a (.90) beats b (.85);
# on id_test b (.95) beats a (.80). Each caller must name that trial, not merely agree.
@pytest.mark.parametrize("metric, winner", [("id_val", "a"), ("id_test", "b")])
def test_summary_and_searcher_agree_on_either_metric(tmp_path, metric, winner):
    searcher = searcher_after_search(tmp_path, [], metric)
    searcher.derived = {"ft": [{"strategy": "wise"}]}
    searcher._maybe_queue_replicates("ft")
    assert searcher.queue[0]["source_trial"] == winner
    assert best_runs(as_rows(TRIALS), "ft", metric)[0].trial_id == winner


def test_a_seed_run_twice_counts_as_its_mean_in_any_order():
    import itertools

    a, b = config_key({"lr": 0.3}), config_key({"lr": 0.1})
    runs = [Scored(a, 0, 0.9), Scored(a, 0, 0.7), Scored(b, 0, 0.75)]
    assert {best_config(order) for order in itertools.permutations(runs)} == {a}  # a: 0.8 > 0.75


def test_the_sweep_summary_says_when_its_selection_is_a_tie_or_its_val_set_small():
    from lpft.sweeps.outcome import selection_notes

    tied = [{**trial("a", 0.1, 0, "search", 0.9), "n_id_val": 24},
            {**trial("b", 0.3, 0, "search", 0.9), "n_id_val": 24},
            {**trial("c", 1.0, 0, "search", 0.8), "n_id_val": 24}]
    notes = selection_notes(as_rows(tied))
    assert notes[0].startswith("small validation set: id_val has 24 examples, so ID val accuracy moves in steps of "
                               "4.17 points")
    assert notes[1].startswith("selection tie: ft has 1 other config at the selected one's id_val")
    apart = [{**t, "n_id_val": 500, "id_val": v} for t, v in zip(tied, (0.9, 0.85, 0.8))]
    assert selection_notes(as_rows(apart)) == []


def test_ties_go_to_numbers_then_text_then_missing_values_and_never_merge_configs():
    # One config per kind of value, all scoring the same: the documented order decides, in any order.
    kinds = [{"opt": None}, {"opt": float("nan")}, {"opt": "sgd"}, {"opt": "adam"}, {"opt": 5.0}, {"opt": 2}]
    keys = [config_key(h) for h in kinds]
    assert len(set(keys)) == 5  # None and NaN are one missing value; two texts are two configs
    for order in (keys, keys[::-1], keys[2:] + keys[:2]):
        assert best_config([Scored(k, 0, 0.5) for k in order]) == config_key({"opt": 2})
    rest = [k for k in keys if k not in (config_key({"opt": 2}), config_key({"opt": 5.0}))]
    for order in (rest, rest[::-1]):
        assert best_config([Scored(k, 0, 0.5) for k in order]) == config_key({"opt": "adam"})
    missing = [config_key({"opt": float("nan")}), config_key({"opt": "zzz"})]
    assert best_config([Scored(k, 0, 0.5) for k in missing]) == config_key({"opt": "zzz"})
    assert best_config([Scored(config_key({"x": float("nan")}), 0, 0.5),
                        Scored(config_key({"x": 5.0}), 0, 0.5)]) == config_key({"x": 5.0})


def test_a_config_with_no_finite_score_ranks_last_and_ties_with_nothing():
    from lpft.best import config_scores, tied_configs

    nan, a, b, c = float("nan"), config_key({"lr": 0.1}), config_key({"lr": 0.2}), config_key({"lr": 0.3})
    scores = config_scores([Scored(a, 0, nan), Scored(a, 1, nan), Scored(b, 0, 0.2), Scored(b, 1, 0.4)])
    assert scores[a] == float("-inf") and scores[b] == pytest.approx(0.3)
    assert best_config([Scored(a, 0, nan), Scored(b, 0, 0.01)]) == b  # lr 0.1 sorts first but has no score
    assert tied_configs([]) == 0
    assert tied_configs([Scored(a, 0, nan), Scored(b, 0, nan)]) == 0  # nothing was chosen on a score
    assert tied_configs([Scored(a, 0, 0.5), Scored(b, 0, 0.5), Scored(c, 0, 0.4)]) == 1
    assert config_scores([Scored(a, 0, nan), Scored(a, 0, 0.6)])[a] == pytest.approx(0.6)  # a NaN rerun is left out


@pytest.mark.parametrize("n, noted", [(0, False), (1, True), (199, True), (200, False), (10_000, False)])
def test_a_validation_set_is_small_below_200_examples(n, noted):
    from lpft.best import small_val_note

    note = small_val_note(n, "val")
    assert bool(note) is noted
    if noted:  # a step of one example, in points, as a hand computation gives it
        assert f"val has {n} examples" in note and f"steps of {100 / n:.2f} points" in note
