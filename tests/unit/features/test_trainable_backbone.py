import numpy as np
import pytest
import torch

from defectlab.features.backbones import build_extractor, merge_levels
from defectlab.features.trainable import build_backbone


def batch(count: int = 2, height: int = 64, width: int = 96) -> torch.Tensor:
    """uint8 images (B, 3, H, W)."""
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.integers(0, 256, (count, 3, height, width), dtype=np.uint8))


@pytest.mark.parametrize(
    ("name", "first_conv"),
    [("resnet18", "conv1"), ("tf_efficientnet_lite0", "conv_stem"), ("torchvision:resnet18", "conv1")],
)
def test_gradients_reach_the_first_convolution(name, first_conv):
    torch.manual_seed(0)
    backbone = build_backbone(name)
    x = backbone.normalise(batch())
    loss = backbone.pooled(x).square().mean() + sum(m.mean() for m in backbone.features(x, (1, 2)))
    loss.backward()
    grad = backbone.layer(first_conv).weight.grad
    assert grad is not None and bool(grad.abs().sum() > 0)


@pytest.mark.parametrize(
    ("name", "dim"), [("resnet18", 512), ("tf_efficientnet_lite0", 1280), ("torchvision:resnet18", 512)]
)
def test_pooled_vectors_are_the_pre_logits(name, dim):
    backbone = build_backbone(name).eval()
    assert backbone.dim == dim
    with torch.no_grad():
        assert backbone.pooled(backbone.normalise(batch())).shape == (2, dim)


def test_feature_maps_have_the_levels_channels_and_reductions():
    backbone = build_backbone("torchvision:mobilenet_v3_large").eval()
    assert (backbone.channels, backbone.reductions) == ((16, 24, 40, 112, 960), (2, 4, 8, 16, 32))
    with torch.no_grad():
        maps = backbone.features(backbone.normalise(batch()))
    assert [tuple(m.shape) for m in maps] == [
        (2, c, 64 // r, 96 // r) for c, r in zip((16, 24, 40, 112, 960), backbone.reductions, strict=True)
    ]
    with pytest.raises(ValueError, match="layers"):
        backbone.features(torch.zeros(1, 3, 32, 32), (3, 1))


@pytest.mark.parametrize(
    ("name", "weights", "layers", "pool"),
    [("tf_efficientnet_lite0", "package", (2, 3), 2), ("torchvision:mobilenet_v3_large", "none", (1, 3), 3)],
)
def test_eval_features_equal_the_extractors(name, weights, layers, pool):
    torch.manual_seed(0)
    extractor = build_extractor(name, layers, weights, pool)
    torch.manual_seed(0)
    backbone = build_backbone(name, weights).eval()
    images = batch()
    with torch.no_grad():
        maps = backbone.features(backbone.normalise(images), layers)
    assert torch.equal(merge_levels(maps, pool), extractor(images.permute(0, 2, 3, 1).numpy()))


def test_named_layers_take_grad_cam_hooks():
    backbone = build_backbone("torchvision:resnet18").eval()
    seen = {}
    backbone.layer("layer4").register_forward_hook(lambda m, a, out: seen.setdefault("layer4", out))
    score = backbone.pooled(backbone.normalise(batch(1))).sum()
    activation = seen["layer4"]
    (grad,) = torch.autograd.grad(score, activation)
    assert activation.shape == grad.shape == (1, 512, 2, 3)
    assert bool(grad.abs().sum() > 0)
