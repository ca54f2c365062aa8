"""Compute to the answer, small: the paper-style grid against lpft's default search (TPE +
ASHA) on `synthetic`, through `lpft sweep`; the search must reach the grid's best FT config
(within 0.5 ID-val points) inside its budget. bench/time_to_answer.py is the full comparison."""

import subprocess
import sys
from pathlib import Path

import yaml

from lpft.storage import locate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # bench/answer.py: the benchmark's own
from answer import orderings, time_to_answer

LRS = [0.1, 0.16, 0.25, 0.4, 0.63, 1.0]


def sweep(tmp_path, spec, cluster, *extra):
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(path), "--storage", str(tmp_path),
                        "--address", cluster.address, *extra], capture_output=True, text=True, timeout=600,
                       env=cluster.env)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout.strip().splitlines()


def test_the_search_reaches_the_grids_best_within_the_grids_budget(tmp_path, ray_cluster):
    common = {"benchmark": {"name": "synthetic", "eps": 0.1}, "max_concurrent": 1}
    ft = {"num_samples": len(LRS), "epochs": 120, "eval_every": 10}
    grid = sweep(tmp_path, {**common, "name": "grid", "search": "grid",
                            "strategies": {"lp": {"num_cs": 10}, "ft": {**ft, "lr": {"choices": LRS}}}},
                 ray_cluster, "--analyze")
    search = sweep(tmp_path, {**common, "name": "search", "scheduler": "asha",
                              "strategies": {"lp": {"num_cs": 10},
                                             "ft": {**ft, "lr": {"low": 0.1, "high": 1.0, "log": True}}}}, ray_cluster)
    # --analyze writes the report and says where; every sweep's last line says what to run next
    report = tmp_path / "grid" / "report" / "report.html"
    assert report.is_file() and f"report: {report}" in grid
    assert grid[-1].startswith(f"next: open {report}")
    assert search[-1].startswith(f"next: lpft analyze {tmp_path / 'search'}")
    assert not (tmp_path / "search" / "report").exists()
    answers = {a.strategy: a for a in time_to_answer(locate(tmp_path) / "grid", locate(tmp_path) / "search")}
    ft_answer = answers["ft"]
    assert ft_answer.grid_epochs == len(LRS) * 120  # the grid runs every point to its end
    assert ft_answer.search_epochs is not None, "the search never came within 0.5 points of the grid's best"
    assert ft_answer.search_epochs <= ft_answer.grid_epochs and 0 < ft_answer.ratio <= 1
    (grid_id, search_id), (grid_ood, search_ood) = orderings(list(answers.values()))
    assert grid_id == search_id and grid_ood == search_ood  # FT > LP in distribution, LP > FT out of it
