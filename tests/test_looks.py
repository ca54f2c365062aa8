"""A strategy's look (label, colour, order, the hyperparameter a summary shows): declared where the
strategy is, carried by its results, read back from a file as data."""

import json
from dataclasses import asdict

import pytest

from lpft.errors import InputError
from lpft.looks import BEFORE_LOOKS, Look, decode, encode, ordered
from lpft.results import COMPLETED, Evaluation, RunResult
from lpft.strategies import STRATEGIES, strategy
from lpft.sweeps.outcome import shown_hparam
from lpft.sweeps.trial_row import TrialRow
from lpft.trainables.trainable import final_metrics


def test_a_look_survives_the_file_and_results_without_one_read_as_lpft_showed_them_then():
    looks = {"mine": Look("Mine", colour="#123ABC", order=-2, shown="shrink"), "plain": Look("plain")}
    assert decode(encode(looks)) == looks
    assert decode(None) == BEFORE_LOOKS  # no key: the paper's three as before looks were declared
    # ...which is what the built-in strategies still declare
    assert {s: STRATEGIES[s].display for s in BEFORE_LOOKS} == BEFORE_LOOKS


@pytest.mark.parametrize("entry", [
    {"label": "two\nlines"}, {"label": ""}, {"label": "x" * 41}, {"label": 3},
    {"label": "A", "colour": "red"}, {"label": "A", "colour": "#12345"}, {"label": "A", "colour": "#1234567"},
    {"label": "A", "order": True}, {"label": "A", "order": 1.5}, {"label": "A", "order": 10**6},
    {"label": "A", "shown": "../x"}, {"label": "A", "script": "x"}, {"colour": "#123456"}, ["A"],
])
def test_a_look_read_from_a_file_that_fails_a_check_is_left_out(entry):
    raw = json.dumps({"ok": {"label": "OK"}, "bad": entry}).encode()
    assert decode(raw) == {"ok": Look("OK")}


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"x"', b"\xff",
                                 json.dumps({"../x": {"label": "A"}}).encode()])
def test_looks_that_are_not_a_mapping_of_names_read_as_none(raw):
    assert decode(raw) == {}


def test_a_strategy_declaring_a_bad_look_is_one_line_and_not_registered():
    with pytest.raises(InputError, match=r"^strategy 'odd': look colour must be '#RRGGBB', got 'red'$"):
        strategy("odd", type(None), "x", look=Look("Odd", colour="red"))(lambda *a, **k: None)
    assert "odd" not in STRATEGIES


def test_declared_order_first_then_names():
    looks = {"b": Look("B", order=-1), "lp": BEFORE_LOOKS["lp"], "ft": BEFORE_LOOKS["ft"]}
    assert ordered(["z", "ft", "a", "lp", "b"], looks) == ["b", "lp", "ft", "a", "z"]


def test_the_decorator_stamps_the_name_and_the_old_call_is_one_clear_error():
    @strategy("stamp-test", type(None), "a test's own")
    def run(*args, **kwargs):
        return RunResult(COMPLETED, [], {})

    try:
        assert run().strategy == "stamp-test"
        assert STRATEGIES["stamp-test"].run().strategy == "stamp-test"
        assert STRATEGIES["stamp-test"].display == Look("stamp-test")  # no look: its name, plainly
    finally:
        STRATEGIES.unregister("stamp-test")
    with pytest.raises(TypeError, match="status 'ft' is not one of completed"):
        RunResult("ft", COMPLETED, [], {})


def test_the_summary_shows_each_strategys_own_hyperparameter_at_its_selected_step():
    # LP's C is a per-step hyperparameter: its value at the selected step (step 1: the best id_val).
    evals = [Evaluation(step, "id_val", "id_val", acc) for step, acc in ((0, 0.5), (1, 0.9), (2, 0.7))]
    result = RunResult(COMPLETED, evals, {"seed": 0}, step_hparams={0: {"C": 0.01}, 1: {"C": 0.316}, 2: {"C": 10.0}})
    final = final_metrics(result)
    assert final["selected_step"] == 1 and final["selected_hp.C"] == 0.316
    row = TrialRow.from_record
    assert shown_hparam("lp", row(final)) == "C 0.316"
    assert shown_hparam("ft", row({"hp.lr": 0.10512})) == "lr 0.105"
    assert shown_hparam("ft", row({})) == "-" and shown_hparam("no-such-strategy", row({"hp.lr": 0.1})) == "-"
    assert asdict(STRATEGIES["wise"].display)["shown"] == "alpha"
