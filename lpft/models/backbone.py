"""Backbones: any timm architecture, or the synthetic benchmark's linear extractor.

A backbone maps preprocessed inputs to a feature vector; `weights` is `none`
(seeded random init), `imagenet` (the packaged EfficientNet-Lite0 weights), a
local checkpoint file in timm, MoCo-v2 or OpenAI CLIP layout (`lpft.models.checkpoints`),
`hf-cache` (timm's weights from a populated Hugging Face cache, never the network),
or `benchmark` (weights the benchmark itself defines).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from lpft.data.base import Benchmark
from lpft.data.layout import expand
from lpft.data.loading import Inputs
from lpft.errors import InputError, quote
from lpft.models import checkpoints, lite0
from lpft.models.factory import call_factory, is_factory
from lpft.models.linear import LinearFeatures
from lpft.models.names import check_name, check_weights
from lpft.registry import Registry


@dataclass
class Backbone:
    name: str
    weights: str
    module: nn.Module  # preprocessed input -> (N, num_features)
    num_features: int
    mean: tuple[float, ...] | None  # image normalisation; None for vector inputs
    std: tuple[float, ...] | None
    digest: str  # of the initial weights: part of every feature-cache key
    dtype: torch.dtype = torch.float32
    input_size: int | None = None  # the image size it needs (a factory's); None: the benchmark's

    @property
    def transform_key(self) -> str:
        size = "" if self.input_size is None else f"|size={self.input_size}"
        return f"{self.name}|mean={self.mean}|std={self.std}{size}"

    @property
    def inputs(self) -> Inputs:
        """What the data side needs to feed this backbone (`lpft.data.loading.batches`)."""
        return Inputs(self.mean, self.std, self.dtype, self.input_size)


def state_digest(module: nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


# Architectures that are not timm models; any other name goes to timm. Its own are named in
# lpft.models.names.BUILT_IN too, for the check of a spec, which does not import this module.
ARCHITECTURES: Registry[Callable[[Benchmark, str, int], Backbone]] = Registry("architecture")


@ARCHITECTURES.register("linear")
def _linear(benchmark: Benchmark, weights: str, seed: int) -> Backbone:
    if not isinstance(benchmark.train.x, np.ndarray) or benchmark.train.x.ndim != 2 \
            or "weight" not in benchmark.pretrained:
        raise InputError(f"backbone 'linear' needs a vector benchmark with its own extractor; "
                         f"{benchmark.name!r} has none")
    shape = benchmark.pretrained["weight"].shape
    if weights == "benchmark":
        w = torch.from_numpy(benchmark.pretrained["weight"])
    elif weights == "none":
        w = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) / np.sqrt(shape[1])
    else:
        raise InputError(f"weights {quote(weights)}: backbone 'linear' takes 'benchmark' or 'none'")
    module = LinearFeatures(w.shape[1], w.shape[0]).double()
    with torch.no_grad():
        module.weight.copy_(w)
    return Backbone("linear", weights, module, w.shape[0], None, None, state_digest(module), torch.float64)


def create_timm(name: str, weights: str, num_classes: int = 0, seed: int = 0) -> nn.Module:
    """`timm.create_model` with weights from `none`, `imagenet` (packaged Lite0) or a local file."""
    try:
        check_name(name)
    except InputError as e:
        raise InputError(f"backbone {e}") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # random init (and any fresh classifier) is seeded, without side effects
        return _create_timm(name, weights, num_classes)


def _create_timm(name: str, weights: str, num_classes: int) -> nn.Module:
    import timm

    if weights == "none":
        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    if weights == "imagenet":
        if name != "tf_efficientnet_lite0":
            raise InputError(f"weights 'imagenet' ships only for tf_efficientnet_lite0; for {quote(name)} "
                             "give a local file")
        model = timm.create_model(name, pretrained=False, num_classes=num_classes)
        state = lite0.timm_state_dict()
        if num_classes != 1000:
            state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        model.load_state_dict(state, strict=num_classes in (0, 1000))  # other sizes: a fresh classifier
        return model
    if weights == "hf-cache":
        return checkpoints.from_hf_cache(name)
    check_weights(weights)
    return checkpoints.from_file(name, expand(weights), num_classes)


def build_backbone(name: str, weights: str, benchmark: Benchmark, seed: int = 0) -> Backbone:
    if name in ARCHITECTURES:
        return ARCHITECTURES[name](benchmark, weights, seed)
    if is_factory(name):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # a factory's random init is seeded too, without side effects
            ext = call_factory(name, weights)
        return Backbone(name, weights, ext.module, ext.num_features, tuple(ext.mean), tuple(ext.std),
                        state_digest(ext.module), input_size=ext.input_size)
    if isinstance(benchmark.train.x, np.ndarray) and benchmark.train.x.ndim != 4:
        raise InputError(f"backbone {quote(name)} needs images; benchmark {benchmark.name!r} has vectors")
    import timm.data

    model = create_timm(name, weights, num_classes=0, seed=seed)
    cfg = timm.data.resolve_data_config({}, model=model)
    # A CLIP tower keeps its projection: its output, not num_features, is the feature size. Both are
    # a timm model's ints (nn.Module's __getattr__ is typed Tensor | Module).
    dim = cast(int, model.num_classes or model.num_features)
    return Backbone(name, weights, model, dim, tuple(cfg["mean"]), tuple(cfg["std"]), state_digest(model))
