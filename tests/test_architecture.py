"""The layering ARCHITECTURE.md describes, checked on the source: imports go one way, no circles,
strategies and data never reach Ray, the analysis never reaches torch."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from import_graph import LAYERS, cycles, graph, layer, modules, reaches, unit, upward

GRAPH = graph()


def test_every_unit_has_a_layer():
    units = {unit(m) for m in modules()}
    placed = {u for names in LAYERS for u in names}
    assert units <= placed, f"units missing from ARCHITECTURE.md's layers: {sorted(units - placed)}"


def test_no_import_circles():
    assert cycles(GRAPH) == []


def test_imports_only_go_down():
    assert upward(GRAPH) == []


@pytest.mark.parametrize("unit_name", ["strategies", "data", "models", "trial", "analysis", "dataset", "best"])
def test_no_ray_below_the_trainables(unit_name):
    for m in GRAPH:
        if unit(m) == unit_name:
            assert "external:ray" not in reaches(GRAPH, m), f"{m} reaches ray"


def test_analysis_reaches_only_the_results_layer_and_never_torch():
    for m in GRAPH:
        if unit(m) != "analysis":
            continue
        reached = reaches(GRAPH, m)
        assert not {"external:torch", "external:timm", "external:ray"} & reached, m
        below = {t for t in reached if not t.startswith("external:") and unit(t) != "analysis"}
        assert all(layer(t) <= 1 for t in below), f"{m} reaches {sorted(t for t in below if layer(t) > 1)}"


def test_analysis_imports_without_torch_or_ray_at_run_time():
    """The same at run time: importing the analysis (and the results reader) loads neither."""
    probe = ("import sys, lpft.analysis.report, lpft.dataset, lpft.best; "
             "print(sorted(m for m in ('torch', 'ray', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_checker_sees_a_circle_and_an_upward_arrow(tmp_path):
    """The checks above can fail: a package with a circle and a data -> sweeps import."""
    pkg = tmp_path / "lpft"
    (pkg / "data").mkdir(parents=True)
    (pkg / "sweeps").mkdir()
    for f in ("__init__.py", "data/__init__.py", "sweeps/__init__.py"):
        (pkg / f).write_text("")
    (pkg / "data" / "a.py").write_text("from lpft.data import b\nfrom lpft.sweeps import launch\n")
    (pkg / "data" / "b.py").write_text("def f():\n    import lpft.data.a\n")
    (pkg / "sweeps" / "launch.py").write_text("import ray\n")
    g = graph(pkg)
    assert cycles(g) == [["lpft.data.a", "lpft.data.b"]]
    assert upward(g) == [("lpft.data.a", "lpft.sweeps.launch")]
    assert "external:ray" in reaches(g, "lpft.data.b")
