"""Sweeps: a validated YAML spec -> Ray Tune + Optuna -> an Arrow results dataset."""

from lpft.sweeps.files import builtin_specs, load_spec
from lpft.sweeps.spec import SweepSpec, parse_spec

__all__ = ["SweepSpec", "builtin_specs", "load_spec", "parse_spec"]
