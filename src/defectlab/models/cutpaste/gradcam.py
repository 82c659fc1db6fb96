"""Grad-CAM (Selvaraju et al., ICCV 2017) on a named layer, with hooks only (no captum, no pytorch-grad-cam).

The thesis (§5.4.5) takes the layer `encoder.conv1` (the ResNet stem, 64 × 112 × 112 for a 224 input). For
images x (B, 3, H, W), the target class c and the layer's activations A (B, K, h, w):

    α_k = mean over (i, j) of ∂y_c / ∂A_k[i, j],   CAM = ReLU(Σ_k α_k A_k),

then bilinear upsampling to (H, W), optional Gaussian smoothing (σ in pixels) and optional min-max
normalisation of each map to [0, 1].

Mechanics: a forward hook on the module captures A; ∂y_c/∂A comes from `torch.autograd.grad` on that
captured tensor (the job of a backward hook, but parameter `.grad` is never written, so the model's gradients
stay as they were). The hook hands the next layer a clone of A, so in-place ops downstream (ReLU(inplace=True))
cannot corrupt it. Afterwards the hook is removed and every submodule's train/eval mode restored.

Spec §5.6 decisions kept here: target c = 1 (anomaly) by default, `"predicted"` for the argmax (LilitYolyan);
bilinear with `align_corners=True` (LilitYolyan); the layer is a name. Per spec, tiles of a board should be
stitched from *raw* maps (`normalise=False`) and normalised per board image afterwards (`minmax`), because a
per-tile min-max erases the between-tile differences the thesis observes (Fig. 6.9c).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from defectlab.smoothing import smooth_maps


def find_module(model: nn.Module, name: str) -> nn.Module:
    """The submodule called `name` (as in `model.named_modules()`, e.g. "conv1" or "encoder.conv1")."""
    modules = dict(model.named_modules())
    if name not in modules:
        shown = [n for n in modules if n][:20]
        raise ValueError(f"model has no module {name!r}; some names: {shown}")
    return modules[name]


def minmax(maps: torch.Tensor) -> torch.Tensor:
    """Each (H, W) map of a (B, H, W) stack scaled to [0, 1]; a constant map becomes 0. NaNs are ignored
    (they stay NaN), so excluded pixels of a stitched board map may be NaN."""
    flat = maps.reshape(maps.shape[0], -1)
    lo = torch.nan_to_num(flat, nan=float("inf")).amin(dim=1).view(-1, 1, 1)
    hi = torch.nan_to_num(flat, nan=float("-inf")).amax(dim=1).view(-1, 1, 1)
    span = hi - lo
    safe = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, (maps - lo) / safe, torch.zeros_like(maps))


def gaussian_smooth(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, H, W) maps blurred with a Gaussian of standard deviation `sigma` pixels, the rule of every model's maps
    (`defectlab.smoothing`: 4 σ truncation, reflect border)."""
    if sigma <= 0:
        return maps
    return torch.from_numpy(smooth_maps(maps.detach().to("cpu", torch.float32).numpy(), sigma)).to(maps.device)


def _logits(output: object, logits_index: int) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Sequence):
        return output[logits_index]
    raise TypeError(f"model output must be a tensor or a tuple of tensors, got {type(output).__name__}")


def _targets(target: int | str | Sequence[int] | torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    b, n_classes = logits.shape
    if isinstance(target, str):
        if target != "predicted":
            raise ValueError(f"target must be a class index, a sequence of them or 'predicted', got {target!r}")
        return logits.detach().argmax(dim=1)
    t = torch.as_tensor(target, dtype=torch.long, device=logits.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(b)
    if t.numel() != b:
        raise ValueError(f"{t.numel()} targets for a batch of {b}")
    if (t < 0).any() or (t >= n_classes).any():
        raise ValueError(f"target classes must lie in [0, {n_classes}), got {t.tolist()}")
    return t


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    layer: str = "conv1",
    target: int | str | Sequence[int] | torch.Tensor = 1,
    *,
    normalise: bool = True,
    sigma: float = 0.0,
    align_corners: bool = True,
    logits_index: int = 0,
    eval_mode: bool = True,
) -> torch.Tensor:
    """(B, H, W) float32 Grad-CAM maps of `images` (B, C, H, W) for class `target` at module `layer`.

    target: a class index for all images (default 1, the anomaly class), one per image, or "predicted"
    (argmax of the logits). normalise: min-max each map to [0, 1] (after smoothing); False keeps raw values for
    stitching. sigma: Gaussian smoothing in input pixels, 0 = none. logits_index: which element of a tuple
    output holds the logits (CutPaste models return (logits, embeddings)). eval_mode: run with the model in
    eval mode (BatchNorm statistics frozen, so each image's map is independent of the batch); the model's modes
    are restored afterwards either way.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    module = find_module(model, layer)
    captured: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: tuple, output: object) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer {layer!r} must output a tensor, got {type(output).__name__}")
        act = output if output.requires_grad else output.detach().requires_grad_(True)
        captured["A"] = act
        return act.clone()  # downstream in-place ops act on the clone, not on A

    modes = {m: m.training for m in model.modules()}
    handle = module.register_forward_hook(hook)
    try:
        if eval_mode:
            model.eval()
        with torch.enable_grad():
            logits = _logits(model(images), logits_index)
            if logits.ndim != 2:
                raise ValueError(f"logits must be (B, classes), got shape {tuple(logits.shape)}")
            if "A" not in captured:
                raise RuntimeError(f"layer {layer!r} was not called in the forward pass")
            act = captured["A"]
            if act.ndim != 4:
                raise ValueError(f"layer {layer!r} output must be (B, K, h, w), got shape {tuple(act.shape)}")
            t = _targets(target, logits)
            score = logits.gather(1, t.view(-1, 1)).sum()  # images are independent, so one backward serves all
            (grads,) = torch.autograd.grad(score, act)
        with torch.no_grad():
            alpha = grads.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((alpha * act).sum(dim=1, keepdim=True))
            cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=align_corners)
            maps = gaussian_smooth(cam[:, 0].float(), sigma)
            if normalise:
                maps = minmax(maps)
    finally:
        handle.remove()
        for m, training in modes.items():
            m.training = training
        captured.clear()
    return maps.detach()
