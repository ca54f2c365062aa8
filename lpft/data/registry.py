"""The benchmark registry: `@register(name, Params)` on a builder, `load_benchmark(name, **params)`.

A benchmark module imports `register` from here; `lpft.data` imports every module of its package,
so a new benchmark is one new file there (or a module anywhere else, once imported).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from lpft.data.base import Benchmark
from lpft.registry import Registry
from lpft.settings import parse_into


@dataclass(frozen=True)
class BenchmarkEntry:
    params: type  # dataclass of the benchmark's parameters, with defaults
    build: Callable[[Any], Benchmark]
    folder: str = ""  # its folder under $LPFT_DATA, for benchmarks read from local files
    # A pre-flight beyond the root folder's existence (before Ray starts): raises InputError for
    # bad data, returns notes worth printing (class subsets, skipped files).
    check: Callable[[Any], list[str]] | None = None
    # Built once per node, not once per worker (`lpft.data.cache`): for builders whose output
    # follows from their parameters and packaged data alone, or (a file-based one) from those and
    # the files `files` fingerprints.
    disk_cache: bool = False
    # A file-based builder with disk_cache: the fingerprint (`lpft.data.fingerprint`) of the files
    # a build would read, taken without building, so the entry on disk follows the files too.
    files: Callable[[Any], str] | None = None


BENCHMARKS: Registry[BenchmarkEntry] = Registry("benchmark")


def register(name: str, params: type, folder: str = "", check: Callable[[Any], list[str]] | None = None,
             disk_cache: bool = False, files: Callable[[Any], str] | None = None,
             ) -> Callable[[Callable[[Any], Benchmark]], Callable[[Any], Benchmark]]:
    if disk_cache and folder and files is None:
        raise ValueError(f"benchmark {name!r} reads files ({folder}): disk_cache needs files= (their fingerprint), "
                         "or a changed file would be served from the old entry")

    def add(build: Callable[[Any], Benchmark]) -> Callable[[Any], Benchmark]:
        BENCHMARKS.register(name)(BenchmarkEntry(params, build, folder, check, disk_cache, files))
        return build

    return add


def locate_data(name: str, params: dict[str, Any]) -> list[str]:
    """Pre-flight: a file-based benchmark's data is there (InputError naming what is not), and
    the benchmark's own check if it has one; returns its notes."""
    from lpft.data.layout import data_root

    entry = BENCHMARKS[name]
    parsed = parse_into(entry.params, params, name)
    if entry.check is not None:
        return entry.check(parsed)
    if entry.folder:
        data_root(getattr(parsed, "root", ""), name, entry.folder)
    return []


def load_benchmark(name: str, **params: Any) -> Benchmark:
    """The benchmark, built once per process for the same parameters and data location (trials
    reuse it: its files are listed and fingerprinted once), and once per node for a builder
    registered with `disk_cache`. A file changed during a process's life is seen by the next one."""
    entry = BENCHMARKS[name]
    parsed = parse_into(entry.params, params, name)
    return _build(name, parsed, _location(parsed))


def _location(params: Any) -> tuple[str, ...]:
    """What a benchmark's files depend on besides its parameters' text: $LPFT_DATA and each text
    parameter's expansion (`~`, `$VARS`, as `layout.expand` does), so a process that changes them
    builds the other data instead of reusing the first."""
    texts = [getattr(params, f.name) for f in fields(params)]
    return (os.environ.get("LPFT_DATA", ""),
            *(os.path.expandvars(os.path.expanduser(t)) for t in texts if isinstance(t, str)))


@lru_cache(maxsize=2)  # deterministic from (name, frozen params, location); nobody mutates the arrays
def _build(name: str, params: Any, location: tuple[str, ...]) -> Benchmark:
    entry = BENCHMARKS[name]
    if entry.disk_cache:
        from lpft.data.cache import cached_build

        return cached_build(name, params, entry.build, entry.files(params) if entry.files else "")
    return entry.build(params)

