"""The feature extractor of the paper's two-layer linear network: features = B x."""

from __future__ import annotations

import torch
from torch import nn


class LinearFeatures(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_dim, in_dim))
        self.num_features = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T
