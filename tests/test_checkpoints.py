"""Backbones from the paper's checkpoint files: each converter against its reference module."""

import os
import re

import pytest
import torch

from lpft.data import load_benchmark
from lpft.errors import InputError
from lpft.models.backbone import build_backbone
from lpft.models.checkpoints import detect_layout, read_checkpoint


@pytest.fixture(scope="module")
def images():
    return load_benchmark("digits", n_train=20, n_val=10, n_test=10, n_ood=10, size=32)


def randomise_bn(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BatchNorm statistics and affine terms, so a dropped buffer would show."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def test_moco_v2_checkpoint_matches_torchvision_encoder(tmp_path, images):
    from torchvision.models import resnet50

    gen = torch.Generator().manual_seed(0)
    ref = resnet50()
    randomise_bn(ref, gen)
    encoder = {k: v for k, v in ref.state_dict().items() if not k.startswith("fc.")}
    mlp = {"fc.0.weight": torch.randn(2048, 2048), "fc.0.bias": torch.zeros(2048),
           "fc.2.weight": torch.randn(128, 2048), "fc.2.bias": torch.zeros(128)}
    state = {f"module.encoder_q.{k}": v for k, v in {**encoder, **mlp}.items()}
    state.update({f"module.encoder_k.{k}": v + 1 for k, v in encoder.items()})  # must be ignored
    state.update({"module.queue": torch.randn(128, 32), "module.queue_ptr": torch.zeros(1, dtype=torch.long)})
    path = tmp_path / "moco_v2_800ep_pretrain.pth.tar"
    torch.save({"epoch": 800, "arch": "resnet50", "state_dict": state, "optimizer": {"state": {}}}, path)

    assert detect_layout(read_checkpoint(path)) == "moco"
    backbone = build_backbone("resnet50", str(path), images)
    assert backbone.num_features == 2048
    ref.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64, generator=gen)
    with torch.no_grad():
        assert torch.allclose(backbone.module.eval()(x), ref.eval()(x), atol=1e-5)


class Visual(torch.nn.Module):
    """Holds a CLIP image tower under `visual.`, as OpenAI's archives name it."""

    def __init__(self, visual: torch.nn.Module) -> None:
        super().__init__()
        self.visual = visual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)


def clip_model(name: str):
    import open_clip

    torch.manual_seed(0)
    return open_clip.create_model(name, pretrained=None)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::FutureWarning")
def test_openai_clip_rn50_torchscript_archive(tmp_path, images):
    model = clip_model("RN50")
    randomise_bn(model.visual, torch.Generator().manual_seed(1))
    ref = Visual(model.visual).eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    path = tmp_path / "RN50.pt"
    torch.jit.trace(ref, x[:1]).save(str(path))  # a TorchScript archive, like OpenAI's download

    assert detect_layout(read_checkpoint(path)) == "openai-clip"
    backbone = build_backbone("resnet50_clip", str(path), images)
    assert backbone.num_features == 1024  # CLIP's image embedding, projection kept
    assert backbone.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    with torch.no_grad():
        assert torch.allclose(backbone.module.eval()(x), ref(x), atol=1e-4)


def test_openai_clip_vit_b16_state_dict(tmp_path, images):
    model = clip_model("ViT-B-16-quickgelu")
    state = {k: v for k, v in model.state_dict().items() if k.startswith("visual.")}
    state.update({k: model.state_dict()[k] for k in ("logit_scale", "ln_final.weight", "positional_embedding")})
    path = tmp_path / "ViT-B-16.pt"
    torch.save(state, path)

    backbone = build_backbone("vit_base_patch16_clip_quickgelu_224", str(path), images)
    assert backbone.num_features == 512
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(backbone.module.eval()(x), model.visual.eval()(x), atol=1e-4)
    with pytest.raises(InputError, match="QuickGELU; use backbone vit_base_patch16_clip_quickgelu_224"):
        build_backbone("vit_base_patch16_clip_224", str(path), images)


def test_missing_or_foreign_weights_are_one_clear_line(tmp_path, images):
    with pytest.raises(InputError) as err:
        build_backbone("resnet50", str(tmp_path / "moco_v2_800ep_pretrain.pth.tar"), images)
    assert "weights file not found" in str(err.value) and "facebookresearch/moco" in str(err.value)
    torch.save({"state_dict": {"module.encoder_q.conv1.weight": torch.zeros(1)}}, tmp_path / "bad.pth.tar")
    with pytest.raises(InputError, match="MoCo-v2 checkpoint does not fit this backbone"):
        build_backbone("resnet18", str(tmp_path / "bad.pth.tar"), images)


def test_hf_cache_is_read_offline_and_a_missing_entry_says_how(tmp_path, images, monkeypatch):
    import timm
    from safetensors.torch import save_file

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(InputError, match=re.escape("timm/test_vit.r160_in1k is not in the Hugging Face cache")):
        build_backbone("test_vit.r160_in1k", "hf-cache", images)
    # Populate the cache the way huggingface_hub lays it out: refs/main -> snapshots/<commit>/.
    ref = timm.create_model("test_vit", num_classes=1000)
    repo = tmp_path / "models--timm--test_vit.r160_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    save_file(ref.state_dict(), str(repo / "snapshots" / ("0" * 40) / "model.safetensors"))
    backbone = build_backbone("test_vit.r160_in1k", "hf-cache", images)
    ref.reset_classifier(0)
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        assert torch.allclose(backbone.module.eval()(x), ref.eval()(x), atol=1e-6)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
