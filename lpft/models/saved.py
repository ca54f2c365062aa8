"""Fine-tuned models as state-dict files on any storage (a path or a URI): what WiSE interpolates."""

from __future__ import annotations

import io

import torch
from torch import nn

from lpft.errors import InputError
from lpft.storage import locate


def save_model(model: nn.Module, where: str) -> str:
    """Writes `model`'s state dict whole to `where`; returns the location's URI."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    loc = locate(where)
    try:
        with loc.open_write() as f:
            f.write(buffer.getvalue())
    except OSError as e:  # a read-only folder, a path through a file, a full disk
        raise InputError(f"cannot write the model to {loc}: {e.strerror or str(e).splitlines()[0]}") from None
    return loc.uri


def load_model_state(where: str) -> dict[str, torch.Tensor]:
    loc = locate(where)
    if not loc.exists():
        raise InputError(f"model file not found: {loc} (save one with `lpft run ... --save-model PATH`, "
                         "or run the sweep with save_models: true)")
    return torch.load(io.BytesIO(loc.read_bytes()), map_location="cpu", weights_only=True)
