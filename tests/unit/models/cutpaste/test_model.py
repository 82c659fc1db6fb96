"""The CutPaste network: the thesis's head widths for ResNet-18 and -50, the head's layers and parameter count by
hand, the shapes of logits and embeddings, a head that does not fit the backbone refused, Grad-CAM's layer found."""

import pytest
import torch
from torch import nn

from defectlab.models.cutpaste.model import CutPasteNet, build_network, projection_head


def head_parameters(widths: list[int]) -> int:
    """Hidden layers: a bias-free weight d_i x d_i+1 and BatchNorm's weight and bias (2 d_i+1); last: weight + bias."""
    hidden = sum(a * b + 2 * b for a, b in zip(widths[:-2], widths[1:-1], strict=True))
    return hidden + widths[-2] * widths[-1] + widths[-1]


@pytest.fixture(scope="module")
def resnet18_net() -> CutPasteNet:
    torch.manual_seed(0)
    return build_network("resnet18", "none", "auto", 2)


@pytest.mark.parametrize(("name", "dim"), [("resnet18", 512), ("resnet50", 2048)])
def test_auto_head_is_the_thesis_list(name, dim):
    network = build_network(name, "none", "auto", 2)
    assert network.widths == [dim, 512, 512, 512, 512, 512, 512, 128]
    assert network.backbone.dim == dim
    assert network.head[0].in_features == dim
    assert sum(p.numel() for p in network.head.parameters()) == head_parameters(network.widths)
    assert network.classifier.in_features == 128 and network.classifier.out_features == 2


def test_head_layers_are_linear_bn_relu_then_a_biased_linear():
    widths = [20, 16, 12, 8]
    head = projection_head(widths)
    layers = list(head)
    assert len(layers) == 3 * (len(widths) - 2) + 1
    for k, (d_in, d_out) in enumerate(zip(widths[:-2], widths[1:-1], strict=True)):
        linear, norm, relu = layers[3 * k : 3 * k + 3]
        assert type(linear) is nn.Linear and linear.bias is None
        assert (linear.in_features, linear.out_features) == (d_in, d_out)
        assert type(norm) is nn.BatchNorm1d and norm.num_features == d_out
        assert type(relu) is nn.ReLU
    last = layers[-1]
    assert type(last) is nn.Linear and last.bias is not None
    assert (last.in_features, last.out_features) == (12, 8)
    assert sum(p.numel() for p in head.parameters()) == head_parameters(widths)
    assert sum(p.numel() for p in head.parameters()) == (20 * 16 + 32) + (16 * 12 + 24) + (12 * 8 + 8)


def test_a_two_width_head_is_one_biased_linear():
    head = projection_head([6, 4])
    assert len(head) == 1 and type(head[0]) is nn.Linear and head[0].bias is not None
    with pytest.raises(ValueError, match=r"at least an input and an output width, got \[6\]"):
        projection_head([6])


def test_forward_gives_logits_and_the_head_embedding(resnet18_net):
    x = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    resnet18_net.train()
    logits, embedding = resnet18_net(resnet18_net.normalise(x))
    assert logits.shape == (3, 2) and embedding.shape == (3, 128)
    resnet18_net.eval()
    with torch.no_grad():
        logits, embedding = resnet18_net(resnet18_net.normalise(x))
        torch.testing.assert_close(logits, resnet18_net.classifier(embedding))
        pooled = resnet18_net.backbone(resnet18_net.normalise(x))
        torch.testing.assert_close(embedding, resnet18_net.head(pooled))


def test_backbone_embedding_is_the_pooled_vector_and_three_classes():
    torch.manual_seed(0)
    network = build_network("resnet18", "none", [512, 64, 32], 3, embedding="backbone").eval()
    assert network.widths == [512, 64, 32]
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        logits, embedding = network(network.normalise(x))
        assert logits.shape == (2, 3) and embedding.shape == (2, 512)
        torch.testing.assert_close(embedding, network.backbone(network.normalise(x)))
        torch.testing.assert_close(logits, network.classifier(network.head(embedding)))


def test_a_head_that_does_not_start_at_the_backbone_width_is_refused():
    with pytest.raises(ValueError, match=r"cutpaste\.head starts with 256, but backbone resnet18 gives 512-d"):
        build_network("resnet18", "none", [256, 128], 2)
    with pytest.raises(ValueError, match="embedding must be 'head' or 'backbone'"):
        build_network("resnet18", "none", "auto", 2, embedding="pooled")


def test_layer_name_resolves_to_the_backbone_conv1(resnet18_net):
    name = resnet18_net.layer_name("conv1")
    modules = dict(resnet18_net.named_modules())
    assert name.startswith("backbone.") and name.endswith("conv1")
    assert modules[name] is resnet18_net.backbone.layer("conv1")
    assert isinstance(modules[name], nn.Conv2d) and modules[name].in_channels == 3
