"""Backbones (timm and the synthetic linear extractor), heads, feature extraction and its cache."""

from lpft.models.backbone import ARCHITECTURES, Backbone, build_backbone, create_timm
from lpft.models.classifier import Classifier
from lpft.models.factory import Extractor
from lpft.models.features import cached_features, extract

__all__ = ["ARCHITECTURES", "Backbone", "Classifier", "Extractor", "build_backbone", "cached_features", "create_timm",
           "extract"]
