"""A sweep's stages: every trial's config names one as `stage`.

search: a strategy's searcher picked the config; replicate: a strategy's best config on another
seed (`lpft.best`); wise: WiSE interpolating a fine-tuning strategy's best search trial.
"""

SEARCH, REPLICATE, WISE = "search", "replicate", "wise"
