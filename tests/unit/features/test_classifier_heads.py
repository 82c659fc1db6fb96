"""torchvision classifiers behind timm's interface for fine-tuning and latent vectors (seed 000): a new head of C
classes, the pre-logits vector, and the registry weights of the Table 2 backbones."""

import pytest
import timm
import torch
import torch.nn.functional as F
from torchvision.models import get_model

from defectlab.data.registry import load_registry
from defectlab.features.backbones import create_backbone, weights_path
from defectlab.features.torchvision_models import registry_file


def test_a_new_head_has_c_outputs_and_reads_the_pre_logits_vector():
    torch.manual_seed(0)
    model = create_backbone("torchvision:resnet18").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        pooled = torch.flatten(F.adaptive_avg_pool2d(model.model.layer4(_stem_to_layer3(model.model, x)), 1), 1)
        assert torch.equal(model.pre_logits(x), pooled)
        model.reset_classifier(3)
        assert model(x).shape == (2, 3)
        assert torch.equal(model(x), model.model.fc(model.pre_logits(x)))
        assert torch.equal(model.pre_logits(x), pooled)


def _stem_to_layer3(resnet: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"):
        x = getattr(resnet, name)(x)
    return x


def test_mobilenet_v2_pre_logits_are_the_pooled_features_and_a_trained_head_reloads():
    torch.manual_seed(0)
    model = create_backbone("torchvision:mobilenet_v2")
    model.reset_classifier(4)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        pooled = torch.flatten(F.adaptive_avg_pool2d(model.model.features(x), 1), 1)
        assert torch.equal(model.pre_logits(x), pooled) and pooled.shape == (2, 1280)
        again = create_backbone("torchvision:mobilenet_v2")
        again.reset_classifier(4)
        again.load_state_dict(model.state_dict())
        assert torch.equal(again.eval()(x), model(x)) and model(x).shape == (2, 4)


def test_vgg16_pre_logits_are_fc7_and_its_new_head_replaces_fc8():
    with torch.device("meta"):
        model = create_backbone("torchvision:vgg16")
        x = torch.empty(2, 3, 224, 224)
        assert model.pre_logits(x).shape == (2, 4096)
        model.reset_classifier(3)
        assert model(x).shape == (2, 3) and model.pre_logits(x).shape == (2, 4096)
        assert model.model.classifier[3].out_features == 4096  # fc7 stays


@pytest.mark.parametrize(
    ("entry", "name", "tag"),
    [
        ("resnet34", "torchvision:resnet34", None),
        ("mobilenet_v2", "torchvision:mobilenet_v2", "IMAGENET1K_V1"),
        ("vgg16", "torchvision:vgg16", None),
    ],
)
def test_table2_weights_are_torchvisions_files_in_the_registry(entry, name, tag):
    registry = load_registry()
    (archive,) = registry[entry].archives
    weights = "registry" if tag is None else f"registry:{tag}"
    assert archive.file == registry_file(name, tag)
    assert archive.urls == (f"https://download.pytorch.org/models/{archive.file}",)
    assert archive.file.endswith(f"-{archive.sha256_prefix}.pth") and registry[entry].kind == "weights"
    assert weights_path(name, weights, registry.weights_dir) == registry.destination(entry, archive.file)


def test_timms_resnet34_takes_torchvisions_keys_as_they_are():
    with torch.device("meta"):
        ours = timm.create_model("resnet34", pretrained=False).state_dict()
        theirs = get_model("resnet34", weights=None).state_dict()
    assert {k: tuple(t.shape) for k, t in ours.items()} == {k: tuple(t.shape) for k, t in theirs.items()}


def test_mobilenet_v2_reads_the_registry_file_of_its_v1_weights(tmp_path):
    torch.manual_seed(1)
    state = get_model("mobilenet_v2", weights=None).state_dict()
    torch.save(state, tmp_path / "mobilenet_v2-b0353104.pth")
    loaded = create_backbone("torchvision:mobilenet_v2", "registry:IMAGENET1K_V1", tmp_path).model.state_dict()
    assert all(torch.equal(state[k], loaded[k]) for k in state)
