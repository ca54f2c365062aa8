"""MkDocs hooks (mkdocs.yml's `hooks:`): the pages that have one source elsewhere in the repository.

- `cli.md` is generated from lpft's own argparse parser (`lpft.cli.build_parser`): every command
  and sub-command with its `--help` text, so the reference cannot drift from the code.
- `architecture.md` is ARCHITECTURE.md at the repository root (one copy: the file a code reader
  opens), with its links rewritten for the site.
- `<!-- include README.md#NAME -->` in a page is replaced by the README's region between
  `<!-- NAME -->` and `<!-- /NAME -->` (the demo's output, the own-data steps): one copy of each.

Neither generated page is a file under docs/: both are added as virtual files in `on_files`.
Anything that cannot be generated raises, so `mkdocs build --strict` (CI) fails instead of
publishing a stale or empty page.
"""

from __future__ import annotations

import argparse
import functools
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
    for name, make in (("cli.md", cli_markdown), ("architecture.md", architecture_markdown)):
        if files.get_file_from_path(name) is not None:
            raise PluginError(f"docs/hooks.py: docs/{name} is generated; delete the file")
        files.append(File.generated(config, name, content=make()))
    return files


def on_page_markdown(markdown, page, config, files):
    return _INCLUDE.sub(lambda m: readme_region(m.group(1)), markdown)


def on_serve(server, config, builder):
    for path in ("README.md", "ARCHITECTURE.md", "lpft/cli.py", "lpft/cache_cli.py"):
        server.watch(str(ROOT / path))
    return server
