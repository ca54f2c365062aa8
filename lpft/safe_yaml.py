"""YAML from a user (a spec file, a sweep folder's `spec.yaml`): data only, and bounded.

`yaml.safe_load` builds no objects but plain ones, yet it follows anchors and aliases: a
1 KB "billion laughs" file (nine levels, each an alias nine times over the level below) is
one list of 9^9 strings as soon as anything walks it (a message quoting it, a copy, a dump),
and took 6 GB and minutes. Here the document's node graph is measured first, counting every
alias as the copy it stands for, and refused beyond `MAX_VALUES`; a recursive alias (a value
that contains itself) is refused too. Anything the file gets wrong is one InputError naming it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from lpft.errors import QUOTE_LIMIT, InputError

# A hand-written spec holds tens of values and a generated one hundreds; ten thousand leaves room
# for long choice lists and stops a bomb before it is expanded.
MAX_VALUES = 10_000
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: ~10x faster


class _Loader(_Base):  # type: ignore[valid-type,misc]  # one of PyYAML's two safe loaders
    """PyYAML's safe loader, reading exponents as YAML 1.2 does: YAML 1.1 wants a dot, so `lr: 1e-4`
    was the string '1e-4' (refused as "must be a number", or fixed as a string) while `1.0e-4` was a float."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


def load_yaml(text: str | bytes, source: str) -> Any:
    """The document in `text` as plain Python values; InputError naming `source` for invalid
    YAML, a recursive alias, or more than `MAX_VALUES` values once aliases are expanded."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:  # an empty document
            return None
        size = expanded_size(node, MAX_VALUES)
        if size is None:
            raise InputError(f"{source}: a YAML alias refers to a value that contains it (a recursive value)")
        if size > MAX_VALUES:
            raise InputError(f"{source}: more than {MAX_VALUES} YAML values once aliases are expanded "
                             "(each *alias repeats what its &anchor names); refused as too large")
        return loader.construct_document(node)
    except InputError:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InputError(f"{source}: not valid YAML ({where}{_short(problem)})") from None
    except (ValueError, TypeError, OverflowError) as e:  # a number past Python's digit limit, say
        raise InputError(f"{source}: not valid YAML ({_short(str(e))})") from None
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node, limit: int) -> int | None:
    """How many values the document holds with every alias expanded (once past `limit`, some
    number past it), or None when a value contains itself. A node reached by several aliases
    is measured once and counted each time: linear in the file, whatever the expansion."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the path from the root: reaching one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = _children(node)
        if finished:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > limit:
                return sizes[id(node)]
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            return None
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _short(text: str) -> str:
    """A parser's message, one line and bounded (it may quote the file's text)."""
    line = " ".join(text.split())
    return line if len(line) <= QUOTE_LIMIT else line[:QUOTE_LIMIT - 3] + "..."
