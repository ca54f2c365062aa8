"""Backbones: the packaged ImageNet Lite0 weights through an explicit key map, local files, the cache."""

import re

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from sklearn.datasets import load_sample_image

from lpft.errors import InputError
from lpft.models import build_backbone, cached_features, create_timm, lite0
from lpft.models import features as features_module

# ImageNet classes of buildings (and their parts) a photo of a Chinese palace may fairly get.
BUILDINGS = {442, 449, 483, 497, 538, 663, 668, 698, 832}  # bell cote, boathouse, castle, church,
# dome, monastery, mosque, palace, stupa


def imagenet_probs(model: torch.nn.Module) -> torch.Tensor:
    img = Image.fromarray(load_sample_image("china.jpg")).resize((224, 224), Image.BICUBIC)
    x = torch.tensor(np.asarray(img) / 255.0, dtype=torch.float32).permute(2, 0, 1)[None]
    cfg = timm.data.resolve_data_config({}, model=model)
    x = (x - torch.tensor(cfg["mean"]).view(1, 3, 1, 1)) / torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    model.eval()
    with torch.no_grad():
        return model(x).softmax(-1)[0]


def test_key_map_covers_every_tensor_with_matching_shapes():
    source = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0").state_dict()
    mapped = {lite0.map_key(k): k for k in source}
    assert len(mapped) == len(source) and set(mapped) == set(target)
    for new, old in mapped.items():
        assert source[old].shape == target[new].shape, (old, new)


def test_imagenet_weights_see_a_palace_and_random_weights_do_not():
    pretrained = imagenet_probs(create_timm("tf_efficientnet_lite0", "imagenet", num_classes=1000))
    assert int(pretrained.argmax()) in BUILDINGS
    assert float(pretrained[list(BUILDINGS)].sum()) > 0.5
    random = imagenet_probs(create_timm("tf_efficientnet_lite0", "none", num_classes=1000))
    assert float(random[list(BUILDINGS)].sum()) < 0.05


def test_local_checkpoint_file(tmp_path):
    source = timm.create_model("resnet10t", num_classes=0)
    path = tmp_path / "resnet10t.pth"
    torch.save(source.state_dict(), path)
    bench = _tiny_images()
    backbone = build_backbone("resnet10t", str(path), bench)
    for k, v in source.state_dict().items():
        torch.testing.assert_close(backbone.module.state_dict()[k], v)
    with pytest.raises(InputError, match=re.escape("missing.pth")):
        build_backbone("resnet10t", str(tmp_path / "missing.pth"), bench)
    with pytest.raises(InputError, match="not a timm model"):
        build_backbone("no_such_net", "none", bench)


def _tiny_images():
    from lpft.data import load_benchmark

    return load_benchmark("digits", n_train=20, n_val=10, n_test=10, n_ood=5, size=32)


def test_feature_cache_is_reused_and_keyed_by_weights(monkeypatch):
    bench = _tiny_images()
    calls = []
    real = features_module.extract

    def counting(*args, **kwargs):
        calls.append(kwargs.get("desc"))
        return real(*args, **kwargs)

    monkeypatch.setattr(features_module, "extract", counting)
    backbone = build_backbone("tf_efficientnet_lite0", "imagenet", bench)
    first = cached_features(backbone, bench)
    assert len(calls) == len(bench.splits)
    again = cached_features(build_backbone("tf_efficientnet_lite0", "imagenet", bench), bench)
    assert len(calls) == len(bench.splits)  # second call: all from disk
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    assert first["id_train"].shape == (20, backbone.num_features)
    cached_features(build_backbone("tf_efficientnet_lite0", "none", bench), bench)
    assert len(calls) == 2 * len(bench.splits)  # other weights, other key
