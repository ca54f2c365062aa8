"""Pretrained backbones from local checkpoint files, in the layouts the paper's weights ship in.

`weights` for a timm backbone is a file path (or `hf-cache`). The file's layout is
detected from its keys and converted to timm's names by a registered converter:

- `moco`: MoCo-v2 `.pth.tar` (`state_dict` with `module.encoder_q.` keys, torchvision
  ResNet names); the MLP projection (`fc.*`) is dropped: features are the pooled 2048-d.
- `openai-clip`: OpenAI CLIP `RN50.pt` / `ViT-B-16.pt` (a TorchScript archive or a plain
  state dict, `visual.` keys); timm's own OpenAI mapping converts the image tower. The
  CLIP projection is kept, so features are CLIP's image embedding (1024-d RN50, 512-d
  ViT-B/16), as the paper probed them.
- `timm`: anything else, loaded by timm (`pretrained_cfg_overlay=dict(file=...)`).

`hf-cache` loads timm's published weights for a tagged name (`vit_base_patch16_clip_224.openai`)
from a populated Hugging Face cache only: nothing is ever fetched, so it never hangs on retries.
"""

from __future__ import annotations

import importlib
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lpft.errors import InputError, quote
from lpft.registry import Registry

HOW_TO_GET = ("MoCo-v2 ResNet-50: moco_v2_800ep_pretrain.pth.tar from github.com/facebookresearch/moco; "
              "CLIP: RN50.pt or ViT-B-16.pt from github.com/openai/CLIP (clip/clip.py lists the URLs); "
              "or a timm checkpoint, or weights=hf-cache with a populated Hugging Face cache")

State = dict[str, torch.Tensor]


def read_checkpoint(path: Path) -> State:
    """A flat state dict from a TorchScript archive, a torch pickle or a safetensors file."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            scripted = any(n.endswith("constants.pkl") for n in z.namelist())
        if scripted:  # OpenAI's CLIP files are TorchScript archives
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # jit.load's deprecation notice
                return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, KeyError,
            zipfile.BadZipFile) as e:  # an unreadable file is the user's input error
        raise InputError(f"weights {path}: not a checkpoint torch can read safely ({str(e).splitlines()[0]})") from None
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise InputError(f"weights {path}: expected a state dict, found {type(obj).__name__}")
    return obj


@dataclass(frozen=True)
class Converter:
    detect: Callable[[State], bool]
    # (name, state, path) -> model with the weights loaded; the model's output is the feature vector
    build: Callable[[str, State, Path], nn.Module]


CONVERTERS: Registry[Converter] = Registry("checkpoint layout")


def _load_strict(model: nn.Module, state: State, path: Path, layout: str) -> nn.Module:
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        lines = [ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln]
        raise InputError(f"weights {path}: {layout} checkpoint does not fit this backbone "
                         f"({lines[0] if lines else str(e).splitlines()[0]})") from None
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise InputError(f"weights {path}: {layout} checkpoint does not fit this backbone ({what})")
    return model


MOCO_PREFIX = "module.encoder_q."


def _moco(name: str, state: State, path: Path) -> nn.Module:
    import timm

    converted = {k[len(MOCO_PREFIX):]: v for k, v in state.items()
                 if k.startswith(MOCO_PREFIX) and not k[len(MOCO_PREFIX):].startswith("fc.")}
    model = timm.create_model(name, pretrained=False, num_classes=0)
    return _load_strict(model, converted, path, "MoCo-v2")


def _openai_clip(name: str, state: State, path: Path) -> nn.Module:
    import timm

    vit = "visual.class_embedding" in state
    if vit and "quickgelu" not in name:
        raise InputError(f"weights {path}: OpenAI CLIP ViTs use QuickGELU; use backbone "
                         f"{name.replace('_clip_', '_clip_quickgelu_')} (timm's QuickGELU variant)")
    dim = state["visual.proj"].shape[1] if vit else state["visual.attnpool.c_proj.weight"].shape[0]
    model = timm.create_model(name, pretrained=False, num_classes=dim)
    # timm's own OpenAI mapping (module-level checkpoint_filter_fn of the model's module).
    convert = importlib.import_module(type(model).__module__).checkpoint_filter_fn
    return _load_strict(model, convert({k: v for k, v in state.items() if k.startswith("visual.")}, model),
                        path, "OpenAI CLIP")


CONVERTERS.register("moco")(Converter(lambda s: any(k.startswith(MOCO_PREFIX) for k in s), _moco))
CONVERTERS.register("openai-clip")(Converter(
    lambda s: "visual.conv1.weight" in s or "visual.class_embedding" in s, _openai_clip))


def detect_layout(state: State) -> str:
    for layout in CONVERTERS:
        if CONVERTERS[layout].detect(state):
            return layout
    return "timm"


def from_file(name: str, path: Path, num_classes: int = 0) -> nn.Module:
    """Backbone `name` with weights from `path`, converted from its layout."""
    import timm

    state = read_checkpoint(path)
    layout = detect_layout(state)
    if layout == "timm":
        return timm.create_model(name, pretrained=True, num_classes=num_classes,
                                 pretrained_cfg_overlay={"file": str(path)})
    return CONVERTERS[layout].build(name, state, path)


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
    return Path(home) / "hub"


def from_hf_cache(name: str) -> nn.Module:
    """timm's published weights for tagged `name`, from the local Hugging Face cache only."""
    import timm
    from huggingface_hub import try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(name)
    repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not repo:
        raise InputError(f"weights hf-cache: timm has no Hugging Face weights for {quote(name)} "
                         "(give a tagged name such as vit_base_patch16_clip_224.openai)")
    cache = hub_cache_dir()
    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo, filename, cache_dir=str(cache))
        if isinstance(found, str):
            # CLIP towers keep their projection (the image embedding); others drop the classifier.
            keep: dict[str, Any] = {} if "clip" in name else {"num_classes": 0}
            return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": found}, **keep)
    raise InputError(f"weights hf-cache: {repo} is not in the Hugging Face cache at {cache}; on a machine "
                     f"with network run `huggingface-cli download {repo}` and copy the cache, or give a local file")
