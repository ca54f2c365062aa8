"""The `digits` table for the closing notes: LP, FT and LP-FT, learning rate chosen by ID val.

Each run goes through `lpft run --json` (the CLI a researcher uses), so the numbers are
what the command prints. Usage:
    python bench/digits_table.py [--epochs 3] [--ft-lrs 0.003,0.01,0.03] [--lpft-lrs 0.0003,0.001,0.003]
                                  [--set k=v] [--ft-set bn=eval]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def run(strategy: str, settings: list[str]) -> dict:
    cmd = [sys.executable, "-m", "lpft.cli", "run", "digits", "--strategy", strategy, "--json"]
    for s in settings:
        cmd += ["--set", s]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(f"  {' '.join(cmd[3:])}: {out['wall_time_s']:.0f} s", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--ft-lrs", default="0.003,0.01,0.03")
    ap.add_argument("--lpft-lrs", default="0.0003,0.001,0.003")
    ap.add_argument("--set", action="append", default=[], help="for every strategy (benchmark keys)")
    ap.add_argument("--ft-set", action="append", default=[], help="for ft and lpft only (e.g. bn=eval)")
    args = ap.parse_args()
    rows = [("lp", "-", run("lp", args.set))]
    for strategy, lrs in (("ft", args.ft_lrs), ("lpft", args.lpft_lrs)):
        runs = [(lr, run(strategy, [*args.set, *args.ft_set, f"lr={lr}", f"epochs={args.epochs}"]))
                for lr in lrs.split(",")]
        for lr, r in runs:
            print(f"  {strategy} lr={lr}: " + " ".join(f"{k}={100 * v:.1f}" for k, v in r["final"].items()),
                  file=sys.stderr)
        rows.append(max(((strategy, lr, r) for lr, r in runs), key=lambda t: t[2]["final"].get("id_val", -1)))
    sets = list(rows[0][2]["final"])
    ood = [s for s in sets if s not in ("id_val", "id_test")]
    print("| strategy | best lr | " + " | ".join(sets) + " | OOD avg | train s/epoch | run s |")
    print("|---" * (len(sets) + 5) + "|")
    for strategy, lr, r in rows:
        f = r["final"]
        avg = sum(f[s] for s in ood) / len(ood)
        per_epoch = r.get("diagnostics", {}).get("train_s_per_epoch")
        print(f"| {strategy} | {lr} | " + " | ".join(f"{100 * f[s]:.1f}" for s in sets) + f" | {100 * avg:.1f} | "
              + ("-" if per_epoch is None else f"{per_epoch:.1f}") + f" | {r['wall_time_s']:.0f} |")


if __name__ == "__main__":
    main()
