"""lpft's import graph, read from the source with `ast` (nothing is imported).

Every import counts: module-level, inside functions (lazy) and under TYPE_CHECKING, since
each is a dependency a reader has to hold in mind. `python tests/import_graph.py` prints the
units' lines, the cycles and the arrows that go against ARCHITECTURE.md's order.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "lpft"

# ARCHITECTURE.md's units, lowest first: a unit imports only units at or below its own layer.
# analysis sits beside data/models/..., not above them: it must not reach them at all (see test).
LAYERS: list[tuple[str, ...]] = [
    ("errors", "names", "looks", "safe_yaml", "atomic", "text", "registry", "settings", "storage", "plugins", "secrets",
     "allocator", "processes"),
    ("results", "search_spaces", "footer", "row_checks", "dataset", "best", "cachedir"),
    ("data",),
    ("models",),
    ("strategies",),
    ("trial",),
    ("trainables",),
    ("sweeps",),
    ("analysis",),
    ("cluster",),
    ("demo",),
    ("cli", "cache_cli", "spec_cli", "leave", "__main__", "__init__"),
]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (`lpft.data` is data/__init__.py)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The lpft modules `module` imports, and the third-party top-level names under `external:`."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from lpft.data import breeds` names a submodule; `from lpft.data import register` a symbol
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "lpft" or name.startswith("lpft."):
                target = _resolve(name, known)
                if target and target != module:
                    out.add(target)
            else:
                out.add("external:" + name.split(".")[0])
    return out


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {m: imports(m, p, known) for m, p in known.items()}


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer(module: str) -> int:
    u = unit(module)
    return next(i for i, names in enumerate(LAYERS) if u in names)


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(found)


def upward(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower layer to a higher one."""
    return sorted((m, t) for m, targets in g.items() for t in targets
                  if not t.startswith("external:") and layer(t) > layer(m))


def reaches(g: dict[str, set[str]], start: str) -> set[str]:
    """Everything `start` imports, directly or through other lpft modules (externals included)."""
    seen, todo = set(), [start]
    while todo:
        for t in g.get(todo.pop(), ()):
            if t not in seen:
                seen.add(t)
                if not t.startswith("external:"):
                    todo.append(t)
    return seen


def unit_lines(root: Path = ROOT) -> dict[str, int]:
    out: dict[str, int] = {}
    for m, p in modules(root).items():
        out[unit(m)] = out.get(unit(m), 0) + len(p.read_text().splitlines())
    return dict(sorted(out.items()))


if __name__ == "__main__":
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    g = graph(root)
    print("lines per unit:", unit_lines(root))
    print("cycles:", cycles(g))
    print("upward arrows:")
    for a, b in upward(g):
        print(f"  {a} -> {b}")
