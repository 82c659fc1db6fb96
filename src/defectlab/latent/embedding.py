"""Latent vectors of defect items: the pooled penultimate vector of an ImageNet backbone (the paper's "penultimate
layer output which consists of 2048 nodes", spec §2.1), pretrained or fine-tuned, and the HDF5 file that keeps them.

- The network is the backbone's whole classifier (`create_backbone`: a timm name or `torchvision:<model>`, weights
  "package", "none", "registry[:tag]" or a state-dict file; nothing is downloaded). Its latent vector is what its
  classifier layer reads: timm's `forward_head(forward_features(x), pre_logits=True)`, torchvision's `pre_logits`
  (after VGG16's fc7). Widths: tf_efficientnet_lite0 1280, resnet50 2048, resnet34 512, mobilenetv2_100 and
  torchvision:mobilenet_v2 1280, vgg16 and torchvision:vgg16 4096.
- Inputs: each image resized directly to `input_size` (no crop) with PIL's bilinear filter, which is what the
  paper's torchvision `Resize((224, 224))` does to a PIL image, then normalised with the statistics its weights were
  trained with (`normalisation`: 0.5 / 0.5 for Lite0's TF weights, ImageNet's mean and std for ResNet, MobileNet, VGG).
- Extraction runs in eval mode (BatchNorm's running statistics), without gradient, augmentation or
  nondeterministic kernels, so a rerun gives the same vectors.
- A randomly initialised backbone (weights "none") says nothing about a pretrained latent space: its files carry
  `pretrained` False, and every table made from them must say so.
"""

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from PIL import Image
from torch import nn

from defectlab.data.layout import listed
from defectlab.features.backbones import create_backbone, normalisation
from defectlab.features.torchvision_models import TorchvisionModel
from defectlab.hdf5 import open_h5
from defectlab.runtime import atomic_output, resolve_device
from defectlab.training import load_weights
from defectlab.training.checkpoint import read_settings
from defectlab.training.seeding import deterministic

FORMAT = 1
REQUIRED_ATTRS = ("backbone", "weights", "pretrained")
Statistics = tuple[tuple[float, ...], tuple[float, ...]]


class Network(nn.Module):
    """A classifier of uint8 images (B, 3, H, W) that normalises them itself: `forward` gives the logits,
    `pre_logits` the (B, dim) latent vector. `attrs` says where it comes from (backbone, weights, pretrained,
    finetuned), for the files made with it."""

    def __init__(self, model: nn.Module, statistics: Statistics, attrs: Mapping[str, Any]) -> None:
        super().__init__()
        self.model = model
        self.dim = getattr(model, "head_hidden_size", None) or model.num_features  # timm's VGG: 512 maps, 4096 fc7
        self.statistics = statistics
        self.attrs = dict(attrs)
        mean, std = statistics
        self.register_buffer("mean", 255 * torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", 255 * torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        return (images.float() - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalise(images))

    def pre_logits(self, images: torch.Tensor) -> torch.Tensor:
        x = self.normalise(images)
        if isinstance(self.model, TorchvisionModel):
            return self.model.pre_logits(x)
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


def build_network(
    backbone: str, weights: str = "package", weights_dir: Path | None = None, classes: int | None = None
) -> Network:
    """The backbone's classifier on the CPU: its ImageNet head kept (only the head's input is read), or with
    `classes` a new linear layer of that many outputs in its place (timm's `reset_classifier`) to fine-tune."""
    model = create_backbone(backbone, weights, weights_dir)
    if classes is not None:
        model.reset_classifier(classes)
    attrs = {"backbone": backbone, "weights": str(weights), "pretrained": weights != "none", "finetuned": False}
    return Network(model, normalisation(backbone, weights), attrs)


def finetuned_network(path: str | Path, device: str = "auto") -> tuple[Network, dict[str, Any]]:
    """The fine-tuned classifier a `defectlab.latent.classifier.train_classifier` run wrote to `path` (eval mode, on
    `device`) and its settings. Built without reading any weights file: the trained weights replace them all."""
    settings = read_settings(path, "classes", "train_classifier")
    model = create_backbone(settings["backbone"], "none")
    model.reset_classifier(len(settings["classes"]))
    mean, std = settings["statistics"]
    attrs = {
        "backbone": settings["backbone"],
        "weights": settings["weights"],
        "pretrained": settings["pretrained"],
        "finetuned": True,
        "classifier": str(path),
    }
    network = Network(model, (tuple(mean), tuple(std)), attrs)
    load_weights(path, {"classifier": network}, resolve_device(device))
    return network, settings


def read_image(dataset: str | Path, item: str, size: int) -> np.ndarray:
    """(3, size, size) uint8: the item's RGB image resized directly (PIL bilinear; none when it has that size)."""
    path = Path(dataset) / "images" / f"{item}.png"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no image of item {item!r}")
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(rgb).transpose(2, 0, 1))


def load_images(dataset: str | Path, ids: Sequence[str], size: int) -> torch.Tensor:
    """(N, 3, size, size) uint8 images of the items `ids`, in that order."""
    if not len(ids):
        raise ValueError(f"{dataset}: no item ids given")
    return torch.from_numpy(np.stack([read_image(dataset, str(i), size) for i in ids]))


def item_batches(dataset: str | Path, ids: Sequence[str], size: int, batch_size: int) -> Iterator[torch.Tensor]:
    """The images of `ids` in batches of `batch_size`, read as they are needed."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for first in range(0, len(ids), batch_size):
        yield load_images(dataset, ids[first : first + batch_size], size)


@contextlib.contextmanager
def inference_kernels(device: torch.device) -> Iterator[None]:
    """The training loop's deterministic kernels, without filling new tensors with NaN first: a forward writes every
    element it reads, and the fill took 13 % of Lite0's throughput on the CPU (benchmarks/latent_space.py)."""
    before = torch.utils.deterministic.fill_uninitialized_memory
    with deterministic(device):
        torch.utils.deterministic.fill_uninitialized_memory = False
        try:
            yield
        finally:
            torch.utils.deterministic.fill_uninitialized_memory = before


def outputs(
    network: Network, batches: Iterable[torch.Tensor], device: str = "auto", logits: bool = False
) -> np.ndarray:
    """float32 latent vectors (N, dim), or logits (N, classes), of uint8 batches: the network in eval mode (it is
    left so), no gradient, `inference_kernels`."""
    chosen = torch.device(resolve_device(device))
    network.to(chosen).eval()
    out = []
    with inference_kernels(chosen), torch.no_grad():
        for batch in batches:
            x = batch.to(chosen)
            out.append((network(x) if logits else network.pre_logits(x)).float().cpu().numpy())
    if not out:
        raise ValueError("no images given")
    return np.concatenate(out)


def embed(
    network: Network,
    dataset: str | Path,
    ids: Sequence[str],
    input_size: int = 224,
    batch_size: int = 32,
    device: str = "auto",
) -> np.ndarray:
    """(N, dim) float32 latent vectors of the items `ids` of `dataset` ({dataset}/images/{id}.png), in that order."""
    return outputs(network, item_batches(dataset, list(ids), input_size, batch_size), device)


@dataclass(frozen=True)
class Embeddings:
    """The latent vectors of some items, and where they come from (backbone, weights, pretrained, ...)."""

    ids: list[str]
    vectors: np.ndarray  # (N, D) float32
    attrs: dict[str, Any]

    @property
    def pretrained(self) -> bool:
        return bool(self.attrs["pretrained"])


def write_embeddings(path: str | Path, ids: Sequence[str], vectors: np.ndarray, attrs: Mapping[str, Any]) -> None:
    """Write the vectors atomically: datasets `ids` and `vectors` (N, D) float32, and `attrs` as the file's attributes
    (str, int, float or bool each; `backbone`, `weights` and `pretrained`, a bool, are required)."""
    ids = [str(i) for i in ids]
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"{path}: vectors must be (N, D) for {len(ids)} ids, got {vectors.shape}")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"{path}: ids {listed(repeated)} occur more than once")
    if not np.isfinite(vectors).all():
        raise ValueError(f"{path}: refusing to write vectors with NaN or inf values")
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if missing:
        raise ValueError(f"{path}: attrs must name {', '.join(missing)}")
    if not isinstance(attrs["pretrained"], bool):
        raise ValueError(f"{path}: attrs['pretrained'] must be a bool, got {attrs['pretrained']!r}")
    bad = sorted(k for k, v in attrs.items() if not isinstance(v, str | int | float | bool) or k == "format")
    if bad:
        raise ValueError(f"{path}: attrs {', '.join(bad)} must be str, int, float or bool ('format' is reserved)")
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("ids", data=np.array(ids, dtype=h5py.string_dtype()), track_times=False)
        h5.create_dataset("vectors", data=vectors.astype(np.float32), track_times=False)
        h5.attrs.update({"format": FORMAT, **attrs})


def read_embeddings(path: str | Path) -> Embeddings:
    """The vectors, ids and attributes `write_embeddings` wrote; another file is refused, named."""
    with open_h5(path) as h5:
        if h5.attrs.get("format") != FORMAT or "vectors" not in h5 or "ids" not in h5:
            raise ValueError(f"{path}: not an embeddings file of format {FORMAT}; delete it and rerun the job")
        ids = [s.decode() if isinstance(s, bytes) else str(s) for s in h5["ids"][:]]
        vectors = h5["vectors"][:]
        attrs = {k: _python(v) for k, v in h5.attrs.items() if k != "format"}
    return Embeddings(ids=ids, vectors=vectors, attrs=attrs)


def _python(value: object) -> object:
    """An HDF5 attribute as the Python value it was written from (numpy scalars back to bool, int, float)."""
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value
