"""The clutch paper's three networks: one logit channel at the input's size for grey and exposure-stacked input,
the parameter counts of the spec, no download on construction (and a guard shown to catch one), seeded
initialisation, local weights loaded strictly, bad arguments refused by name."""

import socket

import huggingface_hub
import pytest
import segmentation_models_pytorch as smp
import segmentation_models_pytorch.encoders
import torch
import torch.hub
import torchvision.models._api
from torch import nn
from torchvision.models import ResNet50_Weights
from torchvision.models.segmentation import fcn_resnet50

from defectlab.models.segmentation.networks import ARCHITECTURES, build_network, logits, required_multiple

# Measured with in_channels=1 (spec R6.1: 24.43 M, 32.94 M, 39.63 M).
PARAMETERS = {"fcn": 32_940_481, "deeplabv3": 39_627_457, "unet": 24_430_097}
# Each extra input channel adds one 7 x 7 kernel to the 64 filters of the first convolution.
PER_INPUT_CHANNEL = 64 * 7 * 7


class DownloadAttempted(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise DownloadAttempted(f"network access attempted: {args} {kwargs}")


@pytest.fixture
def offline(monkeypatch):
    """Every path by which torchvision and smp fetch weights raises, including the names they imported."""
    for owner in (torch.hub, torchvision.models._api):
        monkeypatch.setattr(owner, "load_state_dict_from_url", _refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", _refuse)
    for owner in (huggingface_hub, segmentation_models_pytorch.encoders):
        monkeypatch.setattr(owner, "hf_hub_download", _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)


@pytest.fixture(scope="module")
def grey_networks() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {architecture: build_network(architecture, 1).eval() for architecture in ARCHITECTURES}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_spec(grey_networks):
    measured = {architecture: parameter_count(model) for architecture, model in grey_networks.items()}
    assert measured == PARAMETERS
    assert {a: round(n / 1e6, 2) for a, n in measured.items()} == {"fcn": 32.94, "deeplabv3": 39.63, "unet": 24.43}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_backbone_blocks_and_output_stride(architecture, grey_networks):
    model = grey_networks[architecture]
    if architecture == "unet":
        assert model.encoder.layer1[0].__class__.__name__ == "BasicBlock"
        assert [len(model.encoder.get_submodule(f"layer{k}")) for k in range(1, 5)] == [3, 4, 6, 3]
        return
    backbone = model.backbone
    assert [len(getattr(backbone, f"layer{k}")) for k in range(1, 5)] == [3, 4, 6, 3]
    assert backbone.layer1[0].__class__.__name__ == "Bottleneck"
    assert backbone.layer3[0].conv2.stride == (1, 1) and backbone.layer4[0].conv2.stride == (1, 1)
    with torch.no_grad():
        features = backbone(torch.zeros(2, 1, 64, 96))["out"]
    assert features.shape == (2, 2048, 8, 12)
    assert model.aux_classifier is None


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_one_logit_channel_at_the_input_size(architecture, in_channels, grey_networks):
    if in_channels == 1:
        model = grey_networks[architecture]
    else:
        model = build_network(architecture, in_channels).eval()
        assert parameter_count(model) == PARAMETERS[architecture] + (in_channels - 1) * PER_INPUT_CHANNEL
    multiple = required_multiple(architecture)
    with torch.no_grad():
        for height, width in [(64, 64), (64, 96)]:
            assert height % multiple == 0 and width % multiple == 0
            out = logits(model, torch.randn(2, in_channels, height, width))
            assert out.shape == (2, 1, height, width)
            assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_deeplabv3_trains_on_a_batch_of_two():
    model = build_network("deeplabv3", 1).train()
    loss = nn.functional.binary_cross_entropy_with_logits(
        logits(model, torch.randn(2, 1, 32, 32)), torch.zeros(2, 1, 32, 32)
    )
    loss.backward()
    assert model.backbone.conv1.weight.grad is not None


def test_required_multiples():
    assert [required_multiple(a) for a in ARCHITECTURES] == [8, 8, 32]
    assert all(96 % required_multiple(a) == 0 for a in ARCHITECTURES)


@pytest.mark.usefixtures("offline")
def test_no_constructor_touches_the_network():
    for architecture in ARCHITECTURES:
        build_network(architecture, 3)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("library", ["torchvision", "smp"])
def test_the_offline_guard_catches_a_pretrained_build(library):
    with pytest.raises(DownloadAttempted):
        if library == "torchvision":
            fcn_resnet50(weights=None, weights_backbone=ResNet50_Weights.DEFAULT, num_classes=1)
        else:
            smp.Unet("resnet34", encoder_weights="imagenet", in_channels=1, classes=1)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_same_seed_same_initial_weights(architecture):
    def seeded(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return build_network(architecture, 1).state_dict()

    first, again, other = seeded(7), seeded(7), seeded(8)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[name], again[name]) for name in first)
    first_conv = "encoder.conv1.weight" if architecture == "unet" else "backbone.conv1.weight"
    assert not torch.equal(first[first_conv], other[first_conv])


@pytest.mark.parametrize("architecture", ["fcn", "unet"])
def test_local_weights_round_trip(architecture, grey_networks, tmp_path):
    path = tmp_path / f"{architecture}.pt"
    saved = grey_networks[architecture].state_dict()
    torch.save(saved, path)
    torch.manual_seed(123)
    loaded = build_network(architecture, 1, weights=str(path)).state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[name], loaded[name]) for name in saved)
    with pytest.raises(RuntimeError, match="size mismatch"):
        build_network(architecture, 3, weights=path)


def test_bad_arguments_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"'segformer'.*fcn, deeplabv3, unet"):
        build_network("segformer", 1)
    with pytest.raises(ValueError, match="'pspnet'"):
        required_multiple("pspnet")
    with pytest.raises(ValueError, match="in_channels must be at least 1, got 0"):
        build_network("unet", 0)
    missing = tmp_path / "absent.pt"
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        build_network("fcn", 1, weights=missing)
