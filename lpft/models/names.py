"""What a spec may name as a backbone and its weights, checked without torch (the check of a
spec, before Ray: `SweepSpec.check_files`): the architectures that are not timm models, the
named weight sources."""

from __future__ import annotations

import sys

from lpft.data.layout import expand
from lpft.errors import InputError, quote
from lpft.models.factory import is_factory

# lpft.models.backbone's ARCHITECTURES, named here without importing it (and torch).
BUILT_IN = ("linear",)

NAMED_WEIGHTS = ("none", "imagenet", "benchmark", "hf-cache")


def architectures() -> list[str]:
    """The architectures that are not timm models: BUILT_IN, then any a plugin registered. A
    plugin registering one has imported lpft.models.backbone, the registry's home, so the
    registry is read only when that is loaded."""
    backbone = sys.modules.get("lpft.models.backbone")
    registered = list(backbone.ARCHITECTURES) if backbone is not None else []
    return [*BUILT_IN, *(a for a in registered if a not in BUILT_IN)]


def check_name(name: str) -> None:
    """`name` is one of `architectures()`, a `module:factory` or a timm model: checked where the
    sweep runs, before Ray (a misspelt name failed every trial), at the cost of timm's import."""
    known = architectures()
    if name in known or is_factory(name):
        return
    import timm

    if not timm.is_model(name.split(".", maxsplit=1)[0]):  # a pretrained tag (.openai) may follow
        raise InputError(f"{quote(name)} is not a timm model (nor one of: {', '.join(known)})")


def check_weights(weights: str, backbone: str = "") -> None:
    """Weights are a named source or an existing file; checked before any data is built (a
    factory backbone reads its weights string itself)."""
    if weights in NAMED_WEIGHTS or is_factory(backbone):
        return
    path = expand(weights)
    if "$" in str(path):
        raise InputError(f"weights {weights}: an environment variable in the path is not set")
    if not path.is_file():
        from lpft.models.checkpoints import HOW_TO_GET

        raise InputError(f"weights file not found: {path} ({HOW_TO_GET})")
