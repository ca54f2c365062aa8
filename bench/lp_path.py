"""lpft's 50-value C path vs a plain scikit-learn loop (the official LP-FT code's method).

Both run in this process on the same cached `digits` features (or, with `--generated
ROWSxFEATURES`, `bench/lp_scale.py`'s probe-like features with an ID val set of 10,000), the
same scalar standardisation, the same grid and warm starts; the baseline calls `clf.score`
per eval set as the official code does. lpft's path picks its solver as a trial does
(`solver: auto`: torch from 50 million feature entries up). Prints the time ratio (target
<= 1.0) and the selected accuracies (must agree within 0.5 points).

    python bench/lp_path.py [--repeats 2] [--set key=value ...]   (digits parameters)
    python bench/lp_path.py --generated 100000x2048 --num-cs 10 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))  # lp_scale's generator

from lpft.data import load_benchmark
from lpft.models import build_backbone, cached_features
from lpft.strategies.lp import LPParams, c_path, fit_path


def plain_loop(feats: dict, labels: dict, eval_sets: list[str], hp: LPParams) -> dict[str, float]:
    mean, std = feats["id_train"].mean(), feats["id_train"].std()
    norm = {k: (v - mean) / std for k, v in feats.items()}
    clf = LogisticRegression(warm_start=True, max_iter=hp.max_iter, random_state=hp.seed)
    best: tuple[float, dict[str, float]] | None = None
    for c in c_path(hp):
        clf.C = c
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(norm["id_train"], labels["id_train"])
        accs = {k: clf.score(norm[k], labels[k]) for k in eval_sets}
        if best is None or accs["id_val"] > best[0]:
            best = (accs["id_val"], accs)
    assert best is not None
    return best[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--generated", metavar="ROWSxFEATURES", help="generated features instead of digits'")
    ap.add_argument("--num-cs", type=int, default=LPParams().num_cs)
    args = ap.parse_args()
    hp = LPParams(num_cs=args.num_cs)
    if args.generated:
        from lp_scale import features

        rows, dim = (int(v) for v in args.generated.split("x"))
        feats, labels, roles = features(rows, dim, 10)
        eval_sets, num_classes, what = ["id_val"], 10, "generated"
    else:
        bench = load_benchmark("digits", **dict(s.split("=", 1) for s in args.set))
        feats = cached_features(build_backbone("tf_efficientnet_lite0", "imagenet", bench), bench)
        labels = {k: s.y for k, s in bench.splits.items()}
        roles = {k: s.role for k, s in bench.splits.items()}
        eval_sets, num_classes, what = list(bench.eval_sets), bench.num_classes, f"digits {bench.params}"
    print(f"{what}: train {feats['id_train'].shape}, {hp.num_cs} C values "
          f"{hp.c_min:g}..{hp.c_max:g}, max_iter {hp.max_iter}")
    times: dict[str, list[float]] = {"plain": [], "lpft": []}
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.repeats):  # interleaved, best of N each
        t = time.perf_counter()
        results["plain"] = plain_loop(feats, labels, eval_sets, hp)
        times["plain"].append(time.perf_counter() - t)
        t = time.perf_counter()
        evals, head = fit_path(feats, labels, roles, hp, num_classes)
        times["lpft"].append(time.perf_counter() - t)
        results["lpft"] = {e.eval_set: e.accuracy for e in evals if e.step == head.step}
    plain, ours = min(times["plain"]), min(times["lpft"])
    print(f"plain sklearn loop: {plain:.2f} s   lpft fit_path: {ours:.2f} s   ratio lpft/plain: {ours / plain:.3f}")
    print(f"{'eval set':10s} {'plain %':>8s} {'lpft %':>8s} {'diff':>6s}")
    worst = 0.0
    for k in eval_sets:
        diff = 100 * (results["lpft"][k] - results["plain"][k])
        worst = max(worst, abs(diff))
        print(f"{k:10s} {100 * results['plain'][k]:8.1f} {100 * results['lpft'][k]:8.1f} {diff:+6.1f}")
    print(f"largest difference: {worst:.2f} points ({'within' if worst <= 0.5 else 'OUTSIDE'} 0.5)")


if __name__ == "__main__":
    main()
