"""The CutPaste network (spec §5.3): a backbone whose classifier is dropped, a projection head to the embedding,
and a linear classifier over normal and the augmentations.

The head is built progressively, Linear(d_i, d_i+1, bias=False) + BatchNorm1d + ReLU for every hidden width,
then Linear(d_-2, d_-1) with a bias and nothing after it. LilitYolyan's construction (Linear(d, d) for every
entry) cannot take the thesis's ResNet-50 list [2048, 512, ..., 128]: it would feed 2048 features into a 512-wide
layer, so the thesis must have built it this way.
"""

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from defectlab.features.trainable import Backbone, build_backbone


def projection_head(widths: Sequence[int]) -> nn.Sequential:
    """The head for `widths` [in, hidden..., out]."""
    if len(widths) < 2:
        raise ValueError(f"a projection head needs at least an input and an output width, got {list(widths)}")
    layers: list[nn.Module] = []
    for d_in, d_out in zip(widths[:-2], widths[1:-1], strict=True):
        layers += [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(widths[-2], widths[-1]))
    return nn.Sequential(*layers)


class CutPasteNet(nn.Module):
    """forward(x) -> (logits (B, classes), embedding (B, D)) of normalised (B, 3, H, W) input; the embedding is
    the head's output (`embedding="head"`, the thesis) or the backbone's pooled vector ("backbone")."""

    def __init__(self, backbone: Backbone, head: Sequence[int], classes: int, embedding: str = "head") -> None:
        super().__init__()
        if embedding not in ("head", "backbone"):
            raise ValueError(f"embedding must be 'head' or 'backbone', got {embedding!r}")
        self.backbone = backbone
        self.head = projection_head(head)
        self.classifier = nn.Linear(head[-1], classes)
        self.embedding = embedding
        self.widths = list(head)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.backbone(x)
        projected = self.head(pooled)
        return self.classifier(projected), projected if self.embedding == "head" else pooled

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) uint8 or [0, 1] float images as the backbone's input."""
        return self.backbone.normalise(images)

    def layer_name(self, name: str) -> str:
        """The full module name of the backbone's layer `name` (`conv1`, `conv_stem`), for Grad-CAM hooks."""
        target = self.backbone.layer(name)
        return next(full for full, module in self.named_modules() if module is target)


def build_network(
    name: str,
    weights: str,
    head: Sequence[int] | str,
    classes: int,
    embedding: str = "head",
    weights_dir: Path | None = None,
) -> CutPasteNet:
    """The network on the CPU; `head` "auto" = the thesis's [backbone dim, 512 x 6, 128] (512 first for ResNet-18,
    2048 for ResNet-50)."""
    backbone = build_backbone(name, weights, weights_dir)
    widths = [backbone.dim, *[512] * 6, 128] if head == "auto" else list(head)
    if widths[0] != backbone.dim:
        raise ValueError(
            f"cutpaste.head starts with {widths[0]}, but backbone {name} gives {backbone.dim}-d pooled features: "
            f"make the first width {backbone.dim} (or head: auto)"
        )
    return CutPasteNet(backbone, widths, classes, embedding)
