"""Backbones (timm and the synthetic linear extractor), heads, feature extraction and its cache.

Its names load on first use (PEP 562): what only names a backbone (a spec, the `lpft`
command) imports `lpft.models.factory` without torch, ~1.3 s of every command's start."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lpft.models.backbone import ARCHITECTURES, Backbone, build_backbone, create_timm
    from lpft.models.classifier import Classifier
    from lpft.models.factory import Extractor
    from lpft.models.features import cached_features, extract

_HOMES = {"ARCHITECTURES": "backbone", "Backbone": "backbone", "build_backbone": "backbone",
          "create_timm": "backbone", "Classifier": "classifier", "Extractor": "factory",
          "cached_features": "features", "extract": "features"}

__all__ = ["ARCHITECTURES", "Backbone", "Classifier", "Extractor", "build_backbone", "cached_features", "create_timm",
           "extract"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lpft.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lpft.models.{home}"), name)
