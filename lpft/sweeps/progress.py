"""What a running sweep says about itself: per strategy, trials done of its budget, running,
stopped (ASHA), diverged and errored; the config selected so far by the summary's own rule
(`lpft.sweeps.outcome.selection`: `lpft.best` over completed trials, its mean over the seeds
it ran) with its ID val and OOD average, rounded as every view rounds them; elapsed time and
an ETA from the ended trials' durations.

On a terminal it is one table redrawn in place (rich's Live), with each ended trial's line
printed above it; elsewhere (CI, `lpft submit` logs, a file) one plain line every
`every` seconds and a last one when the sweep ends. The counts are those of the trials
table the sweep writes at its end.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from lpft.results import COMPLETED, DIVERGED, ERROR, STOPPED
from lpft.sweeps.outcome import selection
from lpft.sweeps.trial_row import TrialRow
from lpft.text import pct


@dataclass
class Tally:
    """One strategy's trials."""

    budget: int
    completed: int = 0
    stopped: int = 0
    diverged: int = 0
    errored: int = 0
    seconds: float = 0.0  # the ended trials' wall time, for the ETA
    best: tuple[float, float] | None = None  # (ID val, OOD avg) of the config selected so far
    metric: str = "id_val"
    rows: list[TrialRow] = field(default_factory=list)  # the ended trials' rows

    @property
    def ended(self) -> int:
        return self.completed + self.stopped + self.diverged + self.errored

    def end(self, row: TrialRow) -> None:
        status: Any = row.status  # whatever the row holds: only the four statuses are counted
        field = {COMPLETED: "completed", STOPPED: "stopped", DIVERGED: "diverged", ERROR: "errored"}.get(status)
        if field:
            setattr(self, field, getattr(self, field) + 1)
        self.seconds += float(row.wall_time_s or 0.0)
        self.rows.append(row)
        # The summary's rule on the trials ended so far: the same config, the same seed means.
        chosen = selection(self.rows, row.strategy, self.metric) if row.strategy else None
        self.best = (chosen["id_val"], chosen["ood_avg"]) if chosen else None


def _clock(seconds: float) -> str:
    seconds = int(seconds)  # floored: lines `every` seconds apart never show the same time
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Counts per strategy and how they are shown (see the module docstring)."""

    def __init__(self, budgets: dict[str, int], every: float = 30.0, stream: TextIO | None = None,
                 live: bool | None = None, metric: str = "id_val") -> None:
        self.metric = metric  # what the summary ranks configs on
        self.tallies = {name: Tally(budget, metric=metric) for name, budget in budgets.items()}
        self.every = every
        self.stream = stream or sys.stdout
        self.live_view = self.stream.isatty() if live is None else live
        self.start = time.monotonic()
        self.last_line = self.start
        self.concurrency = 1  # the most trials seen running at once
        self.running: dict[str, str] = {}  # Ray's trial id -> strategy (a retried trial starts again)
        self._live: Any = None
        # Closed: what Tune's loop still tells it (a loop the sweep left running after a signal:
        # lpft.sweeps.interrupt.supervise) changes neither the counts nor the screen
        self.closed = False

    # What the sweep tells it.
    def restored(self, row: TrialRow) -> None:
        """A trial that ended in an earlier run of this sweep (`--resume`)."""
        self._tally(row.strategy).end(row)

    def started(self, trial: str, strategy: str) -> None:
        if self.closed:
            return
        self.running[trial] = strategy
        self.concurrency = max(self.concurrency, len(self.running))
        self.tick()

    def deterministic(self, strategy: str, skipped: int) -> None:
        """A strategy whose selected run cannot differ on another seed: its replicates are not run."""
        if self.closed:
            return
        tally = self._tally(strategy)
        tally.budget = max(tally.ended, tally.budget - skipped)

    def skipped(self, strategy: str, trials: int, why: str) -> None:
        """Trials of `strategy` that will not run (`why`: one line saying so)."""
        if self.closed:
            return
        tally = self._tally(strategy)
        tally.budget = max(tally.ended, tally.budget - trials)
        self.say(why)

    def paused(self, trial: str) -> None:
        """A trial that failed and will be retried (or was paused): not running until it starts again."""
        if self.closed:
            return
        self.running.pop(trial, None)

    def cut_off(self) -> None:
        """The sweep was stopped (SIGINT, SIGTERM): its trials that had not ended run no more."""
        self.running.clear()

    def ended(self, trial: str, strategy: str, row: TrialRow, line: str) -> None:
        if self.closed:
            return
        self.running.pop(trial, None)
        self._tally(strategy).end(row)
        self.say(line)
        self.tick()

    def _running(self, strategy: str) -> int:
        return sum(s == strategy for s in self.running.values())

    def say(self, line: str) -> None:
        """A line that stays (a trial's end), above the live table when there is one."""
        if self.closed:
            return
        live = self._live  # read once: close() may clear it meanwhile
        if live is not None:
            live.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=self.stream, flush=True)

    def tick(self) -> None:
        """Start the live table (it redraws itself twice a second from the counts), or print the
        plain line when `every` seconds have passed since the last. Called at every Tune step."""
        if self.closed:
            return
        if self.live_view:
            if self._live is None:
                from rich.console import Console
                from rich.live import Live

                self._live = Live(console=Console(file=self.stream), refresh_per_second=2, get_renderable=self.table,
                                  redirect_stdout=False, redirect_stderr=False)
                self._live.start()
            return
        now = time.monotonic()
        if now - self.last_line >= self.every:
            self.last_line = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """The final counts, once: the live table's last state, or a last plain line."""
        if self.closed:
            return
        self.closed = True
        if self._live is not None:
            self._live.stop()  # draws the final counts
            self._live = None
        elif not self.live_view:
            print(self.line(), file=self.stream, flush=True)

    # What it shows.
    def _tally(self, strategy: Any) -> Tally:
        return self.tallies.setdefault(str(strategy), Tally(0, metric=self.metric))

    def eta(self) -> float | None:
        """Seconds left: each strategy's trials to go times its mean ended trial's wall time
        (the sweep's mean for a strategy with none ended yet), over the trials run at once."""
        ended = [t for t in self.tallies.values() if t.ended]
        if not ended:
            return None
        overall = sum(t.seconds for t in ended) / sum(t.ended for t in ended)
        left = sum(max(0, t.budget - t.ended) * (t.seconds / t.ended if t.ended else overall)
                   for t in self.tallies.values())
        return left / self.concurrency

    def _timing(self) -> str:
        eta = self.eta()
        done = all(t.ended >= t.budget for t in self.tallies.values())
        left = "done" if done else ("ETA unknown until a trial ends" if eta is None else f"ETA ~{_clock(eta)}")
        return f"elapsed {_clock(time.monotonic() - self.start)}, {left}"

    def line(self) -> str:
        """One plain line: `progress | ft 3/8 (2 running, 1 stopped) best id_val 91.2 ood 55.0 | ... |
        elapsed 3:10, ETA ~4:00`."""
        parts = []
        for name, t in self.tallies.items():
            extra = [f"{n} {label}" for n, label in ((self._running(name), "running"), (t.stopped, "stopped"),
                                                    (t.diverged, "diverged"), (t.errored, "errors")) if n]
            best = f" selected id_val {pct(t.best[0])} ood {pct(t.best[1])}" if t.best else ""
            parts.append(f"{name} {t.ended}/{t.budget}" + (f" ({', '.join(extra)})" if extra else "") + best)
        return f"progress | {' | '.join(parts)} | {self._timing()}"

    def table(self) -> Any:
        from rich.table import Table

        table = Table(title="lpft sweep", caption=self._timing(), title_justify="left", caption_justify="left")
        for header in ("strategy", "done", "running", "stopped", "diverged", "errors", "selected ID val",
                       "its OOD avg"):
            table.add_column(header, justify="left" if header == "strategy" else "right", no_wrap=True)
        for name, t in self.tallies.items():
            best = (pct(t.best[0]), pct(t.best[1])) if t.best else ("–", "–")
            table.add_row(name, f"{t.ended}/{t.budget}", str(self._running(name)), str(t.stopped), str(t.diverged),
                          str(t.errored), *best)
        return table
