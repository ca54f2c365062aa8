"""Each analysed strategy's look (`lpft.looks`): as its results declare it (results that declare
none: `lpft.looks.BEFORE_LOOKS`), else its name, plainly. Never the strategy registered here:
the analysis reads results, not code (it imports no strategy, nor torch). A compared sweep's
`<sweep>/<strategy>` takes its strategy's colour and summary hyperparameter, but is named and
ordered by its own name (sweep by sweep)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lpft.analysis.groups import base_strategy
from lpft.looks import LAST, LOOKS_KEY, Look, decode


def looks_for(names: Iterable[str], metadata: Mapping[bytes, bytes] | None = None) -> dict[str, Look]:
    """name -> its look, for each of `names`; `metadata`: what the results declare (`Loaded.metadata`)."""
    declared = decode((metadata or {}).get(LOOKS_KEY))
    bases = {name: base_strategy(name) for name in names}
    out = {}
    for name, base in bases.items():
        look = declared.get(base) or Look(label=base)
        out[name] = look if name == base else Look(label=name, colour=look.colour, order=LAST, shown=look.shown)
    return out
