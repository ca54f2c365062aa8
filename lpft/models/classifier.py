"""Backbone + linear head: the model every strategy trains or probes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from lpft.models.backbone import Backbone


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int, bias: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(num_features, num_classes, bias=bias)

    @classmethod
    def for_backbone(cls, backbone: Backbone, num_classes: int, bias: bool = True) -> Classifier:
        """A fresh head (from torch's current RNG) on `backbone.module`, in the backbone's dtype."""
        return cls(backbone.module, backbone.num_features, num_classes, bias).to(backbone.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))
