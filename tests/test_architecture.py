"""The layering ARCHITECTURE.md describes: import-linter's contracts in pyproject.toml (`make lint`
runs `lint-imports`; so does this test, so `make test` alone checks it too), every unit placed in
a layer, the contracts able to fail, and the analysis importing without torch or Ray at run time."""

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
CONTRACTS_TYPES = {c["type"] for c in CONTRACTS}


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    # the checkout's lpft (PYTHONPATH), not whichever one is installed
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_the_import_contracts_hold():
    out = lint_imports(REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in out.stdout


def test_every_unit_has_a_layer():
    layers = next(c for c in CONTRACTS if c["type"] == "layers")["layers"]
    placed = {name.strip() for line in layers for name in line.split(":")}
    units = {m for m in grimp.build_graph("lpft").modules if m.count(".") == 1}
    assert units <= placed, f"units missing from ARCHITECTURE.md's layers: {sorted(units - placed)}"


def test_the_contracts_fail_on_a_circle_an_upward_arrow_and_ray_below_the_trial(tmp_path):
    """The same contracts, on a package with a circle inside one unit, a data -> sweeps import
    and `import ray` in data, all inside functions: each is named."""
    pkg = tmp_path / "lpft"
    for unit in ("data", "sweeps", "analysis"):
        (pkg / unit).mkdir(parents=True)
        (pkg / unit / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "a.py").write_text("def f():\n    from lpft.data import b\n    from lpft.sweeps import launch\n")
    (pkg / "data" / "b.py").write_text("def f():\n    import lpft.data.a\n    import ray\n")
    (pkg / "sweeps" / "launch.py").write_text("")
    # the same contract types as pyproject.toml's, over this package's units
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.importlinter]
        root_package = "lpft"
        include_external_packages = true
        [[tool.importlinter.contracts]]
        name = "layers"
        type = "layers"
        layers = ["lpft.analysis", "lpft.sweeps", "lpft.data"]
        [[tool.importlinter.contracts]]
        name = "no circle"
        type = "acyclic_siblings"
        ancestors = ["lpft"]
        [[tool.importlinter.contracts]]
        name = "no ray"
        type = "forbidden"
        source_modules = ["lpft.data"]
        forbidden_modules = ["ray"]
        """))
    out = lint_imports(tmp_path).stdout
    assert {"layers", "acyclic_siblings", "forbidden"} == CONTRACTS_TYPES  # what this checks can fail
    assert "lpft.data.a -> lpft.sweeps.launch" in out  # the upward arrow
    assert "lpft.data.b -> ray" in out  # Ray below the trial
    assert "No cycles are allowed in lpft.data." in out  # the circle a <-> b inside one unit
    assert "Contracts: 0 kept, 3 broken." in out, out


def test_analysis_imports_without_torch_or_ray_at_run_time():
    """The same at run time: importing the analysis (and the results reader) loads neither."""
    probe = ("import sys, lpft.analysis.report, lpft.dataset, lpft.best; "
             "print(sorted(m for m in ('torch', 'ray', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_command_and_a_specs_check_load_no_torch_until_a_trial_runs(tmp_path):
    """`lpft`'s start (every command imports the spec, strategies and benchmarks) and a
    synthetic spec's parse and file checks load no torch (~1.3 s a command): strategies, benchmarks
    and backbone names register without it, and a trial imports it when it runs."""
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\nbenchmark: {name: digits}\nbackbone: {name: linear}\n"
                    "strategies: {lp: {}, ft: {}, lpft: {}, l2sp: {}, ft-partial: {}, wise: {of: [ft]}}\n")
    probe = ("import sys; from lpft.cli import build_parser; build_parser(); "
             "import lpft.sweeps.launch, lpft.demo; from lpft.sweeps import load_spec; "
             f"s = load_spec({str(spec)!r}); "
             "from lpft.strategies import STRATEGIES; from lpft.data import BENCHMARKS; "
             "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules), "
             "len(list(STRATEGIES)) >= 6, 'digits' in BENCHMARKS)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "[] True True", out.stderr[-2000:]
    # `lpft run` answers bad settings (a key, a value, a device) before a trial loads torch: a typo
    # costs a second, not the ~4 s of importing torch and torchvision.
    probe = ("import sys; from lpft.errors import InputError; from lpft.trial import run_trial\n"
             "for s in ({'lrr': '1'}, {'lr': '-1'}, {'device': 'tpu'}, {'eps': '-1'}):\n"
             "    try: run_trial('synthetic', 'ft', s)\n"
             "    except InputError as e: print(str(e).split()[0], end=' ')\n"
             "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "unknown ft: device synthetic: []", out.stderr[-2000:]
    # ... and a trial loads them: the lazy imports are where the work is.
    probe = ("import sys; from lpft.trial import run_trial; run_trial('synthetic', 'ft', {'epochs': '1'}); "
             "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_the_names_a_spec_is_checked_against_are_the_backbone_registrys():
    """lpft.models.names.BUILT_IN names lpft.models.backbone's own architectures without importing it."""
    probe = ("from lpft.models import names; before = names.architectures(); "
             "from lpft.models.backbone import ARCHITECTURES; "
             "print(before, list(ARCHITECTURES), names.architectures())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['linear'] ['linear'] ['linear']"
