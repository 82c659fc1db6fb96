import numpy as np
import pytest
import timm
import torch
from torchvision.models import get_model
from torchvision.models.feature_extraction import create_feature_extractor

from defectlab.features.backbones import build_extractor, check_backbone, create_backbone, normalisation, weights_path
from defectlab.features.torchvision_models import feature_levels, registry_file

MOBILENET = "torchvision:mobilenet_v3_large"


def images(count: int = 2, height: int = 64, width: int = 96) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def test_mobilenet_v3_large_gives_patch_features_of_its_levels():
    # the Sequential PatchCore paper's backbone: levels 2 and 3 are 40 and 112 channels at strides 8 and 16
    extractor = build_extractor(MOBILENET, layers=(2, 3), weights="none", pool=3)
    assert (extractor.dim, extractor.stride) == (40 + 112, 8)
    features = extractor(images())
    assert features.shape == (2, 152, 64 // 8, 96 // 8)
    assert features.dtype == torch.float32 and bool(torch.isfinite(features).all())
    assert check_backbone(MOBILENET, (2, 3), "none") == 8


def test_levels_are_timms_for_resnets_and_the_stage_ends_for_mobilenet():
    _, levels = feature_levels("torchvision:resnet18")
    timm_levels = timm.create_model("resnet18", pretrained=False).feature_info
    assert [(i["num_chs"], i["reduction"]) for i in levels] == [(i["num_chs"], i["reduction"]) for i in timm_levels]
    assert [i["module"] for i in levels] == ["relu", "layer1", "layer2", "layer3", "layer4"]
    _, levels = feature_levels(MOBILENET)
    assert [(i["module"], i["num_chs"]) for i in levels] == [
        ("features.1", 16),
        ("features.3", 24),
        ("features.6", 40),
        ("features.12", 112),
        ("features.16", 960),
    ]


@pytest.mark.parametrize("name", ["torchvision:resnet18", MOBILENET])
def test_level_maps_are_the_models_own_and_pruning_keeps_them(name):
    torch.manual_seed(0)
    model = create_backbone(name, "none").eval()
    nodes = {level["module"]: str(i) for i, level in enumerate(model.feature_info) if i in (1, 3)}
    graph = create_feature_extractor(model.model, return_nodes=nodes)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        maps = model.forward_intermediates(x, [1, 3])
        assert all(torch.equal(a, b) for a, b in zip(maps, graph(x).values(), strict=True))
        model.prune_intermediate_layers([1, 3])
        assert all(torch.equal(a, b) for a, b in zip(maps, model.forward_intermediates(x, [1, 3]), strict=True))
    deeper = model.stages[model.stages.index(model.feature_info[3]["module"]) + 1 :]
    assert deeper and all(isinstance(model.model.get_submodule(s), torch.nn.Identity) for s in deeper)


def test_registry_weights_are_read_from_the_weights_folder(tmp_path):
    assert registry_file("torchvision:resnet18") == "resnet18-f37072fd.pth"
    assert registry_file(MOBILENET, "IMAGENET1K_V1") == "mobilenet_v3_large-8738ca79.pth"
    assert weights_path(MOBILENET, "registry", tmp_path) == tmp_path / "mobilenet_v3_large-5c1a4163.pth"  # DEFAULT
    torch.manual_seed(1)
    state = get_model("resnet18", weights=None).state_dict()
    torch.save(state, tmp_path / "resnet18-f37072fd.pth")
    loaded = create_backbone("torchvision:resnet18", "registry", weights_dir=tmp_path).model.state_dict()
    assert all(torch.equal(state[k], loaded[k]) for k in state)
    assert check_backbone("torchvision:resnet18", (1, 2), "registry:IMAGENET1K_V1", tmp_path) == 4


def test_a_file_of_another_model_is_refused_by_name(tmp_path):
    torch.save(get_model("resnet18", weights=None).state_dict(), tmp_path / "mobilenet_v3_large-5c1a4163.pth")
    with pytest.raises(ValueError, match="do not fit 'torchvision:mobilenet_v3_large'"):
        check_backbone(MOBILENET, (2, 3), "registry", tmp_path)
    with pytest.raises(ValueError, match="do not fit 'torchvision:mobilenet_v3_large'"):
        create_backbone(MOBILENET, "registry", tmp_path)


@pytest.mark.parametrize(
    ("name", "weights", "message"),
    [
        ("torchvision:no_such_net", "none", "torchvision:no_such_net"),
        ("torchvision:resnet18", "package", "'package' exist only for tf_efficientnet_lite0"),
        ("torchvision:resnet18", "registry:IMAGENET1K_V9", "IMAGENET1K_V1"),
        ("torchvision:resnet18", "registry", "weights folder"),
        ("resnet18", "registry", "only for torchvision backbones"),
    ],
)
def test_bad_names_and_weights_are_refused(name, weights, message):
    with pytest.raises(ValueError, match=message):
        create_backbone(name, weights)


def test_bad_layers_of_a_torchvision_backbone_are_refused_on_the_meta_device():
    with pytest.raises(ValueError, match=r"layers must be increasing indices in 0\.\.4"):
        check_backbone("torchvision:resnet18", (2, 5), "none")
    assert check_backbone("torchvision:resnet18", (1, 2), "registry") == 4  # no folder: only the tag is checked


def test_normalisation_is_the_one_the_models_use():
    for name in ("tf_efficientnet_lite0", "resnet18"):
        cfg = timm.create_model(name, pretrained=False).pretrained_cfg
        assert normalisation(name, "package") == (cfg["mean"], cfg["std"])
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert normalisation("torchvision:resnet18") == imagenet
    assert create_backbone(MOBILENET).pretrained_cfg == dict(zip(("mean", "std"), imagenet, strict=True))
