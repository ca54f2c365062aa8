"""An lpft plugin: the `blobs` benchmark and the `centroid` strategy.

Installed, lpft loads it through its entry points; or a spec names it in `imports:`."""

from lpft_example_plugin import blobs, centroid  # noqa: F401  (importing registers both)
