"""`lpft cache list|du|prune|clear`: see and bound the feature/head/benchmark cache
(`lpft.cachedir`)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lpft.cachedir import FOLDERS, Entry, entries, human, older_than, over_size, parse_age, parse_size, remove
from lpft.errors import InputError
from lpft.text import format_table


def _root(args: argparse.Namespace) -> Path:
    from lpft.data.cache import cache_root

    root = Path(args.root).expanduser() if args.root else cache_root()
    if root.exists() and not root.is_dir():
        raise InputError(f"--root: {root} is not a folder")
    return root


def _ago(t: float) -> str:
    s = max(0.0, time.time() - t)
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            return f"{s / n:.0f}{unit} ago"
    return "just now"


def _total(found: list[Entry]) -> str:
    return f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}, {human(sum(e.size for e in found))}"


def cmd_list(args: argparse.Namespace) -> int:
    root = _root(args)
    found = entries(root)
    if args.json:
        print(json.dumps([{"path": str(e.path), "kind": e.kind, "benchmark": e.benchmark, "backbone": e.backbone,
                           "split": e.split, "detail": e.detail, "bytes": e.size, "last_use": e.last_use}
                          for e in found], indent=1))
        return 0
    if not found:
        print(f"{root}: empty")
        return 0
    rows = [(e.kind, e.benchmark, e.backbone, e.split, e.detail or "-", human(e.size), _ago(e.last_use))
            for e in found]
    print(format_table(("kind", "benchmark", "backbone", "split", "detail", "size", "last use"), rows, left=5))
    print(f"{root}: {_total(found)}")
    return 0


def cmd_du(args: argparse.Namespace) -> int:
    root = _root(args)
    found = entries(root, describe=False)
    rows = [(folder, len(part), human(sum(e.size for e in part)))
            for folder in FOLDERS for part in [[e for e in found if e.path.parent.name == folder]]]
    total = ("total", len(found), human(sum(e.size for e in found)))
    print(format_table(("folder", "entries", "size"), [*rows, total]))
    print(f"root: {root}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    if args.older_than is None and args.max_size is None:
        raise InputError("prune needs --older-than AGE, --max-size SIZE, or both")
    age = parse_age(args.older_than) if args.older_than is not None else None
    limit = parse_size(args.max_size, "--max-size") if args.max_size is not None else None
    root = _root(args)
    found = entries(root, describe=False)
    chosen = older_than(found, age) if age is not None else []
    if limit is not None:
        left = [e for e in found if e not in chosen]
        chosen += over_size(left, limit)
    return _removed(root, chosen, args.dry_run)


def cmd_clear(args: argparse.Namespace) -> int:
    root = _root(args)
    return _removed(root, [e for e in entries(root, describe=False) if e.removable], args.dry_run)


def _removed(root: Path, chosen: list[Entry], dry_run: bool) -> int:
    if dry_run:
        for e in chosen:
            print(e.path)
        print(f"would remove {_total(chosen)}")
        return 0
    files, size = remove(chosen)
    left = entries(root, describe=False)
    print(f"removed {files} entr{'y' if files == 1 else 'ies'}, {human(size)}; {root} holds {_total(left)}")
    return 0


def add_cache_parser(sub: argparse._SubParsersAction) -> None:
    cache = sub.add_parser("cache", help="see and prune the feature/head/benchmark cache ($LPFT_CACHE)",
                           description="lpft's cache (features, LP heads, built benchmarks): each entry is "
                                       "keyed by what it was made from; removing any is always safe.")
    verbs = cache.add_subparsers(dest="verb", required=True)
    root_help = "the cache folder (default: $LPFT_CACHE, else ~/.cache/lpft; a sweep's feature_cache path)"

    listing = verbs.add_parser("list", help="each entry: kind, benchmark, backbone, split, what else tells it "
                                            "apart, size, last use")
    listing.add_argument("--json", action="store_true", help="one JSON list instead of a table")
    listing.set_defaults(fn=cmd_list)
    du = verbs.add_parser("du", help="entries and bytes per folder")
    du.set_defaults(fn=cmd_du)
    prune = verbs.add_parser("prune", help="remove entries unused for a while, or the least recently used "
                                           "beyond a size")
    prune.add_argument("--older-than", metavar="AGE", help="last used longer ago than this: 30d, 12h, 90m, 2w")
    prune.add_argument("--max-size", metavar="SIZE",
                       help="then least recently used first until the cache holds at most this: 500M, 20G, 1.5GiB "
                            "(K/M/G: 1024s; KB/MB/GB: 1000s)")
    prune.set_defaults(fn=cmd_prune)
    clear = verbs.add_parser("clear", help="remove every entry")
    clear.set_defaults(fn=cmd_clear)
    for verb in (listing, du, prune, clear):
        verb.add_argument("--root", metavar="PATH", help=root_help)
    for verb in (prune, clear):
        verb.add_argument("--dry-run", action="store_true", help="print what would be removed, remove nothing")
