"""The machine's compute limit, measured with the contenders: float32 matrix products at torch's thread count.

On a shared machine the limit is not a constant: timed in the same interleaved rounds as the
contenders (benchmarks/timing.py), it says what the machine gave while they ran, and a
contender's rate divided by it, round by round, is the share of that limit it reaches.
"""

import platform
from collections.abc import Callable

import torch
from timing import load


def sgemm(m: int, k: int, n: int, repeats: int = 1) -> tuple[Callable[[], None], float]:
    """A contender multiplying float32 (m, k) by (k, n) `repeats` times, and the flops it does (2 m k n each)."""
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(m, k, generator=generator), torch.randn(k, n, generator=generator)
    out = torch.empty(m, n)

    def work() -> None:
        for _ in range(repeats):
            torch.mm(a, b, out=out)

    return work, 2.0 * m * k * n * repeats


def sgemm_limits(
    repeats: int, rows: int = 4096, dim: int = 152, points: int = 2048
) -> dict[str, tuple[Callable[[], None], float]]:
    """The two limits timed with the contenders: a product of the coreset workload's shape (by default
    4096 stream rows, D = 152, M = 2048 points) `repeats` times, and a square 2048^3 one, closest to the peak."""
    return {
        f"sgemm {rows}x{dim} @ {dim}x{points}": sgemm(rows, dim, points, repeats),
        "sgemm 2048^3": sgemm(2048, 2048, 2048, 2),
    }


def machine() -> str:
    """One line on what the numbers were measured on, the load included."""
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, {load()}"
