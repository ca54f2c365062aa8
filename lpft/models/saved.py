"""Fine-tuned models as state-dict files on any storage (a path or a URI): what WiSE interpolates."""

from __future__ import annotations

import io
import os
from typing import Any

import torch
from torch import nn

from lpft.errors import InputError, clip, quote
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


def read_torch(data: bytes | str, where: str, what: str) -> Any:
    """A torch file's contents (its bytes, or a local file's path: memory-mapped, so its tensors
    are not held twice while they load), loaded with torch's weights_only unpickler (tensors,
    numbers, strings and containers: a tampered file cannot run code); one InputError naming
    `where` for anything else, whatever the decoder raised on it."""
    try:
        if isinstance(data, str):
            try:
                return torch.load(data, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as e:  # not torch.save's zip format: read whole, so the unpickler says why
                if "mmap" not in str(e):
                    raise
                return torch.load(data, map_location="cpu", weights_only=True)
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a file from disk: any decoding failure is the file's, not lpft's
        lines = str(e).splitlines() or [type(e).__name__]
        # torch says what it refused in a later line ("... unsupported GLOBAL posix.system ...")
        why = next((line for line in lines if "GLOBAL" in line), lines[0])
        raise InputError(f"{where}: refused: not {what} ({clip(why.strip())})") from None


def load_model_state(where: str) -> dict[str, torch.Tensor]:
    """A saved model's state dict (`save_model`), checked to be one: names to tensors."""
    loc = locate(where)
    if not loc.exists():
        raise InputError(f"model file not found: {loc} (save one with `lpft run ... --save-model PATH`, "
                         "or run the sweep with save_models: true)")
    try:
        local = loc.is_local and os.path.isfile(loc.path) and os.access(loc.path, os.R_OK)
        data: bytes | str = loc.path if local else loc.read_bytes()
    except OSError as e:  # a folder, a file it may not read
        raise InputError(f"model {loc}: cannot read it: {clip(e.strerror or str(e).splitlines()[0])}") from None
    state = read_torch(data, f"model {loc}", "a model lpft saved (a state dict)")
    if not (isinstance(state, dict) and state and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                      for k, v in state.items())):
        raise InputError(f"model {loc}: refused: not a model lpft saved (a state dict of named tensors), "
                         f"but {quote(state)}")
    return state
