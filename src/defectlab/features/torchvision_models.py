"""torchvision classifiers behind the part of timm's interface the extractor and the backbones use.

A backbone named `torchvision:<model>` (e.g. `torchvision:mobilenet_v3_large`, `torchvision:resnet18`)
is torchvision's `<model>`, always built with `weights=None`: nothing is downloaded. Its weights
enum (`torchvision.models.get_model_weights`) is read for metadata only: the registry file name
(the last component of the weights URL, e.g. `resnet18-f37072fd.pth`, the name torch hub and the
`weights` download rule give it) and the input statistics of its `transforms()`.

Feature levels are found, not listed per model: the stages (children of `features` where the model
has that nn.Sequential, else its top-level children) are run once on the meta device on a 256 x 384
input; in call order, every stage output that is an NCHW map of an exact reduction r (256 / h = 384 / w)
extends the list, the last stage of each r being that level, until the first output that is not
(global pool, flatten, a channels-last map). For ResNets this gives timm's levels (relu, layer1..4),
for MobileNetV3-Large features.1, .3, .6, .12 and .16 (16, 24, 40, 112, 960 channels).
Level maps are read with forward hooks on the model's own forward, stopped after the deepest level
asked for: values are those of the model itself, and every named module stays hookable (Grad-CAM).
"""

import functools

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum, get_model, get_model_weights, list_models

PREFIX = "torchvision:"
_PROBE = (256, 384)


class _Enough(Exception):
    """Raised by the hook of the deepest level asked for, so deeper stages are not run."""


def is_torchvision(name: str) -> bool:
    return name.startswith(PREFIX)


def model_name(name: str) -> str:
    """torchvision's name of the backbone `name` (`torchvision:resnet18` -> `resnet18`); unknown ones refused."""
    model = name.removeprefix(PREFIX)
    if model not in list_models(module=torchvision.models):
        raise ValueError(f"unknown backbone {name!r} (not a torchvision classification model)")
    return model


def registry_weights(name: str, tag: str | None = None) -> WeightsEnum:
    """The weights enum member `tag` (e.g. IMAGENET1K_V1) of the model, torchvision's DEFAULT when None."""
    enum = get_model_weights(model_name(name))
    if tag is None:
        return enum.DEFAULT
    try:
        return enum[tag]
    except KeyError:
        raise ValueError(f"{name!r} has no weights {tag!r} (torchvision has: {', '.join(enum.__members__)})") from None


def registry_file(name: str, tag: str | None = None) -> str:
    """The weights file name torchvision downloads for `tag`, e.g. `mobilenet_v3_large-5c1a4163.pth`."""
    return registry_weights(name, tag).url.rsplit("/", 1)[-1]


def statistics(name: str, tag: str | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel, in [0, 1] units, that the weights `tag` were trained with."""
    transform = registry_weights(name, tag).transforms()
    return tuple(transform.mean), tuple(transform.std)


class TorchvisionModel(nn.Module):
    """A torchvision classifier with timm's `feature_info`, `pretrained_cfg`, `forward_intermediates`,
    `prune_intermediate_layers` and `reset_classifier`, so both kinds go through the same code; `pre_logits`
    stands for timm's `forward_head(forward_features(x), pre_logits=True)`."""

    def __init__(self, name: str, model: nn.Module, tag: str | None = None) -> None:
        super().__init__()
        self.model = model
        stages, info = feature_levels(name)
        self.stages = list(stages)
        self.feature_info = [dict(level) for level in info]
        mean, std = statistics(name, tag)
        self.pretrained_cfg = {"mean": mean, "std": std}
        self.head_name, classifier = _classifier(model)
        self.num_features = classifier.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def forward_intermediates(
        self, x: torch.Tensor, indices: list[int], intermediates_only: bool = True
    ) -> list[torch.Tensor]:
        """The maps of the feature levels `indices`, in that order; the model stops after the deepest."""
        if not intermediates_only:
            raise ValueError("torchvision backbones give intermediates only")
        names = [self.feature_info[i]["module"] for i in indices]
        deepest = self.feature_info[max(indices)]["module"]
        maps: dict[str, torch.Tensor] = {}

        def keep(name: str):
            def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
                maps[name] = output
                if name == deepest:
                    raise _Enough

            return hook

        handles = [self.model.get_submodule(n).register_forward_hook(keep(n)) for n in set(names)]
        try:
            self.model(x)
        except _Enough:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return [maps[n] for n in names]

    def prune_intermediate_layers(self, indices: list[int], prune_head: bool = True) -> None:
        """Free the stages after the deepest level in `indices` (never run: see `forward_intermediates`)."""
        if prune_head:
            self.reset_classifier(0)
        deepest = self.stages.index(self.feature_info[max(indices)]["module"])
        for stage in self.stages[deepest + 1 :]:
            self.model.set_submodule(stage, nn.Identity())

    def reset_classifier(self, num_classes: int = 0) -> None:
        """Drop the last linear layer, so the model gives its pre-logits vector (`num_classes` 0), or put a new
        linear layer of `num_classes` outputs in its place (fine-tuning a classifier, as timm's does)."""
        if num_classes:
            self.model.set_submodule(self.head_name, nn.Linear(self.num_features, num_classes))
            return
        name, _ = _classifier(self.model)
        self.model.set_submodule(name, nn.Identity())

    def pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_features): the input of the classifier layer (timm's `forward_head(..., pre_logits=True)`: the
        pooled vector, after VGG's fc7), whatever that layer is now; the model stops there."""
        seen: list[torch.Tensor] = []

        def hook(module: nn.Module, args: tuple) -> None:
            seen.append(args[0])
            raise _Enough

        handle = self.model.get_submodule(self.head_name).register_forward_pre_hook(hook)
        try:
            self.model(x)
        except _Enough:
            pass
        finally:
            handle.remove()
        return seen[0]


@functools.cache
def feature_levels(name: str) -> tuple[tuple[str, ...], tuple[dict, ...]]:
    """(stage names in call order, timm-style feature_info dicts) of the model, probed on the meta device
    (once per name: callers copy the dicts)."""
    with torch.device("meta"):
        model = get_model(model_name(name), weights=None).eval()
    stages = _stages(model)
    outputs: list[tuple[str, object]] = []
    handles = [
        model.get_submodule(s).register_forward_hook(lambda m, a, out, s=s: outputs.append((s, out))) for s in stages
    ]
    with torch.no_grad():
        model(torch.empty(1, 3, *_PROBE, device="meta"))
    for handle in handles:
        handle.remove()
    levels: dict[int, dict] = {}
    for stage, out in outputs:
        reduction = _reduction(out)
        if reduction is None or (levels and reduction < max(levels)):
            break
        levels[reduction] = {"module": stage, "num_chs": out.shape[1], "reduction": reduction}
    if not levels:
        raise ValueError(f"backbone {name!r} has no stage that gives an NCHW feature map")
    return tuple(s for s, _ in outputs), tuple(levels.values())


def _stages(model: nn.Module) -> list[str]:
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential):
        return [f"features.{child}" for child, _ in features.named_children()]
    return [child for child, _ in model.named_children()]


def _reduction(output: object) -> int | None:
    """The exact reduction of an NCHW map of the probe input, None for anything else."""
    if not isinstance(output, torch.Tensor) or output.ndim != 4:
        return None
    (height, width), (h, w) = _PROBE, output.shape[-2:]
    if height % h or width % w or height // h != width // w:
        return None
    return height // h


def _classifier(model: nn.Module) -> tuple[str, nn.Linear]:
    """The last linear layer of the model: the one giving the class logits."""
    linear = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError(f"{type(model).__name__} has no linear classifier to drop")
    return linear[-1]
