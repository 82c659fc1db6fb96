"""Latent-space costs: (1) embedding throughput through `embed` against the bare backbone forward, in interleaved
rounds; (2) the time of each reduction and screen of the study at 10^3, 10^4 and 10^5 vectors.

(1) `embed` reads the PNG items of a dataset folder, resizes them (PIL bilinear, when the item size differs from the
input size), normalises them inside the network and runs its pre-logits forward in eval mode, no grad, deterministic
kernels, batch by batch. The bare side runs the backbone's pre-logits forward alone, under no_grad, on the same
batches read and normalised beforehand. Printed: images/s of both, their ratio per round (embed / bare throughput,
target >= 0.9: the data path must not be the bottleneck), and where a gap goes: the bare forward under the
deterministic kernels `embed` runs with (`inference_kernels`, a ratio of its own) and the time `load_images` alone
takes over the items; then the largest difference between the vectors of `embed` and of the bare forward (they must
agree).

(2) Seeded Gaussian blobs of `--dims` (1280, Lite0's width) dimensions, 4 blobs close enough to overlap (centres in
[-1, 1] per dimension, unit spread), as float32 like the embeddings; each step runs once per size, after a first
UMAP and PaCMAP fit on 500 vectors that pays the numba compilation (printed). Steps: ISOMAP, UMAP and PaCMAP through
`defectlab.latent.reduce.reduce` (library defaults, seeded), K-means (k = 4, 10 starts), DBSCAN (cosine, eps from
the k-distance quantile) and Isolation Forest (100 trees) through `defectlab.latent.screen`, and Table 1's 18
silhouette scores (`silhouette_table`, on the K-means labels). A step is skipped at a size, saying why, where its
cost rules it out: ISOMAP above 10^4 (its dense eigensolver is O(n^3) in time and its geodesic distances O(n^2) in
memory: 80 GB at 10^5; up to 10^4 it always runs), and any other step whose estimate from the previous size (that
time x the growth in n to the step's exponent: 2 for DBSCAN's and the silhouette's brute-force pairwise distances,
1 to 1.2 for the rest) exceeds `--budget` seconds. Each step starts after an untimed pause of SETTLE seconds.

    PYTHONPATH=src .venv/bin/python benchmarks/latent_space.py [--backbone tf_efficientnet_lite0] [--weights package]
        [--images 16] [--item-size 224] [--input-size 224] [--batch 8] [--rounds 3] [--sizes 1000 10000 100000]
        [--dims 1280] [--budget 300] [--steps isomap umap ...] [--no-embedding] [--threads N] [--device cpu]
"""

import argparse
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from sklearn.datasets import make_blobs
from timing import Spread, divide, interleave, load

from defectlab.features.torchvision_models import TorchvisionModel
from defectlab.latent.embedding import Network, build_network, embed, inference_kernels, load_images
from defectlab.latent.reduce import reduce
from defectlab.latent.screen import dbscan, isolation_forest, kmeans
from defectlab.metrics.clustering import silhouette_table

SEED = 0
ISOMAP_MAX = 10_000
WARM = 500  # vectors of the first UMAP and PaCMAP fits, which compile their numba code
SETTLE = 0.5  # seconds of pause before each step, so that no thread pool the one before left spinning weighs on it
STEPS = ("isomap", "umap", "pacmap", "kmeans", "dbscan", "isolation_forest", "silhouette")
# Growth of each step's time with n, for the estimate that decides whether the next size runs (ISOMAP: ISOMAP_MAX).
EXPONENTS = {
    "umap": 1.2,
    "pacmap": 1.2,
    "kmeans": 1.0,
    "dbscan": 2.0,
    "isolation_forest": 1.0,
    "silhouette": 2.0,
}


def items(root: Path, count: int, size: int) -> list[str]:
    """`count` smooth random RGB items of `size` pixels in the common layout."""
    rng = np.random.default_rng(SEED)
    (root / "images").mkdir(parents=True)
    ids = [f"item-{k:04d}" for k in range(count)]
    for item in ids:
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC).save(root / "images" / f"{item}.png")
    pd.DataFrame({"id": ids, "split": "train", "label": "scratch", "role": "curated"}).to_parquet(
        root / "index.parquet", index=False
    )
    return ids


def bare_forward(network: Network) -> Callable[[torch.Tensor], torch.Tensor]:
    """The backbone's pre-logits forward on normalised input, without `Network`'s normalisation."""
    model = network.model
    if isinstance(model, TorchvisionModel):
        return model.pre_logits
    return lambda x: model.forward_head(model.forward_features(x), pre_logits=True)


def embedding_throughput(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="latent-bench-"))
    try:
        ids = items(root, args.images, args.item_size)
        torch.manual_seed(SEED)
        network = build_network(args.backbone, args.weights).to(args.device).eval()
        chunks = [ids[k : k + args.batch] for k in range(0, len(ids), args.batch)]
        start = time.perf_counter()
        batches = [load_images(root, chunk, args.input_size) for chunk in chunks]
        reading = time.perf_counter() - start
        with torch.no_grad():
            inputs = [network.normalise(b.to(args.device)) for b in batches]
        forward = bare_forward(network)

        def bare() -> np.ndarray:
            with torch.no_grad():
                return np.concatenate([forward(x).float().cpu().numpy() for x in inputs])

        def bare_deterministic() -> np.ndarray:
            with inference_kernels(torch.device(args.device)):
                return bare()

        def through_embed() -> np.ndarray:
            return embed(network, root, ids, args.input_size, args.batch, args.device)

        contenders = {"embed": through_embed, "bare": bare, "deterministic": bare_deterministic}
        rounds = interleave(contenders, args.rounds, warmup=True)
        difference = max(
            float(np.abs(a - b).max()) for a, b in zip(rounds.values["embed"], rounds.values["bare"], strict=True)
        )
        n = len(ids)
        seconds = rounds.seconds
        kernels = Spread.of(divide(seconds["bare"], seconds["deterministic"])).text()
        print(
            f"embedding {args.backbone} ({args.weights}), {n} items of {args.item_size}² at {args.input_size}², "
            f"batch {args.batch}, {network.dim}-d: embed {Spread.of(rounds.rate('embed', n)).text('.1f')} images/s, "
            f"bare {Spread.of(rounds.rate('bare', n)).text('.1f')} images/s, "
            f"embed/bare throughput {Spread.of(divide(seconds['bare'], seconds['embed'])).text()}; "
            f"bare with deterministic kernels / bare {kernels}; "
            f"reading + resizing the items alone {reading:.2f} s ({n / reading:.0f} images/s); "
            f"largest difference of the vectors {difference:.2g}",
            flush=True,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def blobs(n: int, dims: int) -> np.ndarray:
    vectors, _ = make_blobs(n_samples=n, n_features=dims, centers=4, center_box=(-1, 1), random_state=SEED)
    return vectors.astype(np.float32)


def steps_of(vectors: np.ndarray) -> dict[str, Callable[[], object]]:
    labels: dict[str, np.ndarray] = {}

    def clustered() -> object:
        labels["kmeans"] = kmeans(vectors, 4, SEED).labels_
        return labels["kmeans"]

    return {
        "isomap": lambda: reduce("isomap", vectors, SEED),
        "umap": lambda: reduce("umap", vectors, SEED),
        "pacmap": lambda: reduce("pacmap", vectors, SEED),
        "kmeans": clustered,
        "dbscan": lambda: dbscan(vectors),
        "isolation_forest": lambda: isolation_forest(vectors, SEED),
        "silhouette": lambda: silhouette_table(vectors, labels.get("kmeans", kmeans(vectors, 4, SEED).labels_)),
    }


def skip_reason(step: str, n: int, previous: tuple[int, float] | None, budget: float) -> str | None:
    """Why `step` does not run at `n` vectors, or None."""
    if step == "isomap":
        if n <= ISOMAP_MAX:
            return None
        return (
            f"dense ISOMAP is O(n^3) in time and O(n^2) in memory ({8 * n * n / 1e9:.0f} GB of geodesic distances); "
            f"not run above {ISOMAP_MAX}"
        )
    if previous is None:
        return None
    size, seconds = previous
    estimate = seconds * (n / size) ** EXPONENTS[step]
    if estimate > budget:
        growth = f"{seconds:.1f} s at {size} x (n ratio)^{EXPONENTS[step]}"
        return f"estimated {estimate:.0f} s ({growth}) > budget {budget:g} s"
    return None


def analysis_times(args: argparse.Namespace) -> None:
    if not args.sizes:
        return
    warm = blobs(WARM, args.dims)
    for step in ("umap", "pacmap"):
        if step in args.steps:
            start = time.perf_counter()
            reduce(step, warm, SEED)
            seconds = time.perf_counter() - start
            print(f"{step}: first fit in the process ({WARM} vectors, numba compilation) {seconds:.1f} s", flush=True)
    previous: dict[str, tuple[int, float]] = {}
    for n in args.sizes:
        vectors = blobs(n, args.dims)
        print(f"{n} vectors of {args.dims} dims ({vectors.nbytes / 2**20:.0f} MiB float32), {load()}", flush=True)
        steps = steps_of(vectors)
        for step in args.steps:
            reason = skip_reason(step, n, previous.get(step), args.budget)
            if reason is not None:
                print(f"  {step}: skipped: {reason}", flush=True)
                continue
            time.sleep(SETTLE)
            start = time.perf_counter()
            steps[step]()
            seconds = time.perf_counter() - start
            previous[step] = (n, seconds)
            print(f"  {step}: {seconds:.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="tf_efficientnet_lite0")
    parser.add_argument("--weights", default="package")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--item-size", type=int, default=224)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000], help="none: no step")
    parser.add_argument("--dims", type=int, default=1280)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds a step's estimate may take at a size")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--no-embedding", action="store_true", help="time the reductions and screens only")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # ISOMAP's graph completion and SciPy's sparsity notes, once per fit
    logging.getLogger("defectlab.latent.reduce").setLevel(logging.ERROR)  # PaCMAP's "random state is set" per fit
    print(f"{torch.get_num_threads()} torch threads, {args.device}, torch {torch.__version__}, {load()}", flush=True)
    start = time.perf_counter()
    if not args.no_embedding:
        embedding_throughput(args)
    analysis_times(args)
    print(f"total {time.perf_counter() - start:.0f} s, {load()}")


if __name__ == "__main__":
    main()
