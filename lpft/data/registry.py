"""The benchmark registry: `@register(name, Params)` on a builder, `load_benchmark(name, **params)`.

A benchmark module imports `register` from here; `lpft.data` imports every module of its package,
so a new benchmark is one new file there (or a module anywhere else, once imported).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

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
    # follows from their parameters and packaged data alone.
    disk_cache: bool = False


BENCHMARKS: Registry[BenchmarkEntry] = Registry("benchmark")


def register(name: str, params: type, folder: str = "", check: Callable[[Any], list[str]] | None = None,
             disk_cache: bool = False) -> Callable[[Callable[[Any], Benchmark]], Callable[[Any], Benchmark]]:
    def add(build: Callable[[Any], Benchmark]) -> Callable[[Any], Benchmark]:
        BENCHMARKS.register(name)(BenchmarkEntry(params, build, folder, check, disk_cache))
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
    """The benchmark, built once per process for the same parameters (trials reuse it), and once
    per node for a builder registered with `disk_cache`."""
    entry = BENCHMARKS[name]
    return _build(name, parse_into(entry.params, params, name))


@lru_cache(maxsize=2)  # deterministic from (name, frozen params); nobody mutates the arrays
def _build(name: str, params: Any) -> Benchmark:
    entry = BENCHMARKS[name]
    if entry.disk_cache:
        from lpft.data.cache import cached_build

        return cached_build(name, params, entry.build)
    return entry.build(params)

