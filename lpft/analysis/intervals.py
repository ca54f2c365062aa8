"""Confidence intervals over seeds: for one strategy's mean, and for the difference of two.

A sweep replicates its selected configs on 2-3 seeds, where the normal quantile (the paper's
1.645·s/√n) is far too narrow: Student's t with n − 1 degrees of freedom is 3.8× wider at n = 2
and 1.8× at n = 3. `t` is the default; `z` keeps the paper's rule for reproducing its tables.
One seed gives no interval; seeds that all scored the same give none either (no spread to
estimate, which is not the same as certainty), and every view says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from lpft.registry import Registry

LEVEL = 0.90  # the paper's 90% intervals


@dataclass(frozen=True)
class Method:
    """How a half-width is made from a standard error and its degrees of freedom."""

    name: str
    label: str  # as table headers name it
    quantile: Callable[[float, float], float]  # (level, degrees of freedom) -> the critical value

    def half(self, se: float, df: float, level: float = LEVEL) -> float:
        return self.quantile(level, df) * se


METHODS: Registry[Method] = Registry("interval method")
METHODS.register("t")(Method("t", "Student t, n−1 df", lambda level, df: float(stats.t.ppf((1 + level) / 2, df))))
# The paper's rule as published: 1.645 itself (at 90%), not the quantile's 1.64485...
METHODS.register("z")(Method("z", "normal 1.645·s/√n, the paper's rule",
                             lambda level, df: 1.645 if level == LEVEL else float(stats.norm.ppf((1 + level) / 2))))


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its interval's half-width (NaN when there is none, `why` says why)."""

    mean: float
    half: float
    n: int
    sd: float = math.nan
    why: str = ""  # '' with an interval; "one seed", "identical" (every seed scored the same)
    method: str = "t"

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half


def mean_interval(values: Sequence[float], method: str = "t", level: float = LEVEL) -> Estimate:
    """The mean of `values` (NaNs dropped) and its `level` interval."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], float)
    n = len(v)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, why="no value", method=method)
    mean = float(v.mean())
    if n == 1:
        return Estimate(mean, math.nan, 1, why="one seed", method=method)
    sd = float(v.std(ddof=1))
    if np.ptp(v) == 0:
        return Estimate(mean, math.nan, n, 0.0, why="identical", method=method)
    return Estimate(mean, METHODS[method].half(sd / math.sqrt(n), n - 1, level), n, sd, method=method)


@dataclass(frozen=True)
class Difference:
    """a − b over seeds: paired over the seeds both ran (two or more), else Welch's unequal variances."""

    diff: float
    half: float
    kind: str  # "paired", "welch", "one-sample" (one side deterministic), "exact" (both), or "none"
    n_a: int
    n_b: int
    pairs: int  # seeds both ran (the paired test's n)
    df: float
    why: str = ""  # why there is no interval

    @property
    def low(self) -> float:
        return self.diff - self.half

    @property
    def high(self) -> float:
        return self.diff + self.half


def difference_interval(a: dict[int, float], b: dict[int, float], method: str = "t",
                        level: float = LEVEL, constant: str = "") -> Difference:
    """The interval of mean(a) − mean(b), from each strategy's accuracy by seed (NaNs dropped).

    Two or more common seeds: the paired interval of the per-seed differences (same seed, same
    split and data order: their noise cancels), centred on their mean. Otherwise Welch's
    interval of the difference of the two means, with Welch–Satterthwaite degrees of freedom.
    `constant` "a" or "b": that side is deterministic (its seed changes nothing), a constant, so
    the interval is the other side's own one-sample interval, shifted; "ab": both are, and the
    difference is exact."""
    a = {s: float(x) for s, x in a.items() if x is not None and not math.isnan(x)}
    b = {s: float(x) for s, x in b.items() if x is not None and not math.isnan(x)}
    if constant == "ab" and a and b:  # both deterministic: the difference is exact
        diff = float(np.mean(list(a.values())) - np.mean(list(b.values())))
        return Difference(diff, math.nan, "exact", len(a), len(b), 0, math.nan, "both deterministic: exact")
    if constant in ("a", "b") and a and b:
        fixed, varying = (a, b) if constant == "a" else (b, a)
        sign = 1.0 if constant == "b" else -1.0
        value = float(np.mean(list(fixed.values())))
        est = mean_interval(list(varying.values()), method, level)
        diff = sign * (est.mean - value)
        return Difference(diff, est.half, "one-sample", len(a), len(b), 0, est.n - 1 if est.n > 1 else math.nan,
                          "" if not math.isnan(est.half) else f"{est.why} against a deterministic run")
    common = sorted(set(a) & set(b))
    if len(common) >= 2:
        d = np.array([a[s] - b[s] for s in common])
        k = len(d)
        if np.ptp(d) == 0:
            return Difference(float(d.mean()), math.nan, "paired", len(a), len(b), k, k - 1,
                              "the same difference on every seed")
        return Difference(float(d.mean()), METHODS[method].half(float(d.std(ddof=1)) / math.sqrt(k), k - 1, level),
                          "paired", len(a), len(b), k, k - 1)
    va, vb = np.array(list(a.values())), np.array(list(b.values()))
    if not len(va) or not len(vb):
        return Difference(math.nan, math.nan, "none", len(va), len(vb), 0, math.nan, "no value")
    diff = float(va.mean() - vb.mean())
    if len(va) < 2 or len(vb) < 2:
        return Difference(diff, math.nan, "none", len(va), len(vb), len(common), math.nan,
                          "one seed" if len(va) == 1 and len(vb) == 1 else "one seed on one side")
    qa, qb = va.var(ddof=1) / len(va), vb.var(ddof=1) / len(vb)
    se = math.sqrt(qa + qb)
    if se == 0:
        return Difference(diff, math.nan, "welch", len(va), len(vb), len(common), math.nan, "no spread in either")
    df = (qa + qb) ** 2 / (qa ** 2 / (len(va) - 1) + qb ** 2 / (len(vb) - 1))
    return Difference(diff, METHODS[method].half(se, df, level), "welch", len(va), len(vb), len(common), float(df))
