"""A sweep's stages: every trial's config names one as `stage`.

search: a strategy's searcher picked the config; replicate: a strategy's best config on another
seed (`lpft.best`); wise: WiSE interpolating a fine-tuning strategy's best search trial.
"""

from enum import StrEnum


class Stage(StrEnum):
    SEARCH = "search"
    REPLICATE = "replicate"
    WISE = "wise"


SEARCH, REPLICATE, WISE = Stage.SEARCH, Stage.REPLICATE, Stage.WISE
