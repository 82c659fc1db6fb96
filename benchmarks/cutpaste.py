"""CutPaste's throughput: training through `train_cutpaste` (the pipeline's loop) against a bare forward +
cross-entropy + backward + SGD loop of the same network on the same batches (the limit), and scoring through
`embed` + `GaussianDensity.score` against the bare forward, in interleaved rounds.

Training: the loop's side is the record's wall time (its steps, with their deterministic kernels; no start-up,
reading or saving), with early stopping off (`early_stopping: {enabled: false}`, so no validation runs) and
`checkpoint_every` = the steps (the one checkpoint, after the last step, falls outside the wall time), so both
sides do the same steps. The bare side times the steps alone, on batches `PairBatches` built beforehand:
normalise, forward, cross-entropy, backward, SGD step. The loop's steps also cut the patches and draw their
augmentations, real per-step work of the pipeline: the time `PairBatches(step)` takes alone is printed beside the
gap, so a reader sees where it goes. Printed: patches/s of both (normal patches and their augmented views), their
ratio per round (target >= 0.9), ms per step.

Scoring: patches/s of `embed` + `GaussianDensity.score` batch by batch, as `score_store` runs them (density
fitted beforehand, on the training patches), against `network(x)` under no_grad on the same pre-normalised
batches (ratio, target >= 0.9); `embed` alone is timed too, so the density's share of any gap shows. Grad-CAM at
conv1 (`grad_cam(..., normalise=False)`, as `maps: gradcam` scores) against a bare forward + backward of the same
batches, for information. Networks are randomly initialised (`weights: none`): the speed does not depend on them.

Before the rounds, every contender runs once untimed and short (2 steps, one scoring batch); the loop's and the
bare side's losses after those steps are printed: equal, so both sides train on the same batches. Each contender
waits SETTLE seconds, untimed, before it starts, so that no thread pool left spinning by the one before (OpenBLAS
after the density's solves) weighs on it; spinning within a contender is its own cost and stays. The boards are
grey 320 x 384 RGB chess boards with noise (mean grey about 140, far above the mean filter's 31); below 224-pixel
patches the arc scar's radius range (the thesis's 35-90 px, for 224-pixel patches) is scaled to the patch, since
`arc_scar` refuses arcs that do not fit. The loop's progress lines are silenced.

    .venv/bin/python benchmarks/cutpaste.py [--patch 64] [--stride 32] [--images 4] [--pairs 8] [--steps 6]
        [--rounds 3] [--score-patches 128] [--backbone resnet18] [--threads N]
"""

import argparse
import contextlib
import io
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from timing import Spread, divide, interleave, load

from defectlab.data.layout import write_png
from defectlab.models.cutpaste.augment import AugmentSettings
from defectlab.models.cutpaste.data import PairBatches, TrainingPatches
from defectlab.models.cutpaste.density import GaussianDensity
from defectlab.models.cutpaste.gradcam import grad_cam
from defectlab.models.cutpaste.predict import embed
from defectlab.models.cutpaste.settings import resolve
from defectlab.models.cutpaste.train import network_of, train_cutpaste
from defectlab.training import seed_everything

SEED = 0
HEIGHT, WIDTH = 320, 384
MIN_MEAN = 31.0  # the thesis's mean filter
THESIS_PATCH = 224
WARMUP = 2  # steps of the untimed warm-up
SETTLE = 0.25  # seconds of pause before each contender


def boards(root: Path, count: int) -> Path:
    """`count` noisy grey chess boards (HEIGHT x WIDTH, RGB, mean grey about 140) in the image layout."""
    import pandas as pd

    rng = np.random.default_rng(SEED)
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    for k in range(count):
        squares = (((y + 5 * k) // 24 + (x + 5 * k) // 24) % 2) * 60.0 + 110.0
        tint = np.array([1.0, 0.97, 0.94])  # a little colour, so the jitter's hue and saturation have work
        image = squares[..., None] * tint + rng.normal(0, 12, (HEIGHT, WIDTH, 3))
        write_png(root / "images" / f"b{k}.png", np.clip(image, 0, 255).astype(np.uint8))
        write_png(root / "masks" / f"b{k}.png", np.zeros((HEIGHT, WIDTH), np.uint8))
        write_png(root / "instances" / f"b{k}.png", np.zeros((HEIGHT, WIDTH), np.uint16))
    ids = [f"b{k}" for k in range(count)]
    pd.DataFrame({"id": ids, "split": "train", "object": "board", "view": 0, "light": "none", "seed": 0}).to_parquet(
        root / "index.parquet"
    )
    return root


def augment_for(patch: int) -> dict:
    """The thesis's augmentations, with the arc radius scaled to patches below 224 pixels."""
    if patch >= THESIS_PATCH:
        return {}
    low, high = AugmentSettings().arc_radius
    return {"arc_radius": [low * patch / THESIS_PATCH, high * patch / THESIS_PATCH]}


def settled(run: Callable[[], float]) -> Callable[[], float]:
    """`run` after an untimed pause of SETTLE seconds, so that a thread pool the previous contender left spinning
    (OpenBLAS after the density's solves) has gone to sleep."""

    def contender() -> float:
        time.sleep(SETTLE)
        return run()

    return contender


def through_the_loop(settings: dict, dataset: Path, patches: dict, work: Path) -> dict:
    """The record of a fresh `train_cutpaste` run (its progress lines silenced)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return train_cutpaste(settings, [dataset], patches, work / "w.pt", SEED)


def bare(settings: dict, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Seconds of plain steps of the same network and SGD on the pre-built `batches`, without the loop, and the
    last step's loss."""
    seed_everything(SEED)
    network = network_of(settings)
    optimizer = torch.optim.SGD(
        network.parameters(), lr=settings["lr"], momentum=settings["momentum"], weight_decay=settings["weight_decay"]
    )
    start = time.perf_counter()
    for images, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        logits, _ = network(network.normalise(images))
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        last = loss.item()
    return time.perf_counter() - start, last


def building(data: PairBatches, steps: int) -> float:
    """Seconds of `steps` batches built alone: cutting the patches and drawing their augmented views."""
    start = time.perf_counter()
    for step in range(1, steps + 1):
        data(step)
    return time.perf_counter() - start


def scoring(network, density: GaussianDensity, patches: np.ndarray, batch_size: int) -> float:
    """Seconds of `embed` + `GaussianDensity.score` of uint8 `patches`, batch by batch as `score_store` does."""
    start = time.perf_counter()
    for first in range(0, len(patches), batch_size):
        density.score(embed(network, patches[first : first + batch_size], batch_size))
    return time.perf_counter() - start


def embedding(network, patches: np.ndarray, batch_size: int) -> float:
    """Seconds of `embed` alone of the same batches, so the density's share of the scoring shows."""
    start = time.perf_counter()
    for first in range(0, len(patches), batch_size):
        embed(network, patches[first : first + batch_size], batch_size)
    return time.perf_counter() - start


def forward(network, xs: list[torch.Tensor]) -> float:
    """Seconds of the bare forward of the pre-normalised batches `xs`, under no_grad."""
    start = time.perf_counter()
    with torch.no_grad():
        for x in xs:
            network(x)
    return time.perf_counter() - start


def gradcam(network, xs: list[torch.Tensor], layer: str) -> float:
    """Seconds of the raw Grad-CAM maps of `xs` at `layer` for class 1."""
    start = time.perf_counter()
    for x in xs:
        grad_cam(network, x, layer, 1, normalise=False)
    return time.perf_counter() - start


def forward_backward(network, xs: list[torch.Tensor]) -> float:
    """Seconds of a bare forward + backward of class 1's logits of `xs` (eval mode, as Grad-CAM runs)."""
    start = time.perf_counter()
    for x in xs:
        network.zero_grad(set_to_none=True)
        network(x)[0][:, 1].sum().backward()
    network.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--stride", type=int, default=32)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--score-patches", type=int, default=128)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="cutpaste-bench-"))
    try:
        dataset = boards(root / "boards", args.images)
        settings = {
            "backbone": {"name": args.backbone, "weights": "none"},
            "batch_pairs": args.pairs,
            "steps": args.steps,
            "checkpoint_every": args.steps,
            "early_stopping": {"enabled": False},
            "augment": augment_for(args.patch),
            "device": "cpu",
        }
        patches = {"size": args.patch, "stride": args.stride, "edges": "flush", "min_mean_intensity": MIN_MEAN}
        resolved = resolve(settings)
        tiles = TrainingPatches([dataset], args.patch, args.stride, "flush", MIN_MEAN)
        rows = np.arange(len(tiles))  # no hold-out: early stopping is off
        augment = AugmentSettings.from_config(resolved["augment"])
        data = PairBatches(tiles, rows, args.pairs, resolved["variant"], augment, SEED)
        batches = [data(step) for step in range(1, args.steps + 1)]  # the loop's batches, built beforehand
        per_step = len(batches[0][1])

        seed_everything(SEED)
        network = network_of(resolved).eval()
        batch_size = resolved["batch_size"]
        density = GaussianDensity.from_config(resolved["density"]).fit(embed(network, tiles.cut(rows), batch_size))
        scored = tiles.cut(np.arange(args.score_patches) % len(tiles))
        xs = [
            network.normalise(torch.from_numpy(np.ascontiguousarray(scored[i : i + batch_size].transpose(0, 3, 1, 2))))
            for i in range(0, len(scored), batch_size)
        ]
        layer = network.layer_name(resolved["gradcam"]["layer"])

        # the rounds rotate this order, so each contender always follows the same one: the bare training and
        # scoring sides follow neither the scoring nor the loop's saves
        contenders = {
            "bare": lambda: bare(resolved, batches)[0],
            "loop": lambda: through_the_loop(settings, dataset, patches, root / "loop")["wall_s"],
            "batches": lambda: building(data, args.steps),
            "forward": lambda: forward(network, xs),
            "embed": lambda: embedding(network, scored, batch_size),
            "embed+score": lambda: scoring(network, density, scored, batch_size),
            "forward+backward": lambda: forward_backward(network, xs),
            "grad-cam": lambda: gradcam(network, xs, layer),
        }
        contenders = {name: settled(run) for name, run in contenders.items()}
        print(
            f"{args.backbone} (weights none), {args.patch}² patches at stride {args.stride} of {args.images} "
            f"{HEIGHT}x{WIDTH} boards ({len(tiles)} patches), {resolved['variant']}, {args.pairs} pairs = "
            f"{per_step} patches a step, {args.steps} steps, {args.score_patches} scored patches in batches of "
            f"{batch_size}, {args.rounds} rounds, {torch.get_num_threads()} threads, torch {torch.__version__}, "
            f"{load()}"
        )
        # the warm-up, untimed and short: the first WARMUP steps of both sides (the same batches, so the same
        # losses up to the loop's deterministic kernels) and one batch of each scoring contender
        warm = min(WARMUP, args.steps)
        record = through_the_loop({**settings, "steps": warm, "checkpoint_every": warm}, dataset, patches, root / "w")
        _, loss = bare(resolved, batches[:warm])
        building(data, warm)
        embedding(network, scored[:batch_size], batch_size)
        scoring(network, density, scored[:batch_size], batch_size)
        forward(network, xs[:1])
        gradcam(network, xs[:1], layer)
        forward_backward(network, xs[:1])
        print(f"warm-up, loss after {warm} steps: loop {record['final_losses']['loss']:.6f}, bare {loss:.6f}")
        rounds = interleave(contenders, args.rounds)
        seconds = rounds.values  # what each contender timed itself: the steps or the scoring only
        trained = args.steps * per_step
        loop, limit, built = seconds["loop"], seconds["bare"], seconds["batches"]
        training = Spread.of(divide(limit, loop))
        gap = Spread.of([1000 * (a - b) / args.steps for a, b in zip(loop, limit, strict=True)])
        build = Spread.of([1000 * s / args.steps for s in built])
        print(
            f"training: loop {Spread.of([trained / s for s in loop]).text('.1f')} patches/s, "
            f"bare {Spread.of([trained / s for s in limit]).text('.1f')} patches/s, "
            f"loop/bare throughput {training.text()}, "
            f"{Spread.of([1000 * s / args.steps for s in loop]).text('.0f')} ms/step "
            f"(bare {Spread.of([1000 * s / args.steps for s in limit]).text('.0f')})"
        )
        print(f"training gap: loop - bare {gap.text('.1f')} ms/step, of which building a batch {build.text('.1f')}")
        n = args.score_patches
        score = Spread.of(divide(seconds["forward"], seconds["embed+score"]))
        cam = Spread.of(divide(seconds["forward+backward"], seconds["grad-cam"]))
        print(
            f"scoring: embed+score {Spread.of([n / s for s in seconds['embed+score']]).text('.1f')} patches/s, "
            f"forward {Spread.of([n / s for s in seconds['forward']]).text('.1f')} patches/s, "
            f"ratio {score.text()}"
        )
        embed_gap = Spread.of(
            [1000 * (a - b) / n for a, b in zip(seconds["embed+score"], seconds["forward"], strict=True)]
        )
        density_gap = Spread.of(
            [1000 * (a - b) / n for a, b in zip(seconds["embed+score"], seconds["embed"], strict=True)]
        )
        print(
            f"scoring gap: embed+score - forward {embed_gap.text('.2f')} ms/patch, "
            f"of which the density (embed+score - embed alone) {density_gap.text('.2f')}"
        )
        print(
            f"grad-cam: {Spread.of([n / s for s in seconds['grad-cam']]).text('.1f')} patches/s, "
            f"forward+backward {Spread.of([n / s for s in seconds['forward+backward']]).text('.1f')} patches/s, "
            f"ratio {cam.text()}"
        )
        print()
        print(f"{'':<9} {'pipeline':>12} {'bare':>12}  {'ratio (min-max)':<21} target")
        for name, work, mine, theirs, ratio, target in (
            ("training", trained, loop, limit, training, ">= 0.9"),
            ("scoring", n, seconds["embed+score"], seconds["forward"], score, ">= 0.9"),
            ("grad-cam", n, seconds["grad-cam"], seconds["forward+backward"], cam, "info"),
        ):
            ours, bare_rate = (f"{Spread.of([work / s for s in t]).median:.1f} p/s" for t in (mine, theirs))
            print(f"{name:<9} {ours:>12} {bare_rate:>12}  {ratio.text():<21} {target}")
        print(
            f"(p/s: patches per second; building a batch takes {build.median:.1f} ms of a loop step's "
            f"{1000 * Spread.of(loop).median / args.steps:.0f} ms)"
        )
        print(load())
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
