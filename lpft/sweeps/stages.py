"""A sweep's stages: every trial's config names one as `stage`.

search: a strategy's searcher picked the config; replicate: a strategy's best config on another
seed (`lpft.best`); wise: WiSE interpolating a fine-tuning strategy's best search trial; soup: a
model soup of every completed trial of its source strategies, once they have all ended.
"""

from enum import StrEnum


class Stage(StrEnum):
    SEARCH = "search"
    REPLICATE = "replicate"
    WISE = "wise"
    SOUP = "soup"


SEARCH, REPLICATE, WISE, SOUP = Stage.SEARCH, Stage.REPLICATE, Stage.WISE, Stage.SOUP
