"""The sweep's progress view on its own: counts, the ETA, the plain line's pace, the live table."""

import io

import pytest

from lpft.sweeps import progress as progress_module
from lpft.sweeps.progress import Progress
from lpft.sweeps.trial_row import TrialRow


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", c)
    return c


def row(strategy, status, id_val=0.9, ood=0.5, seconds=10.0, **more):
    return TrialRow.from_record({"strategy": strategy, "status": status, "id_val": id_val, "ood_avg": ood,
                                 "wall_time_s": seconds, **more})


def test_the_plain_line_comes_at_most_once_per_interval_and_counts_every_status(clock):
    out = io.StringIO()
    p = Progress({"lp": 1, "ft": 4}, every=10, stream=out, live=False)
    for _second in range(35):  # the Tune loop ticks often
        clock.now += 1
        p.tick()
    assert out.getvalue().count("progress |") == 3  # at 10, 20 and 30 s
    p.started("r1", "ft")
    p.started("r2", "ft")
    p.ended("r1", "ft", row("ft", "completed", 0.95, 0.52, 20.0), "  [ft] ft-000 completed")
    p.ended("r2", "ft", row("ft", "diverged", None, None), "  [ft] ft-001 diverged")
    p.ended("r3", "ft", row("ft", "stopped", 0.80, 0.60), "  [ft] ft-002 stopped")
    p.ended("r4", "ft", row("ft", "error", None, None), "  [ft] ft-003 error")
    p.close()
    last = out.getvalue().strip().splitlines()[-1]
    # the completed trial: the stopped one (higher OOD) is no candidate, as in the sweep's summary
    assert last.startswith("progress | lp 0/1 | ft 4/4 (1 stopped, 1 diverged, 1 errors) selected id_val 95.0 "
                           "ood 52.0")
    assert "  [ft] ft-000 completed" in out.getvalue()  # the per-trial lines stay


def test_the_eta_uses_each_strategys_own_trial_time_over_the_trials_run_at_once(clock):
    p = Progress({"lp": 2, "ft": 4}, stream=io.StringIO(), live=False)
    assert p.eta() is None
    p.started("a", "lp")
    p.started("b", "ft")
    p.ended("a", "lp", row("lp", "completed", seconds=2.0), "")
    p.ended("b", "ft", row("ft", "completed", seconds=30.0), "")
    assert p.eta() == pytest.approx((1 * 2.0 + 3 * 30.0) / 2)  # two ran at once


def test_a_resumed_sweep_counts_what_ended_before(clock):
    p = Progress({"ft": 3}, stream=io.StringIO(), live=False)
    p.restored(row("ft", "completed", 0.9, 0.4))
    assert "ft 1/3" in p.line() and "selected id_val 90.0 ood 40.0" in p.line()


def test_the_live_view_shows_the_summarys_selection_not_the_single_best_trial(clock):
    """Two FT configs on two seeds each: lr 0.1 scores 0.95 and 0.81 (mean 0.88), lr 0.3 0.90 and
    0.90 (mean 0.90; lpft.best ranks on the seeds every config ran, here both). The single best
    trial (0.95) is lr 0.1's; the selected config, as the summary names it, is lr 0.3."""
    p = Progress({"ft": 4}, stream=io.StringIO(), live=False)
    for i, (lr, seed, val, ood) in enumerate(((0.1, 0, .95, .30), (0.1, 1, .81, .40), (0.3, 0, .90, .50),
                                              (0.3, 1, .90, .5095))):
        p.ended(str(i), "ft", row("ft", "completed", val, ood, **{"hp.lr": lr, "seed": seed, "stage": "search"}), "")
    # lr 0.3: ID val (0.90 + 0.90) / 2, OOD (0.50 + 0.5095) / 2 = 0.50475 -> 50.5 (half up)
    assert "selected id_val 90.0 ood 50.5" in p.line()


def test_on_a_terminal_it_is_one_table_redrawn_with_the_trial_lines_above(clock):
    out = io.StringIO()
    p = Progress({"lp": 1, "ft": 2}, stream=out, live=True)
    p.started("r1", "ft")
    clock.now += 65
    p.ended("r1", "ft", row("ft", "completed", 0.95, 0.52, 60.0), "  [ft] ft-000 completed: id_val 95.0")
    p.close()
    text = out.getvalue()
    assert "progress |" not in text  # no plain lines on a terminal
    assert text.index("[ft] ft-000 completed") < text.rindex("lpft sweep")  # the line above the table
    final = text[text.rindex("lpft sweep"):]
    assert "1/2" in final and "95.0" in final and "52.0" in final and "elapsed 1:05" in final


@pytest.mark.parametrize("live", [True, False])
def test_once_closed_what_a_loop_left_running_says_changes_nothing(clock, live):
    """A sweep stopped by a signal closes its view while Tune's loop may still run (in its own
    thread: lpft.sweeps.interrupt.supervise): no table restarted over the summary, no counts moved."""
    out = io.StringIO()
    p = Progress({"ft": 2}, stream=out, live=live)
    p.started("r1", "ft")
    p.close()
    shown = out.getvalue()
    p.started("r2", "ft")
    clock.now += 60
    p.ended("r1", "ft", row("ft", "completed"), "  [ft] ft-000 completed")
    p.skipped("ft", 1, "  one skipped")
    p.tick()
    assert out.getvalue() == shown and p._live is None
    assert p.tallies["ft"].ended == 0 and p.tallies["ft"].budget == 2 and p.running == {"r1": "ft"}
