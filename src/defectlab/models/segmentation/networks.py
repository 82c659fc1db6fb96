"""The three segmentation networks of the clutch paper (§5.1), one logit channel each, built offline.

- `fcn`, `deeplabv3`: the paper's torchvision models on "ResNet-34 with bottleneck blocks" and dilation in the
  last layers to an output stride of 8. ResNet-34's stage layout [3, 4, 6, 3] with Bottleneck blocks is
  ResNet-50, which torchvision's segmentation builders already dilate (layer3 and layer4) to stride 8; only the
  first convolution is swapped to take `in_channels` (grey, or the 3-channel exposure stack).
- `unet`: segmentation-models-pytorch's U-Net on a (BasicBlock) ResNet-34 encoder, the library the paper used.

All start from random initialisation: the paper found ImageNet weights improved neither speed nor performance.
Nothing here downloads (both `weights=None` and `weights_backbone=None` for torchvision, `encoder_weights=None`
for smp, whose default fetches from the Hugging Face Hub); trained weights come from a local state dict.
"""

from pathlib import Path

import segmentation_models_pytorch as smp
import torch
from torch import nn
from torchvision.models.segmentation import deeplabv3_resnet50, fcn_resnet50

ARCHITECTURES = ("fcn", "deeplabv3", "unet")
_TORCHVISION_BUILDERS = {"fcn": fcn_resnet50, "deeplabv3": deeplabv3_resnet50}
# U-Net's encoder halves the size five times, the dilated ResNet-50 three times (output stride 8): at these side
# multiples every down-sampling is exact, so U-Net's nearest up-sampling doubles each map back onto its skip and the
# torchvision heads' final bilinear up-sampling is exactly x8. Padding to 96 = 3 x 32 gives such tiles (spec R4.3).
_SIDE_MULTIPLES = {"fcn": 8, "deeplabv3": 8, "unet": 32}


def _check_architecture(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown segmentation architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")


def build_network(architecture: str, in_channels: int, weights: str | Path | None = None) -> nn.Module:
    """The randomly initialised `architecture` for `in_channels`-channel input, or with the local state dict
    `weights` (loaded strictly, so a checkpoint of another architecture or channel count is refused)."""
    _check_architecture(architecture)
    if in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {in_channels}")
    if weights is not None and not Path(weights).is_file():
        raise FileNotFoundError(f"segmentation weights not found: {weights}")
    if architecture == "unet":
        model: nn.Module = smp.Unet("resnet34", encoder_weights=None, in_channels=in_channels, classes=1)
    else:
        model = _TORCHVISION_BUILDERS[architecture](weights=None, weights_backbone=None, num_classes=1, aux_loss=False)
        model.backbone.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) logits of `x`: torchvision's models return a dict whose "out" is them, smp's the tensor."""
    output = model(x)
    return output["out"] if isinstance(output, dict) else output


def required_multiple(architecture: str) -> int:
    """The multiple an input side must be for every down-sampling to be exact (32 for U-Net, 8 for the stride-8
    torchvision models). Other sizes give an output of the input's size too (smp 0.6's U-Net resizes each decoder
    map to its skip, torchvision resizes the logits to the input), but through fractional resampling."""
    _check_architecture(architecture)
    return _SIDE_MULTIPLES[architecture]
