"""Test-time BatchNorm adaptation (AdaBN, Li et al. 2016): re-estimate BatchNorm statistics on an
eval set's own (unlabelled) images before scoring it. The weights are untouched, so the gap
between plain and adapted scores separates what BN statistics cost from what the weights do."""

from __future__ import annotations

import copy

import torch
from torch import nn

from lpft.data.base import Benchmark, Split
from lpft.data.loading import batches
from lpft.models.backbone import Backbone


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def adapt_bn(module: nn.Module, backbone: Backbone, benchmark: Benchmark, split: Split, device: str,
             workers: int = 0, batch_size: int = 256) -> nn.Module:
    """A copy of `module`, in eval mode, whose BatchNorm running statistics are the average over
    `split`'s batches (momentum None: a cumulative mean, not an exponential one)."""
    return reestimate_bn(copy.deepcopy(module).to(device), backbone, benchmark, split, device, workers, batch_size)


@torch.no_grad()
def reestimate_bn(module: nn.Module, backbone: Backbone, benchmark: Benchmark, split: Split, device: str,
                  workers: int = 0, batch_size: int = 256) -> nn.Module:
    """`module` itself, in eval mode, its BatchNorm running statistics re-estimated as the average
    over `split`'s batches (in order, the eval transform); the weights are untouched."""
    module.eval()
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    for x, _ in batches(split, backbone.inputs, benchmark, batch_size, device=device, workers=workers):
        if len(x) > 1 or not layers:  # a last batch of one has no variance (BatchNorm1d refuses it)
            module(x)
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum
    return module.eval()
