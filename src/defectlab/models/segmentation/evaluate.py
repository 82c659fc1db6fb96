"""A trained network's maps of whole images at the paper's evaluation geometry (§5.1): the image at the working
scale, padded to a multiple of `pad_multiple`, cut into `tile`-sized tiles, each predicted on its own, stitched,
the padding cut; and the validation F1 that picks a grid point.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from defectlab.metrics.pixel import precision_recall_f1
from defectlab.metrics.thresholds import best_f1_threshold
from defectlab.models.segmentation.cache import Cache
from defectlab.models.segmentation.inputs import eval_input
from defectlab.models.segmentation.networks import logits
from defectlab.models.segmentation.tiling import predict_tiled


def logit_map(
    model: torch.nn.Module, grey: np.ndarray, settings: Mapping[str, Any], device: torch.device
) -> torch.Tensor:
    """(H, W) logits on the CPU of one grey image (uint8, at the working scale); call with the model in eval mode
    and gradients off."""
    x = torch.from_numpy(eval_input(grey, settings["exposure_stack"])).to(device)
    tile = tuple(settings["tile"])
    multiple = settings["pad_multiple"]
    multiple = tuple(multiple) if isinstance(multiple, list) else multiple
    return predict_tiled(lambda tiles: logits(model, tiles), x, tile, multiple).cpu()


@torch.no_grad()
def probability_maps(model: torch.nn.Module, greys: Sequence[np.ndarray], settings: Mapping[str, Any]) -> list:
    """The sigmoid of each image's logit map, float32 (H, W) arrays."""
    device = next(model.parameters()).device
    model.eval()
    return [torch.sigmoid(logit_map(model, grey, settings, device)).numpy() for grey in greys]


def validation_f1(model: torch.nn.Module, val: Cache, settings: Mapping[str, Any]) -> dict[str, float]:
    """F1 (with its precision and recall) at the F1-maximising threshold over every pixel of the val images, pooled:
    what the grid search maximises (§5.1). 0 when the val images hold no defect pixel."""
    maps = probability_maps(model, val.greys, settings)
    scores = np.concatenate([m.ravel() for m in maps])
    labels = np.concatenate([t.ravel() for t in val.targets]).astype(bool)
    if not labels.any():
        return {"threshold": float("nan"), "precision": 0.0, "recall": 0.0, "f1": 0.0}
    threshold = best_f1_threshold(scores, labels)
    precision, recall, f1 = precision_recall_f1(scores >= threshold, labels)
    return {"threshold": threshold, "precision": precision, "recall": recall, "f1": f1}
