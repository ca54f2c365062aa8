"""LP at scale: the C path on torch (`lpft.strategies.lp_torch`) against scikit-learn's, on
generated probe-like features (class means in a 32-dimensional subspace plus noise, an ID val
set of 10,000), in one run.

Both fit lpft's C path (`fit_path`: one scalar standardisation, each C warm-started from the last)
with lpft's defaults (tol 1e-4, max_iter 1000); scikit-learn on one BLAS thread as lpft runs it,
torch on every thread this process has (a trial's CPUs). Printed per size: each path's time, the
selected C of each, the ID val accuracy difference there and the largest on the path (at the
smallest C scikit-learn's defaults stop short of the optimum, whose intercept alone predicts the
most frequent class: see docs/strategies.md). Last line: `... ratio X` (torch's
time / scikit-learn's, at the largest size) and whether the selected C matches. Target: ratio
<= 0.2 at 100,000 x 2,048 with the same C.

    python bench/lp_scale.py                                  # 100,000 x 2,048, 10 classes, 50 C
    python bench/lp_scale.py --sizes 2000x256 24500x1280 100000x2048 --num-cs 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lpft.strategies.lp import LPParams, fit_path


def features(rows: int, dim: int, classes: int, seed: int = 0, separation: float = 3.5):
    """Class means in a 32-dimensional subspace, each `separation` noise SDs from the origin
    (3.5: an ID val accuracy near 85%, so the C path has a real optimum to find), plus unit noise."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(32, dim)).astype(np.float32)
    means = rng.normal(size=(classes, 32)).astype(np.float32) @ basis
    means *= separation / np.linalg.norm(means, axis=1, keepdims=True)

    def draw(n):
        y = rng.integers(0, classes, n)
        return means[y] + rng.normal(size=(n, dim)).astype(np.float32) + 1.0, y

    sets = {"id_train": draw(rows), "id_val": draw(10_000)}
    return ({k: v[0] for k, v in sets.items()}, {k: v[1] for k, v in sets.items()},
            {"id_train": "id_train", "id_val": "id_val"})


def peak_memory(feats, labels, roles, solver: str, classes: int) -> int:
    """The most memory numpy held at once, beyond what it held before, for a one-C path (numpy
    reports its arrays to tracemalloc; timed apart: tracing slows allocation)."""
    import tracemalloc

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fit_path(feats, labels, roles, LPParams(num_cs=1, solver=solver), classes)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["100000x2048"], help="ROWSxFEATURES of ID train")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--num-cs", type=int, default=50)
    ap.add_argument("--device", default="cpu", help="the torch path's device (cuda: a GPU trial's LP)")
    ap.add_argument("--torch-only", action="store_true", help="time torch alone (1M rows: sklearn takes hours)")
    args = ap.parse_args()
    import torch

    print(f"torch threads {torch.get_num_threads()}; scikit-learn: one BLAS thread; {args.num_cs} C, "
          f"{args.classes} classes")
    ratio, same = float("nan"), False
    for size in args.sizes:
        rows, dim = (int(v) for v in size.split("x"))
        feats, labels, roles = features(rows, dim, args.classes)
        out = {}
        for solver in ("torch",) if args.torch_only else ("sklearn", "torch"):
            hp = LPParams(num_cs=args.num_cs, solver=solver)
            start = time.perf_counter()
            evals, head = fit_path(feats, labels, roles, hp, args.classes, device=args.device)
            out[solver] = (time.perf_counter() - start, head, [e.accuracy for e in evals])
        if args.torch_only:
            t_tp, h_tp, _ = out["torch"]
            print(f"{rows:>8,} x {dim:>5,}: torch on {args.device} {t_tp:8.1f} s for {args.num_cs} C "
                  f"(selected C {h_tp.C:.3g})")
            continue
        (t_sk, h_sk, a_sk), (t_tp, h_tp, a_tp) = out["sklearn"], out["torch"]
        memory = {solver: peak_memory(feats, labels, roles, solver, args.classes) for solver in ("sklearn", "torch")}
        print(f"{rows:>8,} x {dim:>5,}: memory beyond the features while fitting (one C, tracemalloc's peak): "
              f"scikit-learn {memory['sklearn'] / 2**20:,.0f} MiB, torch {memory['torch'] / 2**20:,.0f} MiB "
              f"(the features: {feats['id_train'].nbytes / 2**20:,.0f} MiB, {feats['id_train'].dtype})")
        ratio, same = t_tp / t_sk, h_sk.step == h_tp.step
        worst = max(abs(a - b) for a, b in zip(a_sk, a_tp))
        at = abs(a_sk[h_sk.step] - a_tp[h_sk.step])  # one eval set (ID val): one accuracy per step
        print(f"{rows:>8,} x {dim:>5,}: scikit-learn {t_sk:8.1f} s (C {h_sk.C:.3g}), torch {t_tp:8.1f} s "
              f"(C {h_tp.C:.3g}); accuracy difference at the selected C {100 * at:.2f} points, largest on the "
              f"path {100 * worst:.2f}; ratio {ratio:.3f}")
    if args.torch_only:
        return
    print(f"lp_scale: torch / scikit-learn time ratio {ratio:.3f}; selected C {'matches' if same else 'DIFFERS'}")


if __name__ == "__main__":
    main()
