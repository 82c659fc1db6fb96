"""Grad-CAM: a hand-computed gradient on conv -> GAP -> linear, and a ResNet-18 at conv1 leaves no state."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from defectlab.models.cutpaste.gradcam import grad_cam, minmax


class TinyNet(nn.Module):
    def __init__(self, channels: int = 6, classes: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(x)).flatten(1))


@pytest.fixture
def tiny() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet().double()


@pytest.mark.parametrize("target", [0, 1])
def test_matches_hand_computed_gradient(tiny, target):
    x = torch.randn(3, 3, 10, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        act = tiny.conv(x)  # (B, K, h, w)
    h, w = act.shape[-2:]
    alpha = tiny.fc.weight[target].detach() / (h * w)  # dS_c/dA_k[i, j] = w_{c,k} / (h w) for GAP + linear
    expected = F.relu((alpha.view(1, -1, 1, 1) * act).sum(dim=1))
    cam = grad_cam(tiny, x, layer="conv", target=target, normalise=False)
    assert cam.shape == (3, 10, 12)
    torch.testing.assert_close(cam.double(), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad_cam(tiny, x, layer="conv", target=target), minmax(expected.float()))


def test_predicted_and_per_image_targets(tiny):
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        pred = tiny(x).argmax(1)
    by_pred = grad_cam(tiny, x, "conv", target="predicted", normalise=False)
    by_list = grad_cam(tiny, x, "conv", target=pred.tolist(), normalise=False)
    torch.testing.assert_close(by_pred, by_list)
    with pytest.raises(ValueError, match="target classes"):
        grad_cam(tiny, x, "conv", target=5)
    with pytest.raises(ValueError, match="no module"):
        grad_cam(tiny, x, "encoder.conv1")


def test_resnet18_conv1_no_state_left():
    torch.manual_seed(0)
    model = resnet18(weights=None, num_classes=2)
    model.train()
    model.bn1.eval()  # a mixed mode must come back as it was
    modes = {name: m.training for name, m in model.named_modules()}
    x = torch.randn(2, 3, 64, 64)
    cam = grad_cam(model, x, layer="conv1", target=1, sigma=2.0)
    assert cam.shape == (2, 64, 64)
    assert not torch.isnan(cam).any()
    assert cam.min() >= 0 and cam.max() <= 1
    assert len(model.conv1._forward_hooks) == 0 and len(model.conv1._backward_hooks) == 0
    assert all(p.grad is None for p in model.parameters())
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert not cam.requires_grad


def test_frozen_model_under_no_grad(tiny):
    for p in tiny.parameters():
        p.requires_grad_(False)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        cam = grad_cam(tiny, x, "conv", normalise=False)
    assert cam.shape == (2, 8, 8) and torch.isfinite(cam).all()


def test_tuple_output_and_inplace_relu_after_layer():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.relu = nn.ReLU(inplace=True)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            emb = self.relu(self.conv(x)).mean(dim=(2, 3))
            return self.fc(emb), emb

    torch.manual_seed(3)
    net = Net()
    x = torch.randn(2, 3, 6, 6)
    cam = grad_cam(net, x, "conv", target=1, normalise=False)
    with torch.no_grad():
        act = net.conv(x)  # pre-ReLU, untouched by the in-place ReLU
    act.requires_grad_(True)
    logits = net.fc(F.relu(act).mean(dim=(2, 3)))
    (g,) = torch.autograd.grad(logits[:, 1].sum(), act)
    expected = F.relu((g.mean(dim=(2, 3), keepdim=True) * act).sum(1)).detach()
    torch.testing.assert_close(cam, expected)


def test_minmax_constant_and_nan():
    maps = torch.tensor([[[0.0, 0.0], [0.0, 0.0]], [[1.0, float("nan")], [3.0, 2.0]]])
    out = minmax(maps)
    torch.testing.assert_close(out[0], torch.zeros(2, 2))
    assert torch.isnan(out[1, 0, 1])
    torch.testing.assert_close(out[1].nan_to_num(-1), torch.tensor([[0.0, -1.0], [1.0, 0.5]]))
