"""Sweeps: a validated YAML spec -> Ray Tune + Optuna -> an Arrow results dataset."""

from lpft.sweeps.spec import SweepSpec, builtin_specs, load_spec, parse_spec

__all__ = ["SweepSpec", "builtin_specs", "load_spec", "parse_spec"]
