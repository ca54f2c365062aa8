"""Linear probing: logistic regression on cached features over a C path, C chosen on ID val.

Follows the official LP-FT code: features standardised by ONE scalar mean and std
(per-dimension scaling blows up near-constant channels: their mapped-back weights
made a head of norm ~700 and LP-FT diverge), 50 log-spaced C from 1e-7 to 1e2,
each fit warm-started from the previous one.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lpft.data.base import Benchmark
from lpft.data.cache import cache_root
from lpft.errors import InputError, require
from lpft.looks import Look
from lpft.results import BN_ADAPTED, COMPLETED, PLAIN, Evaluation, RunResult
from lpft.strategies.base import EpochCallback, SeedContext, strategy
from lpft.strategies.scoring import EvalSet, score, temperature_of

if TYPE_CHECKING:  # torch and the models load when a trial runs, not when a spec names LP
    from torch import nn

    from lpft.models.backbone import Backbone


SOLVERS = ("auto", "sklearn", "torch")
# How the C path is computed, in the LP head cache's key: a head computed another way never answers.
# 2: ID train fitted in float64 (1: in the features' dtype); the torch solver. 3: the mean and
# standard deviation accumulated in float64; the torch solver's sums in row blocks. 4: the torch
# solver's CPU products in the features' dtype (float32 from a backbone).
PATH_VERSION = 4
# auto's choice on the CPU: torch from this many feature-matrix entries (training rows x features)
# up (on 2 cores, 10 C: 0.35x scikit-learn's time at 100,000 x 2,048, 0.57x at 24,500 x 1,280: bench/
# README.md); below it scikit-learn, the reference, which takes seconds there (torch is faster
# there too: 0.48x at 10,000 x 512).
TORCH_FROM = 20_000_000


def solver_for(hp: LPHeadParams, rows: int, features: int, device: str) -> str:
    """The solver a path runs with: the one asked for, or auto's choice."""
    if hp.solver != "auto":
        return hp.solver
    return "torch" if device.startswith("cuda") or rows * features >= TORCH_FROM else "sklearn"


@dataclass(frozen=True)
class LPHeadParams:
    """LP's C path: LP's own hyperparameters, and those of strategies that start from LP's cached
    head (LP-FT, WiSE). One trial runs the whole path, so a sweep searches nothing here."""

    seed: int = 0
    c_min: float = 1e-7  # the official code's path: 50 log-spaced C from 1e-7 to 1e2
    c_max: float = 1e2
    num_cs: int = 50
    max_iter: int = 1000
    tol: float = 1e-4  # L-BFGS stops when the gradient's largest entry is at most this (scikit-learn's default)
    # sklearn (one BLAS thread), torch (the same objective and driver, lpft's arithmetic in row
    # blocks on the trial's threads or GPU: `lpft.strategies.lp_torch`), or auto: torch on a GPU
    # or for a large feature matrix
    solver: str = "auto"

    def lp(self) -> LPParams:
        """The LP whose head is used; building it validates the C path."""
        return LPParams(seed=self.seed, c_min=self.c_min, c_max=self.c_max, num_cs=self.num_cs,
                        max_iter=self.max_iter, tol=self.tol, solver=self.solver)


@dataclass(frozen=True)
class LPParams(LPHeadParams):
    bn_adapt: bool = False  # also score each eval set after re-estimating BatchNorm statistics on it

    def __post_init__(self) -> None:
        require(0 <= self.seed < 2**32, f"seed must be in [0, 2**32), got {self.seed}")
        require(0 < self.c_min <= self.c_max, "c_min and c_max must satisfy 0 < c_min <= c_max")
        require(self.num_cs >= 1, "num_cs must be >= 1")
        require(0 < self.tol < 1, f"tol must be in (0, 1), got {self.tol}")
        require(self.solver in SOLVERS, f"solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}")
        require(self.max_iter >= 1, "max_iter must be >= 1")


@dataclass
class LinearHead:
    """A head in raw feature space: logits = features @ weight.T + bias."""

    weight: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)
    C: float
    step: int

    def copy_into(self, linear: nn.Linear) -> None:
        """This head as `linear`'s weights (cast to its dtype); a Linear without bias keeps none."""
        import torch

        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(self.weight))
            if linear.bias is not None:
                linear.bias.copy_(torch.from_numpy(self.bias))


def c_path(hp: LPParams) -> np.ndarray:
    return np.logspace(np.log10(hp.c_min), np.log10(hp.c_max), hp.num_cs)


def full_head(coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray,
              num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's coef_/intercept_ as one row per class of the benchmark.

    A binary fit has one row (class 1 vs 0): split it symmetrically. A class absent
    from the training split gets zero weights and a bias below every other class's.
    """
    if coef.shape[0] == 1 and len(classes) == 2:
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((num_classes, coef.shape[1]))
    bias = np.full(num_classes, float(np.min(intercept)) - 10.0)
    weight[classes], bias[classes] = coef, intercept
    return weight, bias


def sklearn_path(x: np.ndarray, y: np.ndarray, cs: np.ndarray, hp: LPHeadParams,
                 fit_intercept: bool) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """scikit-learn's L-BFGS along the path, each C warm-started from the last: (coef, intercept,
    classes) per C."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    clf = LogisticRegression(warm_start=True, max_iter=hp.max_iter, tol=hp.tol, fit_intercept=fit_intercept,
                             random_state=hp.seed)
    for c in cs:
        clf.set_params(C=c)
        # One BLAS thread: lbfgs on probe-sized problems spends more time waking threads
        # than computing (12x slower on 2 cores with torch's OpenMP also loaded).
        with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x, y)
        yield clf.coef_, clf.intercept_ if fit_intercept else np.zeros(len(clf.coef_)), clf.classes_


def standardisation(train: np.ndarray, fit_intercept: bool, rows: int = 4096) -> tuple[float, float]:
    """ID train's one scalar mean (0 without an intercept: centring could not be mapped back) and
    standard deviation, accumulated in float64 over row blocks (no temporary the size of the
    matrix: at 1M x 2,048 that alone would be 8 GB)."""
    n = train.size or 1
    total = sum(float(train[i:i + rows].sum(dtype=np.float64)) for i in range(0, len(train), rows))
    mean = total / n if fit_intercept else 0.0
    square = 0.0
    for i in range(0, len(train), rows):
        block = train[i:i + rows].astype(np.float64)  # the one temporary: a block
        block -= mean
        square += float(np.einsum("ij,ij->", block, block))
    return mean, float(np.sqrt(square / n)) or 1.0


def fit_path(feats: dict[str, np.ndarray], labels: dict[str, np.ndarray], roles: dict[str, str],
             hp: LPParams, num_classes: int, fit_intercept: bool = True,
             on_step: EpochCallback | None = None,
             classes: dict[str, np.ndarray | None] | None = None,
             adapt: str = PLAIN, device: str = "cpu") -> tuple[list[Evaluation], LinearHead]:
    """Fits the C path on feats['id_train'] (`solver_for` picks scikit-learn or torch);
    evaluates every eval set at every C.

    Returns all evaluations and the head (mapped to raw feature space) of the C with
    the best ID val accuracy (the smallest such C on ties: the most regularised).
    """
    from lpft.strategies.lp_torch import lbfgs_path

    train = feats["id_train"]
    mean, scale = standardisation(train, fit_intercept)
    norm = {k: (v - mean) / scale for k, v in feats.items() if k != "id_train"}
    solver = solver_for(hp, train.shape[0], train.shape[1], device)
    if solver == "torch":  # reads ID train as cached, block by block, the standardisation folded in
        path = lbfgs_path(train, labels["id_train"], c_path(hp), fit_intercept, hp.max_iter, hp.tol, device,
                          mean=mean, scale=scale)
    else:
        # ID train in float64 whatever the features' dtype: scikit-learn fits in the dtype it is
        # given, and in float32 its L-BFGS stops short of the optimum where the path's small C make
        # it ill-conditioned (at C 1e-7 after two iterations, the intercept still ~0: a model the
        # objective does not define). In place: one float64 copy of the largest matrix, no
        # temporaries.
        x = train.astype(np.float64)
        x -= mean
        x /= scale
        path = sklearn_path(x, labels["id_train"], c_path(hp), hp, fit_intercept)
    evaluations: list[Evaluation] = []
    sets = [EvalSet(name, role, labels[name], (classes or {}).get(name)) for name, role in roles.items()
            if role != "id_train"]
    val_set = next((s for s in sets if s.role == "id_val"), None)
    best_val, best = 0.0, None
    for step, (c, (coef, intercept, fitted)) in enumerate(zip(c_path(hp), path)):
        w, b = full_head(coef, intercept, fitted, num_classes)
        logits = {s.name: norm[s.name] @ w.T + b for s in sets}
        temperature = temperature_of(logits[val_set.name], val_set) if val_set is not None else None
        evals = [score(step, logits[s.name], s, temperature, adapt=adapt) for s in sets]
        evaluations.extend(evals)
        if on_step is not None and adapt == PLAIN:
            on_step(step, evals, None)  # the whole path takes seconds: rerun rather than resume
        val = next(e.accuracy for e in evals if e.role == "id_val")
        if best is None or val > best_val:
            # (f - mean)/scale @ w.T + b  ==  f @ (w/scale).T + (b - mean * rowsum(w/scale))
            weight = w / scale
            best_val, best = val, LinearHead(weight, b - mean * weight.sum(axis=1), float(c), step)
    if best is None:
        raise InputError("num_cs must be >= 1: the C path is empty")
    return evaluations, best


def lp_seed_controls(hp: LPParams, context: SeedContext) -> tuple[str, ...]:
    """LP's own seed changes nothing: features come from a fixed backbone (on a fixed split) and
    L-BFGS fits the path deterministically (sklearn's random_state is for other solvers). Only a
    backbone drawn from the seed (`weights: none`) or a split it draws makes replicates differ."""
    return context.common()


@strategy("lp", LPParams, "linear probe: logistic regression on frozen features over a C path",
          step_hparams={"C": float}, seed_controls=lp_seed_controls,
          look=Look("LP", colour="#0072B2", order=0, shown="C"))
def lp(benchmark: Benchmark, backbone: Backbone, hp: LPParams, device: str = "cpu",
       on_epoch: EpochCallback | None = None, resume: dict | None = None, workers: int = 0) -> RunResult:
    from lpft.models.features import cached_array

    result = probe(benchmark, backbone, hp, device, on_epoch, workers)
    # The LP-FT and WiSE trials of the same sweep start from this head: kept where they look for it
    # (lp_head's cache), so the first of them reads it instead of fitting the path again. If one
    # is fitting it right now, this trial leaves it to that one rather than wait: its own numbers
    # are done. Their LP is this one without bn_adapt, which only adds scores after the head is
    # chosen: any other field of LPParams would change the head and must be in hp.lp(), so in the key.
    head = result.model
    assert isinstance(head, LinearHead) and replace(hp, bn_adapt=False) == hp.lp()
    path, record = head_entry(benchmark, backbone, hp.lp(), device)
    try:
        cached_array(path, record, benchmark.num_classes, lambda: pack(head), wait=False)
    except OSError as e:  # a read-only or full cache: the trial's numbers stand, LP-FT fits its own
        print(f"lpft: cache: the LP head was not kept ({e}); LP-FT and WiSE trials fit it again",
              file=sys.stderr, flush=True)
    return result


def probe(benchmark: Benchmark, backbone: Backbone, hp: LPParams, device: str = "cpu",
          on_epoch: EpochCallback | None = None, workers: int = 0) -> RunResult:
    """LP's trial: the C path's evaluations and the selected head."""
    from lpft.models.bn_adapt import has_batchnorm
    from lpft.models.features import adapted_features, cached_features

    feats = cached_features(backbone, benchmark, device=device, workers=workers)
    labels = {k: s.y for k, s in benchmark.splits.items()}
    roles = {k: s.role for k, s in benchmark.splits.items()}
    classes = {k: s.classes for k, s in benchmark.splits.items()}
    evaluations, head = fit_path(feats, labels, roles, hp, benchmark.num_classes,
                                 fit_intercept=benchmark.head_bias, on_step=on_epoch, classes=classes, device=device)
    if hp.bn_adapt and has_batchnorm(backbone.module):
        # AdaBN's protocol: the probe is fit on features whose BatchNorm statistics are ID train's,
        # and each eval set is scored with statistics re-estimated on its own images (extra rows).
        adapted = adapted_features(backbone, benchmark, device=device, workers=workers)
        evaluations += fit_path(adapted, labels, roles, hp, benchmark.num_classes,
                                fit_intercept=benchmark.head_bias, classes=classes, adapt=BN_ADAPTED, device=device)[0]
    cs = c_path(hp)
    rows, features = feats["id_train"].shape
    return RunResult(COMPLETED, evaluations, asdict(hp),
                     model=head, step_hparams={i: {"C": float(c)} for i, c in enumerate(cs)},
                     diagnostics={"C": head.C, "head_norm": float(np.linalg.norm(head.weight)),
                                  "solver": solver_for(hp, rows, features, device)})


def head_entry(benchmark: Benchmark, backbone: Backbone, hp: LPParams, device: str = "cpu",
               root: Path | None = None) -> tuple[Path, dict[str, str]]:
    """Where LP's selected head for (features, C path, seed) is cached, and its record: keyed by
    every split's feature key (so by the data, weights and transform they came from) and the
    path's parameters."""
    from lpft.models.features import feature_key

    keys = [feature_key(backbone, benchmark, s) for s in sorted(benchmark.splits)]
    # auto's solver depends on the device's kind (and the features' shape, which their keys fix)
    on = "cuda" if device.startswith("cuda") else "cpu"
    blob = json.dumps({"features": keys, "hp": asdict(hp), "bias": benchmark.head_bias, "on": on,
                       "torch_from": TORCH_FROM, "path": PATH_VERSION}, sort_keys=True)
    key = hashlib.sha256(blob.encode()).hexdigest()[:24]
    record = {"key": key, "for": f"the LP head of {benchmark.key} ({backbone.name}, {backbone.digest}, C path "
                                 f"{hp.c_min:g}..{hp.c_max:g} x{hp.num_cs}, seed {hp.seed})",
              "kind": "LP head", "benchmark": benchmark.key, "backbone": backbone.name, "split": "all",
              "detail": f"weights {backbone.digest[:8]}, C {hp.c_min:g}..{hp.c_max:g} x{hp.num_cs}, seed {hp.seed}"}
    return (root or cache_root()) / "heads" / f"{key}.npz", record


def pack(head: LinearHead) -> np.ndarray:
    n = len(head.weight)
    return np.hstack([head.weight, head.bias[:, None], np.full((n, 1), head.C), np.full((n, 1), head.step)])


def lp_head(benchmark: Benchmark, backbone: Backbone, hp: LPParams, device: str = "cpu",
            root: Path | None = None, workers: int = 0) -> LinearHead:
    """LP's selected head, computed once per (features, C path, seed) and cached on disk (an LP
    trial keeps its own there too), checked on reading as features are (`cached_array`)."""
    from lpft.models.features import cached_array

    def compute() -> np.ndarray:
        head = probe(benchmark, backbone, hp, device, workers=workers).model
        assert isinstance(head, LinearHead)
        return pack(head)

    path, record = head_entry(benchmark, backbone, hp, device, root)
    packed = cached_array(path, record, benchmark.num_classes, compute)
    return LinearHead(packed[:, :-3], packed[:, -3], float(packed[0, -2]), int(packed[0, -1]))
