"""`centroid`: nearest class mean on frozen features, one step per shrinkage toward the mean."""

import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lpft.looks import Look
from lpft.models.features import cached_features
from lpft.results import COMPLETED, Evaluation, RunResult
from lpft.search_spaces import Param, hparam
from lpft.strategies import strategy


@dataclass(frozen=True)
class CentroidParams:
    seed: int = 0
    shrink: float = hparam(0.0, search=Param("float", 0.0, 0.9), grid=(0.0, 0.5))
    busy_s: float = 0.0  # seconds of busy work first: lets a test see trials spread over nodes
    # Test-only: a folder where the first `meet` trials wait for each other (up to a minute). With
    # one CPU per node, the first two then run on different nodes, however slowly the second
    # node's worker starts (under load it took longer than a trial, and the first node's reused
    # actor ran every trial).
    meet_dir: str = ""
    meet: int = 0


# Its look: how tables, figures and sentences show it, carried by its results (`lpft.looks`).
@strategy("centroid", CentroidParams, "nearest class mean on frozen features (an example plugin)",
          look=Look("Centroid", colour="#AA3377", order=3, shown="shrink"))
def centroid(benchmark, backbone, hp, device="cpu", on_epoch=None, resume=None, workers=0):
    if hp.meet_dir:
        _meet(Path(hp.meet_dir), hp.meet)
    end = time.perf_counter() + hp.busy_s
    while time.perf_counter() < end:
        pass
    feats = cached_features(backbone, benchmark, device=device, workers=workers)
    x, y = feats["id_train"], benchmark.train.y
    means = np.stack([x[y == c].mean(axis=0) for c in range(benchmark.num_classes)])
    means = (1 - hp.shrink) * means + hp.shrink * x.mean(axis=0)
    evals = []
    for name, split in benchmark.eval_sets.items():
        pred = np.argmin(((feats[name][:, None, :] - means[None]) ** 2).sum(-1), axis=1)
        evals.append(Evaluation(0, name, split.role, float((pred == split.y).mean())))
    if on_epoch is not None:
        on_epoch(0, evals, None)
    return RunResult(COMPLETED, evals, asdict(hp))


def _meet(folder: Path, n: int, timeout: float = 60.0) -> None:
    """Arrive (a file of this process's own), then wait until `n` have arrived or `timeout`."""
    folder.mkdir(parents=True, exist_ok=True)
    arrived = len(list(folder.iterdir()))
    if arrived >= n:
        return  # the meeting is over: later trials go on at once
    (folder / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
    end = time.monotonic() + timeout
    while len(list(folder.iterdir())) < n and time.monotonic() < end:
        time.sleep(0.05)
