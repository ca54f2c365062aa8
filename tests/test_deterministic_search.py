"""A run that repeats: with two trials at a time, what TPE is asked next must not depend on
which trial finished first (`deterministic_search`, on by default)."""

import pyarrow.parquet as pq

from lpft.search_spaces import Param
from lpft.storage import locate
from lpft.sweeps.ledger import Ledger
from lpft.sweeps.searcher import OptunaBranch, SweepSearcher

BUDGET = 8


def score(lr: float) -> dict:
    """A made-up objective peaked at lr 1e-3, the same whatever order trials end in."""
    import math

    val = 1.0 - abs(math.log10(lr) + 3) / 4
    return {"status": "completed", "id_val": val, "id_test": val, "ood_avg": 0.5, "final": True}


def run_search(tmp_path, window: int, finish_order: str) -> list[float]:
    """One strategy's TPE search of BUDGET trials, two at a time, without Ray; `finish_order`
    "first" ends the older running trial first, "last" the newer one. Returns the lrs asked."""
    tpe = OptunaBranch("t.ft", {"lr": Param("float", low=1e-5, high=1e-1, log=True)},
                       {"strategy": "ft", "seed": 0}, ["id_val"], 0, budget=BUDGET)
    searcher = SweepSearcher({"ft": tpe}, {"ft": BUDGET}, [], "id_val", Ledger(locate(tmp_path)), window=window)
    asked: list[float] = []
    running: list[tuple[str, dict]] = []
    ray_ids = iter(range(10_000))
    while len(asked) < BUDGET or running:
        while len(running) < 2:  # Tune fills its two slots whenever the searcher has a trial
            rid = f"ray{next(ray_ids)}"
            config = searcher.suggest(rid)
            if not isinstance(config, dict):
                break
            asked.append(config["lr"])
            running.append((rid, config))
        rid, config = running.pop(0 if finish_order == "first" or len(running) == 1 else 1)
        searcher.on_trial_complete(rid, score(config["lr"]))
    return asked


def test_the_asked_configs_do_not_depend_on_the_order_trials_finish(tmp_path):
    orders = [run_search(tmp_path / o, window=2, finish_order=o) for o in ("first", "last")]
    assert len(orders[0]) == BUDGET and orders[0] == orders[1]


def test_without_it_the_order_changes_what_tpe_asks(tmp_path):
    """The check above can fail: asynchronously, TPE's later asks follow completion order."""
    orders = [run_search(tmp_path / o, window=0, finish_order=o) for o in ("first", "last")]
    assert orders[0][:2] == orders[1][:2]  # the random start-up is seeded either way
    assert orders[0] != orders[1]


def test_the_synthetic_spec_run_twice_gives_the_same_trials(tmp_path, ray_cluster):
    """The built-in synthetic spec (two trials at a time), shortened, run twice for real."""
    import subprocess
    import sys

    import yaml

    from lpft.sweeps import builtin_specs

    spec = yaml.safe_load(builtin_specs()["synthetic"].read_text())
    spec["strategies"]["ft"].update(epochs=60, eval_every=20)
    spec["strategies"]["lpft"].update(epochs=60, eval_every=20)
    spec["replicate"] = 1
    tables = []
    for k in range(2):
        spec["name"] = f"twice{k}"
        path = tmp_path / f"twice{k}.yaml"
        path.write_text(yaml.safe_dump(spec))
        p = subprocess.run([sys.executable, "-m", "lpft.cli", "sweep", str(path), "--storage", str(tmp_path),
                            "--address", ray_cluster.address], capture_output=True, text=True, timeout=600,
                           env=ray_cluster.env)
        assert p.returncode == 0, p.stderr[-3000:]
        table = pq.read_table(tmp_path / f"twice{k}" / "trials.parquet").to_pandas()
        columns = ["trial_id", "seed", "status", "id_val", "id_test", "ood_avg", "hp.lr"]
        tables.append(table.sort_values("trial_id")[columns].reset_index(drop=True))
        summary = [ln for ln in p.stdout.splitlines() if ln.split()[:1] in (["lp"], ["ft"], ["lpft"])]
        tables.append(summary)
    assert tables[0].equals(tables[2]), (tables[0], tables[2])
    assert tables[1] == tables[3]  # the printed summary: the same selected configs and numbers
