"""Ray worker start-up hook: import what every trial needs once per worker process,
while Ray pre-starts its workers, instead of on each new trial actor's critical path."""


def import_heavy() -> None:
    import lpft.strategies  # noqa: F401  (torch, scikit-learn)
    import lpft.trial  # noqa: F401
