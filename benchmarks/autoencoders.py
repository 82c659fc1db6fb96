"""Training throughput of CAE, VAE and AAE through `train_autoencoder` (the pipeline's loop) against a bare
forward + backward + Adam loop of the same networks on the same batches (the limit), in interleaved rounds.

The loop's side is the record's wall time (the steps and their checkpoints, no start-up, reading or final save);
the bare side times its steps alone. Printed: images/s of both, their ratio per round (target >= 0.9), ms per
step, and the AAE/CAE and VAE/CAE ratios of the loop's times (the paper's Table 1 has 5.7 and 1.0-1.02).

    .venv/bin/python benchmarks/autoencoders.py [--size 64] [--images 4] [--steps 20] [--rounds 5] [--threads N]
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from timing import Spread, divide, interleave, load

from defectlab.data.layout import write_png
from defectlab.models.autoencoders import MODELS, losses, train_autoencoder
from defectlab.models.autoencoders.images import WholeImages, read_training_images
from defectlab.models.autoencoders.settings import kl_weight, resolve
from defectlab.models.autoencoders.train import build_networks, build_optimizers

SEED = 0


def boards(root: Path, count: int, size: int) -> Path:
    """`count` chess boards of side `size` in the image layout."""
    import pandas as pd

    y, x = np.mgrid[:size, :size]
    for k in range(count):
        grey = ((((y + 3 * k) // 16 + (x + 3 * k) // 16) % 2) * 255).astype(np.uint8)
        write_png(root / "images" / f"b{k}.png", np.repeat(grey[..., None], 3, axis=2))
        write_png(root / "masks" / f"b{k}.png", np.zeros((size, size), np.uint8))
        write_png(root / "instances" / f"b{k}.png", np.zeros((size, size), np.uint16))
    ids = [f"b{k}" for k in range(count)]
    pd.DataFrame({"id": ids, "split": "train", "object": "chess", "view": 0, "light": "none", "seed": 0}).to_parquet(
        root / "index.parquet"
    )
    return root


def through_the_loop(model: str, dataset: Path, steps: int, work: Path) -> float:
    """The record's wall time of a fresh `train_autoencoder` run."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    settings = {"steps": steps, "checkpoint_every": steps}
    return train_autoencoder(model, settings, [dataset], work / "w.pt", SEED, "cpu")["wall_s"]


def bare(model: str, dataset: Path, steps: int) -> float:
    """Seconds of `steps` plain steps of the same networks, optimisers and batches, without the loop."""
    settings = resolve({})
    _, images = read_training_images([dataset], settings["channels"])
    settings |= {"model": model, "size": images[0].shape[-1]}
    torch.manual_seed(SEED)
    networks = build_networks(model, settings)
    optimizers = build_optimizers(model, networks, settings)
    ae, beta = networks["autoencoder"], kl_weight(settings, settings["size"])
    batch = WholeImages(images, settings["batch_size"], SEED)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x = batch(step)
        optimizers["autoencoder"].zero_grad()
        if model == "vae":
            mu, head = ae.encoder(x)
            loss = losses.reconstruction(x, ae.decoder(ae.sample(mu, ae.log_sigma(head))))
            loss = loss + beta * losses.kl_divergence(mu, ae.log_sigma(head))
        else:
            loss = losses.reconstruction(x, ae(x))
        loss.backward()
        optimizers["autoencoder"].step()
        if model == "aae":
            critic = networks["critic"]
            with torch.no_grad():
                code = ae.encoder(x)
            for _ in range(settings["n_critic"]):
                optimizers["critic"].zero_grad()
                losses.critic_loss(critic(torch.randn(code.shape)), critic(code)).backward()
                optimizers["critic"].step()
                losses.clip_(critic, settings["clip"])
            critic.requires_grad_(False)
            optimizers["generator"].zero_grad()
            losses.generator_loss(critic(ae.encoder(x))).backward()
            optimizers["generator"].step()
            critic.requires_grad_(True)
        loss.item()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="ae-bench-"))
    try:
        dataset = boards(root / "boards", args.images, args.size)
        contenders = {}
        for model in MODELS:
            contenders[f"loop {model}"] = lambda m=model: through_the_loop(m, dataset, args.steps, root / m)
            contenders[f"bare {model}"] = lambda m=model: bare(m, dataset, args.steps)
        print(
            f"{args.size}² x {args.images} images, batch 4, {args.steps} steps, {args.rounds} rounds, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}, {load()}"
        )
        rounds = interleave(contenders, args.rounds, warmup=True)
        seconds = rounds.values  # what each contender timed itself: the steps only
        images = args.steps * min(4, args.images)
        for model in MODELS:
            loop, limit = seconds[f"loop {model}"], seconds[f"bare {model}"]
            print(
                f"{model}: loop {Spread.of([images / s for s in loop]).text('.1f')} img/s, "
                f"bare {Spread.of([images / s for s in limit]).text('.1f')} img/s, "
                f"loop/bare throughput {Spread.of(divide(limit, loop)).text()}, "
                f"{Spread.of([1000 * s / args.steps for s in loop]).text('.0f')} ms/step"
            )
        for model in ("aae", "vae"):
            ratio = divide(seconds[f"loop {model}"], seconds["loop cae"])
            print(f"{model.upper()}/CAE training time: {Spread.of(ratio).text('.2f')}")
        print(load())
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
