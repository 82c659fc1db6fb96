"""Backbones to train, fine-tune or explain: level maps and pooled vectors of float tensors, with gradients.

The extractor of defectlab.features.backbones serves PatchCore (uint8 in, frozen, no grad). The
models that train a backbone (CutPaste, segmentation encoders) or read its penultimate vector (the
latent-space analysis) take this module instead: the same classifiers, names and weights, normalised
with the same statistics, its classifier dropped so that `pooled` is the pre-logits vector (what the
last linear layer reads: 512 for ResNet-18, 2048 for ResNet-50, 1280 for EfficientNet-Lite0 and
MobileNet-V2/V3-Large, 4096 for VGG16).
"""

from pathlib import Path

import torch
from torch import nn

from defectlab.features.backbones import check_layers, create_backbone
from defectlab.features.torchvision_models import TorchvisionModel


class Backbone(nn.Module):
    """A trainable backbone: `features` (level maps) and `pooled` (B, dim) of normalised (B, 3, H, W) tensors.

    Left in training mode with gradients on, as a new nn.Module is; call `.eval()` to freeze batch norm.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        model.reset_classifier(0)
        self.model = model
        self.channels = tuple(level["num_chs"] for level in model.feature_info)
        self.reductions = tuple(level["reduction"] for level in model.feature_info)
        self.dim = model.num_features
        cfg = model.pretrained_cfg
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1), persistent=False)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """Float input from (B, 3, H, W) images, uint8 (0..255) or float (0..1), with the weights' statistics.

        uint8 is normalised exactly as the extractor does, so both give the same numbers."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W), got {tuple(images.shape)}")
        scale = 255 if images.dtype == torch.uint8 else 1
        return (images.float() - scale * self.mean) / (scale * self.std)

    def features(self, x: torch.Tensor, layers: tuple[int, ...] | None = None) -> list[torch.Tensor]:
        """The maps (B, channels[i], H / reductions[i], W / reductions[i]) of the levels `layers` (default all);
        deeper blocks are not run."""
        indices = list(range(len(self.channels))) if layers is None else list(layers)
        check_layers(tuple(indices), len(self.channels))
        early = {} if isinstance(self.model, TorchvisionModel) else {"stop_early": True}
        return self.model.forward_intermediates(x, indices=indices, intermediates_only=True, **early)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(B, dim) pre-logits vectors: the model's own global pooling (and hidden head layers, e.g. VGG's fc7)."""
        return self.model(x)

    forward = pooled

    def layer(self, name: str) -> nn.Module:
        """The module `name` in the classifier's own naming (`conv1`, `layer4`, `features.16`, `blocks.5`),
        to register Grad-CAM hooks on: both `features` and `pooled` run the modules themselves."""
        inner = self.model.model if isinstance(self.model, TorchvisionModel) else self.model
        return inner.get_submodule(name)


def build_backbone(name: str, weights: str = "none", weights_dir: Path | None = None, device: str = "cpu") -> Backbone:
    """A trainable `Backbone` on `device`; names and weights as for `build_extractor`."""
    return Backbone(create_backbone(name, weights, weights_dir)).to(device)
