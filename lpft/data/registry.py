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


BENCHMARKS: Registry[BenchmarkEntry] = Registry("benchmark")


def register(name: str, params: type,
             folder: str = "") -> Callable[[Callable[[Any], Benchmark]], Callable[[Any], Benchmark]]:
    def add(build: Callable[[Any], Benchmark]) -> Callable[[Any], Benchmark]:
        BENCHMARKS.register(name)(BenchmarkEntry(params, build, folder))
        return build

    return add


def locate_data(name: str, params: dict[str, Any]) -> None:
    """Cheap pre-flight: a file-based benchmark's root folder exists (InputError naming it if not)."""
    from lpft.data.layout import data_root

    entry = BENCHMARKS[name]
    if entry.folder:
        data_root(getattr(parse_into(entry.params, params, name), "root", ""), name, entry.folder)


def load_benchmark(name: str, **params: Any) -> Benchmark:
    """The benchmark, built once per process for the same parameters (trials reuse it)."""
    entry = BENCHMARKS[name]
    return _build(name, parse_into(entry.params, params, name))


@lru_cache(maxsize=2)  # deterministic from (name, frozen params); nobody mutates the arrays
def _build(name: str, params: Any) -> Benchmark:
    return BENCHMARKS[name].build(params)

