"""The soup stage's place in a sweep, without Ray: a soup is asked for once, after every trial of
its sources (search and replicates) has ended, over their completed trials in the order the
sweep asked for them; a resumed sweep neither loses nor repeats it; the ledger refuses a soup
entry that points outside the sweep."""

from __future__ import annotations

import json

import pytest

from lpft.errors import InputError
from lpft.storage import locate
from lpft.sweeps.ledger import Ledger
from lpft.sweeps.searcher import SweepSearcher, grid_configs
from lpft.sweeps.trial_row import TrialRow

DONE = {"status": "completed", "id_val": 0.9, "id_test": 0.9, "ood_avg": 0.5, "final": True}
SOUP = {"strategy": "soup-greedy", "bn_reestimate": True}


def build(ledger):
    branches = {"ft": grid_configs({"lr": [0.1, 0.3]}, {"strategy": "ft", "seed": 0}),
                "lpft": grid_configs({"lr": [0.01]}, {"strategy": "lpft", "seed": 0})}
    return SweepSearcher(branches, {"ft": 2, "lpft": 1}, [7], "id_val", ledger,
                         models_uri=(ledger.where.parent / "models").uri,
                         pooled=[(SOUP, ("ft", "lpft"))])


def end(searcher, ledger, ray_id, result):
    trial = searcher.running[ray_id]
    searcher.on_trial_complete(ray_id, result)
    ledger.ended(searcher.entries[trial], TrialRow.from_record({**result, "trial_id": trial}))


def test_the_soup_waits_for_every_source_trial_and_takes_the_completed_ones_in_asked_order(tmp_path):
    ledger = Ledger(locate(tmp_path))
    s = build(ledger)
    asked = [s.suggest(f"r{i}")["trial"] for i in range(3)]
    assert asked == ["ft-000", "ft-001", "lpft-000"]
    end(s, ledger, "r2", DONE)  # LP-FT's search ends first: its replicate comes, no soup yet
    assert s.suggest("r3")["trial"] == "lpft-seed7"
    end(s, ledger, "r0", {**DONE, "status": "diverged", "id_val": 0.1})  # not an ingredient
    end(s, ledger, "r1", DONE)
    assert s.suggest("r4")["trial"] == "ft-seed7"
    assert s.suggest("r5") is None  # two replicates still running: the soup waits
    end(s, ledger, "r3", DONE)
    assert s.suggest("r6") is None
    end(s, ledger, "r4", DONE)
    soup = s.suggest("r7")
    assert soup["trial"] == "soup-greedy" and soup["stage"] == "soup" and soup["bn_reestimate"] is True
    assert soup["candidates"] == "ft-001,lpft-000,lpft-seed7,ft-seed7"  # completed, in the ledger's order
    assert soup["models"] == (locate(tmp_path) / "models").uri and soup["seed"] == 0
    assert s.suggest("r8") is None  # asked once
    end(s, ledger, "r7", DONE)
    assert s.suggest("r9") == "FINISHED"

    again = build(ledger)  # --resume of the finished sweep: nothing new
    again.restore_from(ledger.entries())
    assert again.suggest("x") == "FINISHED"


def test_a_resume_asks_for_a_soup_its_sources_finished_before_the_driver_died(tmp_path):
    ledger = Ledger(locate(tmp_path))
    s = build(ledger)
    for i in range(3):
        s.suggest(f"r{i}")
    for i in range(3):
        end(s, ledger, f"r{i}", DONE)
    for i in range(3, 5):  # the two replicates
        s.suggest(f"r{i}")
        end(s, ledger, f"r{i}", DONE)
    # the driver dies before it asks for the soup
    again = build(ledger)
    again.restore_from(ledger.entries())
    soup = again.suggest("x")
    assert soup["trial"] == "soup-greedy" and len(soup["candidates"].split(",")) == 5


def test_the_ledger_refuses_a_soup_entry_pointing_outside_the_sweep(tmp_path):
    ledger = Ledger(locate(tmp_path))
    good = {"strategy": "soup-greedy", "stage": "soup", "trial": "soup-greedy", "candidates": "ft-000,ft-001",
            "models": (locate(tmp_path) / "models").uri}
    ledger.asked("soup-greedy", 0, good)
    assert list(ledger.entries()) == ["soup-greedy"]
    for bad, why in (({**good, "models": "/elsewhere/models"}, "is not this sweep's models folder"),
                     ({**good, "candidates": "ft-000,../x"}, "is not a list of this sweep's trials")):
        (tmp_path / "ledger" / "soup-greedy.json").write_text(json.dumps(
            {"trial": "soup-greedy", "order": 0, "config": bad, "row": None}))
        with pytest.raises(InputError, match=why):
            ledger.entries()


@pytest.mark.parametrize("entry, message", [
    ({"of": ["ft"], "num_samples": 3},
     "strategies.soup-greedy.num_samples: soup-greedy runs once over all its sources"),
    ({"of": ["ft"], "bn_reestimate": {"choices": [True, False]}},
     "strategies.soup-greedy.bn_reestimate: soup-greedy searches nothing (it runs once over all its sources)"),
    ({"of": ["ft"], "candidates": "ft-000"}, "strategies.soup-greedy.candidates: filled by the sweep"),
    ({"of": ["lp"]}, "strategies.soup-greedy.of 'lp' is not a fine-tuning strategy of this spec"),
    ({}, "strategies.soup-greedy.of must list the fine-tuning strategies whose models it uses"),
])
def test_a_soup_entry_that_would_be_ignored_or_cannot_run_is_one_line(entry, message):
    from lpft.sweeps.spec import parse_spec

    spec = {"name": "s", "benchmark": {"name": "synthetic"},
            "strategies": {"lp": {}, "ft": {"num_samples": 2}, "soup-greedy": entry}}
    with pytest.raises(InputError) as e:
        parse_spec(spec)
    assert str(e.value).startswith(message), str(e.value)


def test_soups_and_resample_split_do_not_go_together():
    from lpft.sweeps.spec import parse_spec

    spec = {"name": "s", "benchmark": {"name": "synthetic"}, "resample_split": True,
            "strategies": {"ft": {}, "soup-uniform": {"of": ["ft"]}}}
    with pytest.raises(InputError, match=r"strategies.soup-uniform: a soup ranks its ingredients on one ID val set"):
        parse_spec(spec)
    ok = parse_spec({**spec, "strategies": {"ft": {}, "soup-uniform": {"of": ["ft"], "bn_reestimate": False}},
                     "resample_split": False})
    assert ok.strategies["soup-uniform"].sources == ("ft",)


def test_a_soup_asked_but_cut_off_runs_again_once_and_failed_or_stopped_trials_are_no_ingredients(tmp_path):
    from lpft.search_spaces import Param
    from lpft.sweeps.searcher import OptunaBranch

    ledger = Ledger(locate(tmp_path))

    def build_tpe():  # an Optuna branch in deterministic order (window 1), as a default sweep runs
        tpe = OptunaBranch("t.ft", {"lr": Param("float", low=1e-3, high=1.0, log=True)},
                           {"strategy": "ft", "seed": 0}, ["id_val"], 0)
        return SweepSearcher({"ft": tpe}, {"ft": 3}, [], "id_val", ledger,
                             models_uri=(ledger.where.parent / "models").uri, window=1,
                             pooled=[({"strategy": "soup-uniform"}, ("ft",))])

    s = build_tpe()
    assert s.suggest("r0")["trial"] == "ft-000"
    assert s.suggest("r1") is None  # window 1: ft-001 waits for ft-000
    end(s, ledger, "r0", DONE)
    assert s.suggest("r1")["trial"] == "ft-001"
    s.on_trial_complete("r1", None, error=True)
    ledger.ended(s.entries["ft-001"], TrialRow.from_record({"status": "error", "trial_id": "ft-001"}))
    assert s.suggest("r2")["trial"] == "ft-002"
    end(s, ledger, "r2", {"id_val": 0.5, "step": 10})  # stopped by ASHA: no final status
    soup = s.suggest("r3")
    assert soup["trial"] == "soup-uniform" and soup["candidates"] == "ft-000"
    # the driver dies with the soup asked for, not ended: the resumed sweep runs it once more
    again = build_tpe()
    again.restore_from(ledger.entries())
    assert again.suggest("x0") == soup
    assert again.suggest("x1") is None
