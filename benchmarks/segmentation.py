"""Training throughput of FCN, DeepLabV3 and U-Net through `train_segmentation` (the pipeline's loop, with its data
path: intensity-biased crops, augmentation, exposure stack drawn per step) against a bare forward + backward +
AdamW loop of the same network on the same batches prepared beforehand (the compute limit), in interleaved
rounds.

The loop's side is the record's wall time (steps, one validation on a single crop-sized image, the final weights and
AdamW moments written); the bare side times its steps alone. A run of 3x the steps gives the loop's cost per extra
step, with the run's fixed costs taken out: what a run of thousands of steps converges to. Printed: crops/s of
both, their ratios per round, whole run and per extra step (target >= 0.9: the data path must not be the
bottleneck), ms per step, and the process's peak resident memory after each network (the models run in order of
size, so each figure bounds that network's peak; on a GPU, the CUDA allocator's peak).

    .venv/bin/python benchmarks/segmentation.py [--crop 64] [--batch 4] [--steps 6] [--rounds 3] [--device cpu]
"""

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from timing import Spread, divide, interleave, load

from defectlab.classes import class_index
from defectlab.data.layout import write_png
from defectlab.models.segmentation.cache import read_cache, write_cache
from defectlab.models.segmentation.networks import build_network, logits
from defectlab.models.segmentation.settings import resolve
from defectlab.models.segmentation.train import CropBatches, concatenated, train_segmentation

SEED = 0
ORDER = ("unet", "fcn", "deeplabv3")  # by peak memory


def dataset(root: Path, count: int, height: int, width: int) -> Path:
    """`count` grey images, bright on the left half, a scratch on every other one, in the image layout."""
    rng = np.random.default_rng(SEED)
    ids = []
    for k in range(count):
        grey = rng.integers(0, 8, (height, width), dtype=np.uint8)
        grey[:, : width // 2] += 120
        mask = np.zeros((height, width), np.uint8)
        if k % 2:
            grey[height // 3 : height // 3 + 3, 10 : width // 2] = 240
            mask[height // 3 : height // 3 + 3, 10 : width // 2] = class_index("scratch")
        write_png(root / "images" / f"c{k}.png", np.repeat(grey[..., None], 3, axis=2))
        write_png(root / "masks" / f"c{k}.png", mask)
        write_png(root / "instances" / f"c{k}.png", (mask > 0).astype(np.uint16))
        ids.append(f"c{k}")
    pd.DataFrame({"id": ids, "split": "train", "object": "bench", "view": 0, "light": "ring", "seed": 0}).to_parquet(
        root / "index.parquet"
    )
    return root


def settings_for(args: argparse.Namespace, images: int) -> dict:
    epochs = max(1, args.steps * args.batch // images)
    return {
        "batch_size": args.batch,
        "crop": args.crop,
        "epochs": epochs,
        "scale": 1.0,
        "tile": [args.crop, args.crop],
        "pad_multiple": 32,
        "validate_every_epochs": epochs,
        "checkpoint_every": 10**6,
        "lr": 1e-3,
        "weight_decay": 1e-4,
    }


def through_the_loop(model: str, caches: dict[str, Path], settings: dict, work: Path, device: str) -> tuple:
    """(wall seconds, steps) of one run through `train_segmentation`."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    record = train_segmentation(
        model, settings, [caches["train"]], caches["val"], work / "w.pt", lr=1e-3, weight_decay=1e-4, seed=SEED,
        device=device, progress=False,
    )  # fmt: skip
    return record["wall_s"], record["steps_done"]


def bare(model: str, caches: dict[str, Path], settings: dict, device: str) -> float:
    """Seconds per step of plain steps of the same network and optimiser on the same (precomputed) batches."""
    resolved = resolve(settings)
    greys, targets = concatenated([read_cache(caches["train"])])
    source = CropBatches(greys, targets, resolved, SEED)
    steps = resolved["epochs"] * source.steps_per_epoch
    batches = [tuple(t.to(device) for t in source(step)) for step in range(1, steps + 1)]
    torch.manual_seed(SEED)
    network = build_network(model, 1).to(device).train()
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3, weight_decay=1e-4)
    start = time.perf_counter()
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(logits(network, x), y)
        loss.backward()
        optimizer.step()
        loss.item()
    return (time.perf_counter() - start) / steps


def peak_memory_mib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="seg-bench-"))
    try:
        side = 2 * args.crop
        caches = {}
        for name, count in (("train", args.images), ("val", 1)):
            write_cache(dataset(root / name, count, side if name == "train" else args.crop, side), root / f"{name}.h5")
            caches[name] = root / f"{name}.h5"
        settings = settings_for(args, args.images)
        longer = {**settings, "epochs": 3 * settings["epochs"], "validate_every_epochs": 3 * settings["epochs"]}
        print(
            f"crops {args.crop}² x batch {args.batch}, {args.images} images of {side}², about {args.steps} steps, "
            f"{args.rounds} rounds, {torch.get_num_threads()} threads, {args.device}, torch {torch.__version__}, "
            f"{load()}"
        )
        for model in ORDER:
            contenders = {
                "loop": lambda m=model: through_the_loop(m, caches, settings, root / m, args.device),
                "longer": lambda m=model: through_the_loop(m, caches, longer, root / m, args.device),
                "bare": lambda m=model: bare(m, caches, settings, args.device),
            }
            runs = interleave(contenders, args.rounds, warmup=True).values
            loop = [wall / steps for wall, steps in runs["loop"]]
            extra = [(w3 - w1) / (s3 - s1) for (w1, s1), (w3, s3) in zip(runs["loop"], runs["longer"], strict=True)]
            limit = runs["bare"]
            print(
                f"{model}: loop {Spread.of([args.batch / s for s in loop]).text('.2f')} crops/s, "
                f"bare {Spread.of([args.batch / s for s in limit]).text('.2f')} crops/s, "
                f"loop/bare throughput {Spread.of(divide(limit, loop)).text()}, "
                f"per extra step {Spread.of(divide(limit, extra)).text()}, "
                f"{Spread.of([1000 * s for s in loop]).text('.0f')} ms/step, "
                f"peak memory {peak_memory_mib(args.device):.0f} MiB"
            )
        print(load())
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
