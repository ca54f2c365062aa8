"""Backbones timm does not have: `backbone: some.module:factory` names a callable that returns
an `Extractor` (the feature module, its feature width and how to feed it).

The factory is called with the run's `weights` string (`factory(weights="...")`, "none" unless
set) when it takes a `weights` parameter, else with no arguments; what it does with the string
(a file, a tag) is its own business. Its module is imported like a spec's `imports:`, so every
Ray worker has it too.
"""

from __future__ import annotations

import importlib
import inspect
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lpft.errors import InputError, quote

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass
class Extractor:
    """What a backbone factory returns."""

    module: nn.Module  # normalised images (N, 3, H, W) -> features (N, num_features)
    num_features: int
    mean: tuple[float, ...] = IMAGENET_MEAN  # the normalisation it was trained with
    std: tuple[float, ...] = IMAGENET_STD
    input_size: int | None = None  # the image size it expects; None: the benchmark's image_size


def is_factory(name: str) -> bool:
    return ":" in name


def factory_module(name: str) -> str:
    return name.split(":", 1)[0]


def call_factory(name: str, weights: str) -> Extractor:
    """Imports `module:attr`, calls it, and checks what it returned; every failure is one line."""
    module_name, _, attr = name.partition(":")
    where = f"backbone {name}"
    if not module_name or not attr:
        raise InputError(f"{where}: expected module:factory (e.g. mymodels:resnet_features)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise InputError(f"{where}: cannot import {quote(module_name)} ({e}); put it beside the spec or on the "
                         "Python path") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InputError(f"{where}: module {quote(module_name)} has no callable {quote(attr)}")
    try:
        takes_weights = "weights" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        takes_weights = False
    if not takes_weights and weights != "none":
        raise InputError(f"{where}: weights={quote(weights)} given, but {attr}() takes no weights parameter")
    try:
        out = fn(weights=weights) if takes_weights else fn()
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's factory failed: one line naming it
        raise InputError(f"{where}: {attr}() raised {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") \
            from None
    from torch import nn  # here, not above: a spec that only names a factory needs no torch

    if not isinstance(out, Extractor):
        raise InputError(f"{where}: {attr}() returned {type(out).__name__}; expected lpft.models.Extractor"
                         "(module=nn.Module, num_features=int, mean, std, input_size)")
    if not isinstance(out.module, nn.Module) or not isinstance(out.num_features, numbers.Integral):
        raise InputError(f"{where}: {attr}() returned an Extractor whose module is {type(out.module).__name__} "
                         f"and num_features {out.num_features!r}; expected an nn.Module and an integer")
    if not all(isinstance(v, (tuple, list)) and len(v) == 3 for v in (out.mean, out.std)):
        raise InputError(f"{where}: {attr}() returned mean {out.mean!r} and std {out.std!r}; "
                         "expected three values each, one per RGB channel")
    out.num_features = int(out.num_features)
    return out
