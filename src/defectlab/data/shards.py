"""Shards: contiguous, near-equal blocks of a sorted list, the unit of work of one job."""

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def shard_slice(items: Sequence[T], shard: int, shards: int) -> list[T]:
    """The `shard`-th of `shards` contiguous blocks of `items` (sizes differ by at most one)."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} out of range for {shards} shards")
    n = len(items)
    return list(items[shard * n // shards : (shard + 1) * n // shards])
