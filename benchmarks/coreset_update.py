"""Batched `SequentialCoreset.update` against feeding the same stream one row at a time, in interleaved rounds.

Both must end with the same coreset (checked); the ratio of their wall times, taken per round, is
what batching buys. The stream imitates patch features: clustered vectors of the default
backbone's width (152). The float32 matrix product rate, timed in the same rounds, shows the
machine's state while they ran.

    .venv/bin/python benchmarks/coreset_update.py [--rows 20000] [--size 512] [--epochs 2] [--rounds 5] [--threads N]
"""

import argparse

import torch
from sgemm import machine, sgemm_limits
from timing import Spread, interleave

from defectlab.patchcore import SequentialCoreset


def feature_like_stream(rows: int, dim: int, seed: int) -> torch.Tensor:
    """Gaussian clusters of unequal spread, like patch features of a mostly uniform surface."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(64, dim, generator=generator) * 4
    labels = torch.randint(0, 64, (rows,), generator=generator)
    spread = torch.rand(64, 1, generator=generator) + 0.2
    return (centres[labels] + torch.randn(rows, dim, generator=generator) * spread[labels]).float()


def run(stream: torch.Tensor, size: int, epochs: int, batch: int) -> tuple[SequentialCoreset, list[int]]:
    """A fresh coreset fed `epochs` passes over `stream`, and its replacements per epoch."""
    coreset = SequentialCoreset(size)
    replacements = [
        sum(coreset.update(stream[i : i + batch]) for i in range(0, len(stream), batch)) for _ in range(epochs)
    ]
    return coreset, replacements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--dim", type=int, default=152)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stream = feature_like_stream(args.rows, args.dim, seed=0)
    print(machine())
    print(f"stream {args.rows} x {args.dim}, coreset M={args.size}, {args.epochs} epochs, {args.rounds} rounds")

    single, batched = "one row at a time", f"batches of {args.batch}"
    limits = sgemm_limits(10)
    contenders = {
        single: lambda: run(stream, args.size, args.epochs, 1),
        batched: lambda: run(stream, args.size, args.epochs, args.batch),
        **{name: work for name, (work, _) in limits.items()},
    }
    rounds = interleave(contenders, args.rounds, warmup=True)
    for (a, replaced_a), (b, replaced_b) in zip(rounds.values[single], rounds.values[batched], strict=True):
        assert torch.equal(a.features, b.features) and torch.equal(a.origin, b.origin)
        assert replaced_a == replaced_b

    coreset, replaced = rounds.values[batched][-1]
    rows = args.rows * args.epochs
    print(f"replacements per epoch: {replaced}, final d_m {coreset.min_distance:.4f} (identical coresets)")
    print("median (min-max) over the rounds:")
    for name in (single, batched):
        seconds = Spread.of(rounds.seconds[name])
        print(f"{name:<22}{seconds.text('.2f'):>22} s {rows / seconds.median:12.0f} rows/s")
    for name, (_, flops) in limits.items():
        print(f"{name:<26}{Spread.of(rounds.rate(name, flops / 1e9)).text('.1f'):>20} GFLOP/s")
    print(f"speed-up of batching, per round: {Spread.of(rounds.ratio(single, batched)).text('.2f')}x")


if __name__ == "__main__":
    main()
