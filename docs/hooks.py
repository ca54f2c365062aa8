"""MkDocs hooks (mkdocs.yml's `hooks:`): the pages that have one source elsewhere in the repository.

- `cli.md` is generated from lpft's own argparse parser (`lpft.cli.build_parser`): every command
  and sub-command with its `--help` text, so the reference cannot drift from the code.
- `spec.md` is generated from the spec file's JSON Schema (`lpft.sweeps.spec_schema`, the one the
  pydantic model `lpft.sweeps.spec_file.SpecFile` emits): every field, its type, default and
  description, and each registered strategy's, benchmark's and tracker's own keys.
- `architecture.md` is ARCHITECTURE.md at the repository root (one copy: the file a code reader
  opens), with its links rewritten for the site.
- `<!-- include README.md#NAME -->` in a page is replaced by the README's region between
  `<!-- NAME -->` and `<!-- /NAME -->` (the demo's output, the own-data steps): one copy of each.

No generated page is a file under docs/: each is added as a virtual file in `on_files`.
Anything that cannot be generated raises, so `mkdocs build --strict` (CI) fails instead of
publishing a stale or empty page.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
HELP_WIDTH = 100  # columns of the generated --help text, fixed so the page does not follow the terminal

# Where each command is explained at length (a page, or a page#heading; checked by strict mode).
COMMAND_PAGES = {
    "run": ("One trial: `lpft run`", "strategies.md#one-trial-lpft-run"),
    "sweep": ("Sweeps and the spec", "sweeps.md"),
    "analyze": ("Analysis and figures", "analysis.md"),
    "submit": ("Clusters", "clusters.md"),
    "jobs": ("Clusters", "clusters.md"),
    "stop": ("Clusters", "clusters.md"),
    "wise": ("The strategies", "strategies.md#the-strategies"),
    "demo": ("Getting started", "getting-started.md"),
    "cache": ("The cache", "strategies.md#the-cache"),
    "schema": ("The spec reference", "spec.md"),
    "init": ("The spec reference", "spec.md"),
}

_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")
_INCLUDE = re.compile(r"^<!-- include README\.md#([\w-]+) -->$", re.M)  # alone on its line


# -- cli.md ---------------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each sub-command, in the order they were added (aliases once)."""
    out, seen = [], set()
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        for name, sub in action.choices.items():
            if id(sub) not in seen:
                seen.add(id(sub))
                out.append((name, helps.get(name, ""), sub))
    return out


def _help(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = functools.partial(parser.formatter_class, width=HELP_WIDTH)
    return parser.format_help().rstrip()


def _command_sections(parser: argparse.ArgumentParser, words: list[str], level: int) -> list[str]:
    lines = []
    for name, summary, sub in _subcommands(parser):
        path = [*words, name]
        lines += [f"{'#' * level} `{' '.join(path)}`", ""]
        if summary:
            lines += [summary[0].upper() + summary[1:] + ".", ""]
        if len(path) == 2 and name in COMMAND_PAGES:
            title, target = COMMAND_PAGES[name]
            lines += [f"More: [{title}]({target}).", ""]
        lines += ["```text", _help(sub), "```", ""]
        lines += _command_sections(sub, path, min(level + 1, 4))
    return lines


def cli_markdown() -> str:
    try:
        from lpft.cli import build_parser
    except ImportError as e:  # lpft not installed in the environment that runs mkdocs
        raise PluginError(f"docs/hooks.py: cannot import lpft.cli ({e}); run mkdocs from the project's .venv") from e
    parser = build_parser()
    if not _subcommands(parser):
        raise PluginError("docs/hooks.py: lpft.cli.build_parser() has no sub-commands")
    lines = [
        "# Command-line reference",
        "",
        "Generated from `lpft.cli.build_parser()` each time this site is built, so it lists exactly the",
        "commands and options of this checkout; `lpft COMMAND --help` prints the same text. An unknown",
        "name, key or bad value is one line on stderr and exit status 2.",
        "",
        "## `lpft`",
        "",
        "```text",
        _help(parser),
        "```",
        "",
    ]
    return "\n".join(lines + _command_sections(parser, ["lpft"], 2))


# -- spec.md --------------------------------------------------------------------------------------


def _type(node: dict, defs: dict) -> str:
    """A schema node as a short type: `integer ≥ 1`, `optuna | grid`, `list of integer`, a link to a shape."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{defs[name].get('title', name)}](#{_anchor(defs[name].get('title', name))})"
    if "anyOf" in node:
        if sum("benchmark_" in n.get("$ref", "") for n in node["anyOf"]) > 1:  # one per registered benchmark
            return "a benchmark's name, or its name and [parameters](#benchmarks)"
        return " or ".join(dict.fromkeys(_type(n, defs) for n in node["anyOf"] if n.get("type") != "null"))
    if "enum" in node:
        return " | ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list of {_type(node.get('items', {}), defs)}"
    return f"{kind} {_bounds(node)}".strip()


def _bounds(node: dict) -> str:
    """`in [0, 100]`, `≥ 1`, `> 0`, `in [0, 4294967296)`, or ''."""
    lo = ("[", node["minimum"]) if "minimum" in node else ("(", node["exclusiveMinimum"]) \
        if "exclusiveMinimum" in node else None
    hi = ("]", node["maximum"]) if "maximum" in node else (")", node["exclusiveMaximum"]) \
        if "exclusiveMaximum" in node else None
    if lo and hi:
        return f"in {lo[0]}{lo[1]}, {hi[1]}{hi[0]}"
    if lo:
        return f"{'≥' if lo[0] == '[' else '>'} {lo[1]}"
    if hi:
        return f"{'≤' if hi[0] == ']' else '<'} {hi[1]}"
    return ""


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", title.lower().replace(" ", "-"))


def _cell(text: object) -> str:
    """Table-cell text: `<storage>` outside code spans is text, not an HTML tag; no `|` or newline."""
    parts = re.split(r"(`[^`]*`)", str(text))
    text = "".join(p if p.startswith("`") else html.escape(p, quote=False) for p in parts)
    return text.replace("|", "\\|").replace("\n", " ")


def _fields_table(node: dict, defs: dict) -> list[str]:
    if not node.get("properties"):
        return ["No options.", ""]
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    required = set(node.get("required", []))
    for key, prop in node.get("properties", {}).items():
        default = prop.get("default")
        # a nested shape's default is its fields' defaults, listed under it; a range or choices is shown
        shown = "" if "default" not in prop or (isinstance(default, dict) and not default.keys() & {"low", "choices"}) \
            else f"`{json.dumps(default)}`"
        default = "required" if key in required else shown
        about = _cell(prop.get("description", ""))
        lines.append(f"| `{key}` | {_cell(_type(prop, defs))} | {_cell(default)} | {about} |")
    return [*lines, ""]


def spec_markdown() -> str:
    try:
        from lpft.sweeps.spec_schema import spec_schema
    except ImportError as e:
        raise PluginError(f"docs/hooks.py: cannot import lpft.sweeps.spec_schema ({e})") from e
    schema = spec_schema()
    defs = schema.get("$defs", {})
    if not schema.get("properties"):
        raise PluginError("docs/hooks.py: the spec schema has no fields")
    lines = [
        "# The spec reference",
        "",
        "Generated from the spec file's JSON Schema each time this site is built: the pydantic model",
        "`lpft.sweeps.spec_file.SpecFile` with the built-in benchmarks, strategies and trackers. `lpft schema`",
        "prints the same schema (`--import MODULE` adds a plugin's own entries); `lpft init` writes a first spec",
        "whose first line names it, so an editor with the YAML language server completes and checks every",
        "field. A field not listed here is refused with one line and a did-you-mean.",
        "",
        "## The spec file",
        "",
        *_fields_table(schema, defs),
    ]
    shapes = [n for n in ("Resources", "Backbone", "Range", "Choices") if n in defs]
    for name in shapes:
        node = defs[name]
        lines += [f"## {node.get('title', name)}", "", node.get("description", ""), "", *_fields_table(node, defs)]
    for group, prefix, what in (("Strategies", "strategy_", "Each strategy's entry under `strategies`: its own "
                                 "keys and its hyperparameters, each a fixed value, a [Range](#range) or "
                                 "[Choices](#choices)."),
                                ("Benchmarks", "benchmark_", "Each benchmark's parameters, under `benchmark:` "
                                 "beside its `name`."),
                                ("Loggers", "logger_", "Each tracker's options under `loggers:`.")):
        lines += [f"## {group}", "", what, ""]
        for key in sorted(k for k in defs if k.startswith(prefix)):
            node = defs[key]
            lines += [f"### {node.get('title', key)}", "", node.get("description", ""), "", *_fields_table(node, defs)]
    return "\n".join(lines)


# -- architecture.md ------------------------------------------------------------------------------


def _site_link(match: re.Match[str]) -> str:
    """A link in a repository-root Markdown file, as the site can hold it.

    docs/<page>.md stays a link (to the page); a web address stays; anything else (a source
    file, a folder, a path outside the repository) becomes code text: the site has no copy of it.
    """
    text, target = match.group(1), match.group(2)
    if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
        return match.group(0)
    path, _, anchor = target.partition("#")
    if path.startswith("docs/") and path.endswith(".md"):
        return f"[{text}]({path[len('docs/'):]}{'#' + anchor if anchor else ''})"
    if (ROOT / path).resolve().is_relative_to(ROOT):
        return text if text.startswith("`") else f"`{text}`"
    raise PluginError(f"docs/hooks.py: a link out of the repository: {target!r}")


def site_markdown(text: str) -> str:
    return _LINK.sub(_site_link, text)


def architecture_markdown() -> str:
    return site_markdown((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))


# -- README regions -------------------------------------------------------------------------------


def readme_region(name: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {re.escape(name)} -->\n(.*?)\n<!-- /{re.escape(name)} -->", readme, re.S)
    if not found:
        raise PluginError(f"docs/hooks.py: README.md has no region <!-- {name} --> ... <!-- /{name} -->")
    return site_markdown(found.group(1).strip("\n"))


# -- MkDocs events ------------------------------------------------------------------------------


def on_files(files, config):
    for name, make in (("cli.md", cli_markdown), ("spec.md", spec_markdown),
                       ("architecture.md", architecture_markdown)):
        if files.get_file_from_path(name) is not None:
            raise PluginError(f"docs/hooks.py: docs/{name} is generated; delete the file")
        files.append(File.generated(config, name, content=make()))
    return files


def on_page_markdown(markdown, page, config, files):
    return _INCLUDE.sub(lambda m: readme_region(m.group(1)), markdown)


def on_serve(server, config, builder):
    for path in ("README.md", "ARCHITECTURE.md", "lpft/cli.py", "lpft/cache_cli.py", "lpft/sweeps/spec_file.py"):
        server.watch(str(ROOT / path))
    return server
