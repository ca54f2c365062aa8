"""The W&B logging actor a sweep's `wandb` tracker uses: Ray's own, and then `wandb.teardown()`.

Ray's `_WandbLoggingActor.run` ends with `wandb.finish()`, and the callback `ray.kill`s the
actor as soon as `run` returns; Ray ends a killed worker's child processes with it. With
wandb 0.31, `finish()` returns before its `wandb-core` child has written the run's records:
a trial that ended just before the sweep did (its actor killed tens of milliseconds
later) left a run file of its 7-byte header alone, seen under load in test_trackers.py.
`teardown()` waits for `wandb-core` to close its streams and exit.
"""

from __future__ import annotations

from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor


class FlushingWandbActor(_WandbLoggingActor):
    def run(self) -> None:
        super().run()
        self._wandb.teardown()


class FlushingWandbCallback(WandbLoggerCallback):
    _logger_actor_cls = FlushingWandbActor
