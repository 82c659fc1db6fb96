"""Batched `SequentialCoreset.update` against feeding the same stream one row at a time, side by side.

Both must end with the same coreset (checked); the ratio of their wall times is what batching buys.
The stream imitates patch features: clustered vectors of the default backbone's width (152).

    .venv/bin/python benchmarks/coreset_update.py [--rows 20000] [--size 512] [--epochs 2]
"""

import argparse
import platform
import time

import torch

from defectlab.patchcore import SequentialCoreset


def feature_like_stream(rows: int, dim: int, seed: int) -> torch.Tensor:
    """Gaussian clusters of unequal spread, like patch features of a mostly uniform surface."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(64, dim, generator=generator) * 4
    labels = torch.randint(0, 64, (rows,), generator=generator)
    spread = torch.rand(64, 1, generator=generator) + 0.2
    return (centres[labels] + torch.randn(rows, dim, generator=generator) * spread[labels]).float()


def run(stream: torch.Tensor, size: int, epochs: int, batch: int) -> tuple[SequentialCoreset, list[int], float]:
    coreset = SequentialCoreset(size)
    replacements = []
    start = time.perf_counter()
    for _ in range(epochs):
        replacements.append(sum(coreset.update(stream[i : i + batch]) for i in range(0, len(stream), batch)))
    return coreset, replacements, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--dim", type=int, default=152)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4096)
    args = parser.parse_args()
    stream = feature_like_stream(args.rows, args.dim, seed=0)
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"stream {args.rows} x {args.dim}, coreset M={args.size}, {args.epochs} epochs")

    batched, replaced_batched, t_batched = run(stream, args.size, args.epochs, args.batch)
    single, replaced_single, t_single = run(stream, args.size, args.epochs, 1)
    assert torch.equal(batched.features, single.features) and torch.equal(batched.origin, single.origin)
    assert replaced_batched == replaced_single

    rows = args.rows * args.epochs
    print(f"replacements per epoch: {replaced_batched}, final d_m {batched.min_distance:.4f} (identical coresets)")
    print(f"{'one row at a time':<22}{t_single:9.2f} s {rows / t_single:12.0f} rows/s")
    print(f"{f'batches of {args.batch}':<22}{t_batched:9.2f} s {rows / t_batched:12.0f} rows/s")
    print(f"speed-up of batching: {t_single / t_batched:.1f}x")


if __name__ == "__main__":
    main()
