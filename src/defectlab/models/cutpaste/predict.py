"""CutPaste's scores: the density of normal training embeddings, and the maps of a patch store through the maps
contract (spec §5.5, §5.6).

- Density: embeddings (eval mode, no augmentation) of the normal training patches, a seeded sample of at most
  `density.max_samples`, L2-normalised if set; a Gaussian (mean, Ledoit-Wolf covariance), scored by Mahalanobis
  distance. `fit_on: normal+augmented` adds the embeddings of their augmented views (LilitYolyan's behaviour,
  an ablation).
- Patch scores: the density score of each stored patch's embedding; an image's score is the maximum over its
  patches (an image without a kept patch scores the lowest patch score).
- Maps, `maps: gde` (the thesis's GDE map): each patch's score painted over its footprint, overlaps averaged,
  Gaussian smoothing of `map_sigma` pixels. `maps: gradcam`: each patch's raw Grad-CAM at `gradcam.layer` for
  `gradcam.target`, stitched with overlaps averaged, smoothed, then min-max normalised per image (a per-patch
  normalisation would erase the differences between patches the thesis observes, spec §5.6).
Pixels under no kept patch (dark background) score 0, as in PatchCore's maps.
"""

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch

from defectlab.data.patch_store import iter_patches, store_attrs, store_images
from defectlab.models.cutpaste.augment import AugmentSettings, views
from defectlab.models.cutpaste.data import TrainingPatches
from defectlab.models.cutpaste.density import GaussianDensity, subsample_index
from defectlab.models.cutpaste.gradcam import grad_cam, minmax
from defectlab.models.cutpaste.model import CutPasteNet
from defectlab.models.cutpaste.train import network_of
from defectlab.patchcore.anomaly_map import MapAccumulator
from defectlab.runtime import atomic_output, resolve_device
from defectlab.seeds import derive_seed
from defectlab.training import checkpoint as files
from defectlab.training import load_weights


def stored_settings(weights: str | Path) -> dict[str, Any]:
    """The settings `train_cutpaste` stored with the weights."""
    return files.read_settings(weights, "head_widths", "train_cutpaste")


def load_network(weights: str | Path, device: str = "auto") -> tuple[CutPasteNet, dict[str, Any], dict]:
    """The trained network (eval mode, on `device`), its settings and the run's record. It is built without
    reading any weights file (the trained weights replace them all)."""
    settings = stored_settings(weights)
    network = network_of({**settings, "backbone": {**settings["backbone"], "weights": "none"}})
    record = load_weights(weights, {"cutpaste": network}, resolve_device(device))
    return network.eval(), settings, record


@torch.no_grad()
def embed(network: CutPasteNet, patches: np.ndarray, batch_size: int) -> np.ndarray:
    """(N, D) float64 embeddings of uint8 (N, P, P, 3) patches."""
    device = next(network.parameters()).device
    out = []
    for first in range(0, len(patches), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(patches[first : first + batch_size].transpose(0, 3, 1, 2)))
        out.append(network(network.normalise(x.to(device)))[1].double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, embedding_width(network)))


def embedding_width(network: CutPasteNet) -> int:
    """The width of the embeddings the density reads: the head's output or the backbone's pooled vector."""
    return network.widths[-1] if network.embedding == "head" else network.backbone.dim


def fit_density(
    weights: str | Path,
    datasets: list[str | Path],
    density: dict[str, Any],
    output: str | Path,
    batch_size: int = 64,
    device: str = "auto",
) -> GaussianDensity:
    """Fit the density on the embeddings of the training patches of `datasets` (the grid the weights were
    trained on) and save it to `output` (.npz)."""
    network, settings, record = load_network(weights, device)
    tiles = TrainingPatches(
        datasets, settings["patch_size"], settings["train_stride"], settings["edges"], settings["min_mean_intensity"]
    )
    options = GaussianDensity.from_config(density).config()
    rows = np.sort(subsample_index(len(tiles), options["max_samples"], options["seed"]))
    patches = tiles.cut(rows)
    embeddings, labels = embed(network, patches, batch_size), np.zeros(len(rows), np.int64)
    if options["fit_on"] == "normal+augmented":
        augment = AugmentSettings.from_config(settings["augment"])
        seed = derive_seed(record["seed"], "density views")
        images, view_labels, _ = views(patches, settings["variant"], seed, 0, augment)
        augmented = view_labels > 0
        embeddings = np.concatenate([embeddings, embed(network, images[augmented], batch_size)])
        labels = np.concatenate([labels, view_labels[augmented]])
    fitted = GaussianDensity(**{**options, "max_samples": None}).fit(embeddings, labels)
    with atomic_output(output) as path:
        fitted.save(path)
    print(f"density {options['density']} fitted on {fitted.n_fit_} embeddings of {len(tiles)} patches", flush=True)
    return fitted


def score_store(
    network: CutPasteNet,
    density: GaussianDensity,
    store: str | Path,
    maps: str,
    sigma: float,
    gradcam: dict[str, Any],
    batch_size: int,
) -> tuple[list[str], np.ndarray, pd.DataFrame, np.ndarray]:
    """Image ids of the store, their (N, H, W) maps, each stored patch's score (image, x, y, score) and its
    embedding (rows in the table's order)."""
    attrs = store_attrs(store)
    size = int(attrs["patch_size"])
    images = store_images(store)
    accumulator = MapAccumulator(images, int(attrs["image_height"]), int(attrs["image_width"]))
    layer = network.layer_name(gradcam["layer"]) if maps == "gradcam" else None
    rows, embeddings = [], []
    for batch in iter_patches(store, batch_size):
        vectors = embed(network, batch.patches, batch_size)
        scores = density.score(vectors)
        if layer is not None:
            x = torch.from_numpy(np.ascontiguousarray(batch.patches.transpose(0, 3, 1, 2)))
            x = network.normalise(x.to(next(network.parameters()).device))
            tiles = grad_cam(network, x, layer, gradcam["target"], normalise=False).cpu().numpy()
        else:
            tiles = scores.reshape(-1, 1, 1)
        for image, x0, y0, tile in zip(batch.images, batch.xs, batch.ys, tiles, strict=True):
            accumulator.add(image, int(x0), int(y0), tile, size)
        rows += zip(batch.images, map(int, batch.xs), map(int, batch.ys), map(float, scores), strict=True)
        embeddings.append(vectors.astype(np.float32))
        print(f"scored patches {batch.start}..{batch.start + len(vectors)}", flush=True)
    stitched = accumulator.maps(sigma)
    if maps == "gradcam":
        stitched = minmax(torch.from_numpy(stitched)).numpy()
    table = pd.DataFrame(rows, columns=["image", "x", "y", "score"])
    empty = np.zeros((0, embedding_width(network)), np.float32)
    return images, stitched, table, np.concatenate(embeddings) if embeddings else empty


def image_scores(images: list[str], table: pd.DataFrame) -> list[float]:
    """An image's score: the maximum of its patch scores (the lowest patch score where it has none)."""
    best = table.groupby("image")["score"].max()
    floor = float(table["score"].min()) if len(table) else 0.0
    return [float(best.get(image, floor)) for image in images]


def write_embeddings(path: str | Path, table: pd.DataFrame, embeddings: np.ndarray) -> None:
    """The test patches' embeddings (for the t-SNE figure): image, x, y and embedding (N, D) float32."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("image", data=np.array(list(table["image"]), dtype=h5py.string_dtype()), track_times=False)
        h5.create_dataset("x", data=table["x"].to_numpy(np.int64), track_times=False)
        h5.create_dataset("y", data=table["y"].to_numpy(np.int64), track_times=False)
        h5.create_dataset("embedding", data=embeddings.astype(np.float32), track_times=False)
