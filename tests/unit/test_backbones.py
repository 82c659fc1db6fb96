from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from defectlab.features.backbones import (
    build_extractor,
    create_backbone,
    local_average,
    package_weights_path,
    positional_state_dict,
    tensor_kind,
)

MILITARY_UNIFORM = 652  # ImageNet class of matplotlib's sample photo of Grace Hopper


def images(count: int = 2, height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def package_tensors() -> dict[str, torch.Tensor]:
    return torch.load(package_weights_path(), map_location="cpu", weights_only=True)


def imagenet_probabilities(model: torch.nn.Module, image: np.ndarray) -> torch.Tensor:
    """Class probabilities of the full classifier for one uint8 image, normalised as its weights expect."""
    cfg = model.pretrained_cfg
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(cfg["mean"]).view(3, 1, 1)) / torch.tensor(cfg["std"]).view(3, 1, 1)
    with torch.no_grad():
        return model.eval()(x).softmax(-1)[0]


def test_features_have_the_concatenated_channels_on_the_first_layers_grid():
    extractor = build_extractor(weights="none")
    features = extractor(images())
    assert (extractor.dim, extractor.stride) == (40 + 112, 8)
    assert features.shape == (2, 152, 64 // 8, 96 // 8)
    assert features.dtype == torch.float32


def test_other_backbones_report_their_width_and_stride():
    extractor = build_extractor("resnet18", layers=(2, 3), weights="none", pool=3)
    assert (extractor.dim, extractor.stride) == (128 + 256, 8)
    assert extractor(images(1)).shape == (1, 384, 8, 12)


def test_features_are_deterministic_for_numpy_and_tensor_input():
    extractor = build_extractor(weights="none")
    batch = images()
    first = extractor(batch)
    assert torch.equal(first, extractor(batch))
    assert torch.equal(first, extractor(torch.from_numpy(batch)))
    # a row does not depend on its batch, up to the rounding of batch-size dependent convolution kernels
    torch.testing.assert_close(first[1:], extractor(batch[1:]), rtol=1e-4, atol=1e-4)


def test_local_average_keeps_size_and_leaves_padding_out():
    fmap = torch.arange(1.0, 13.0).view(1, 1, 3, 4)
    pooled = local_average(fmap, 2)
    assert pooled.shape == fmap.shape
    assert pooled[0, 0, 0, 0] == 1  # only the cell itself: padding is not a zero in the mean
    assert pooled[0, 0, 0, 1] == (1 + 2) / 2
    assert pooled[0, 0, 1, 1] == (1 + 2 + 5 + 6) / 4  # window reaches up and left
    assert torch.equal(local_average(fmap, 1), fmap)
    assert local_average(fmap, 3)[0, 0, 1, 1] == fmap[0, 0, :3, :3].mean()


def test_package_weights_are_copied_tensor_by_tensor():
    source = package_tensors()
    model = create_backbone("tf_efficientnet_lite0", "package")
    target = model.state_dict()
    assert len(source) == len(target) == 296
    for (src, expected), (dst, loaded) in zip(source.items(), target.items(), strict=True):
        assert tensor_kind(src) == tensor_kind(dst), (src, dst)
        assert torch.equal(loaded, expected), (src, dst)
    random = create_backbone("tf_efficientnet_lite0", "none").state_dict()
    assert not torch.equal(random["conv_stem.weight"], target["conv_stem.weight"])
    assert not torch.equal(random["blocks.4.2.bn2.running_var"], target["blocks.4.2.bn2.running_var"])


def test_package_weights_classify_a_photo_like_imagenet_weights_do():
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    photo = np.array(Image.open(path).convert("RGB").resize((224, 224), Image.BICUBIC))
    loaded = imagenet_probabilities(create_backbone("tf_efficientnet_lite0", "package"), photo)
    assert int(loaded.argmax()) == MILITARY_UNIFORM and loaded.max() > 0.3
    torch.manual_seed(0)  # random initialisation, made repeatable
    random = imagenet_probabilities(create_backbone("tf_efficientnet_lite0", "none"), photo)
    assert random[MILITARY_UNIFORM] < 0.01


def test_package_extractor_uses_the_package_weights():
    extractor = build_extractor(weights="package")
    loaded = extractor.model.state_dict()
    assert torch.equal(loaded["blocks.2.1.conv_pw.weight"], package_tensors()["_blocks.4._expand_conv.weight"])
    assert not torch.equal(extractor(images()), build_extractor(weights="none")(images()))


def test_positional_copy_refuses_a_shifted_order():
    source = package_tensors()
    target = create_backbone("tf_efficientnet_lite0", "none").state_dict()
    keys, values = list(source), list(source.values())
    with pytest.raises(ValueError, match="295 source tensors for 296"):
        positional_state_dict(dict(zip(keys[1:], values[1:], strict=True)), target)
    # rotated by one: a batch-norm scale lands on the stem convolution
    with pytest.raises(ValueError, match=r"tensor 0: _bn0.weight \(32, 3, 3, 3\)"):
        positional_state_dict(dict(zip(keys[1:] + keys[:1], values, strict=True)), target)
    # weight and bias of the same width swapped: shapes agree, roles do not
    swapped = dict(zip([keys[0], keys[2], keys[1], *keys[3:]], values, strict=True))
    with pytest.raises(ValueError, match="tensor 1: _bn0.bias"):
        positional_state_dict(swapped, target)


def test_tensor_kinds_agree_across_namings():
    assert tensor_kind("_blocks.3._bn1.running_var") == ("bn", "running_var")
    assert tensor_kind("blocks.2.0.bn2.running_var") == ("bn", "running_var")
    assert tensor_kind("_blocks.3._depthwise_conv.weight") == tensor_kind("blocks.2.0.conv_dw.weight")
    assert tensor_kind("_fc.bias") == tensor_kind("classifier.bias") == ("linear", "bias")


def test_weights_from_a_file(tmp_path):
    model = create_backbone("resnet18", "none")
    path = tmp_path / "resnet18.pt"
    torch.save(model.state_dict(), path)
    loaded = create_backbone("resnet18", str(path))
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True)
    )
    torch.save(model.state_dict(), tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="wrong.pt"):
        create_backbone("tf_efficientnet_lite0", str(tmp_path / "wrong.pt"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "no_such_net"}, "no_such_net"),
        ({"name": "resnet18", "weights": "package"}, "resnet18"),
        ({"weights": "/nowhere/weights.pt"}, "/nowhere/weights.pt"),
        ({"weights": "none", "layers": (3, 2)}, "layers"),
        ({"weights": "none", "layers": (2, 9)}, "layers"),
        ({"weights": "none", "pool": 0}, "pool"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_extractor(**kwargs)


def test_non_uint8_images_are_refused():
    with pytest.raises(ValueError, match="uint8"):
        build_extractor(weights="none")(images().astype(np.float32))
