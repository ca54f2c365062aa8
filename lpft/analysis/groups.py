"""Which results are analysed together: never two benchmarks, and two sweeps only when compared.

`lpft analyze A B` on sweeps of different benchmarks once averaged OOD accuracy across
benchmarks and counted one strategy's trials from both as more seeds. Results are now split
by (benchmark, sweep), each its own report; `--compare` keeps the sweeps of one benchmark
together (two backbones, say) and names each strategy `<sweep>/<strategy>`, so they stand
side by side in the tables and on one frontier (and its trials `<sweep>/<trial>`: sweeps
name their trials alike).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name in table.column_names:
        return pc.fill_null(table[name], "")
    return pa.chunked_array([pa.array([""] * table.num_rows, pa.string())])


def split_groups(table: pa.Table, compare: bool = False) -> dict[str, pa.Table]:
    """label -> its rows: one per (benchmark, sweep), or with `compare` one per benchmark."""
    bench, sweep = _column(table, "benchmark"), _column(table, "sweep")
    pairs = sorted(set(zip(bench.to_pylist(), sweep.to_pylist()))) if table.num_rows else []
    benches = sorted({b for b, _ in pairs})
    groups: dict[str, pa.Table] = {}
    if compare:
        for b in benches:
            part = table.filter(pc.equal(bench, b)) if len(benches) > 1 else table
            sweeps = sorted({s for bb, s in pairs if bb == b})
            if len(sweeps) > 1:  # sweeps name their trials alike (ft-000): the sweep makes them distinct
                for key in ("strategy", "trial_id"):
                    label = pc.binary_join_element_wise(_column(part, "sweep"), part[key], "/")
                    part = part.set_column(part.schema.get_field_index(key), key, label)
            groups[b or "results"] = part
        return groups
    names = [s or b or "results" for b, s in pairs]
    if len(pairs) == 1:  # the usual case: no filtered copy of a million rows
        return {names[0]: table}
    for (b, s), name in zip(pairs, names):
        label = name if names.count(name) == 1 else f"{name}-{b}"  # one sweep name on two benchmarks
        groups[label] = table.filter(pc.and_(pc.equal(bench, b), pc.equal(sweep, s)))
    return groups


def base_strategy(strategy: str) -> str:
    """`ft` for `ft` and for `<sweep>/ft` (a compared sweep's)."""
    return strategy.rsplit("/", 1)[-1]
