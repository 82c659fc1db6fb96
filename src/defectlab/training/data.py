"""Batches as a function of the step number, so a resumed run is fed exactly the batches an uninterrupted run
would be, without replaying the data before the checkpoint.

Two kinds of source: a callable `batch(step)` (it derives its randomness from (seed, step), e.g. with
`step_generator`; if it also has `state_dict`/`load_state_dict`, its state travels in the checkpoint), or a torch
DataLoader over a map-style dataset, whose sampler is replaced by a `SeededBatchSampler` (epoch e shuffled by a
permutation drawn from (seed, e)). The loader's batch size, shuffle, drop_last, workers, collate_fn and pin_memory
are kept. Random draws inside the dataset's `__getitem__` should come from the sample index and a seed, not from a
worker's global generator: those worker generators start afresh in a resumed run.
"""

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, RandomSampler, Sampler, SequentialSampler

from defectlab.seeds import derive_seed


def step_generator(seed: int, step: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator for the random draws of one step (its batch, its augmentation): same (seed, step), same
    numbers, in whatever order or process steps run."""
    return torch.Generator(device).manual_seed(derive_seed(seed, "step", step))


class SeededBatchSampler(Sampler[list[int]]):
    """Index batches of steps `first`..`last` (numbered from 1) over a dataset of `size` samples.

    Step s falls in epoch (s - 1) // steps_per_epoch; with `shuffle`, an epoch's order is a permutation drawn
    from (seed, epoch), else the dataset order.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        first: int,
        last: int,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.first, self.last, self.shuffle = first, last, shuffle
        self.steps_per_epoch = size // batch_size if drop_last else math.ceil(size / batch_size)
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"a dataset of {size} samples gives no batch of {batch_size}"
                f"{' with drop_last' if drop_last else ''}: lower the batch size"
            )

    def order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
        return torch.randperm(self.size, generator=generator)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, order = None, None
        for step in range(self.first, self.last + 1):
            this_epoch, k = divmod(step - 1, self.steps_per_epoch)
            if this_epoch != epoch:
                epoch, order = this_epoch, self.order(this_epoch)
            yield order[k * self.batch_size : (k + 1) * self.batch_size].tolist()

    def __len__(self) -> int:
        return max(0, self.last - self.first + 1)


class BatchSource:
    """The batches of steps first..last, from a callable or a DataLoader (see the module docstring)."""

    def __init__(self, data: DataLoader | Callable[[int], Any], seed: int) -> None:
        self.data, self.seed = data, seed
        if isinstance(data, DataLoader):
            if isinstance(data.dataset, IterableDataset):
                raise TypeError(
                    "training data: a DataLoader over an IterableDataset cannot be resumed at a step; "
                    "use a map-style Dataset or a callable batch(step)"
                )
            if data.batch_size is None or not isinstance(data.sampler, RandomSampler | SequentialSampler):
                raise TypeError(
                    "training data: a DataLoader with its own sampler or batch_sampler cannot be resumed at a step; "
                    "give batch_size and shuffle only (the loop draws the order from the seed), or a callable"
                )
        elif not callable(data):
            raise TypeError(f"training data must be a torch DataLoader or a callable batch(step), got {type(data)}")

    def describe(self) -> dict[str, Any]:
        """What decides the batches, for the run's fingerprint."""
        data = self.data
        if isinstance(data, DataLoader):
            return {
                "dataset": type(data.dataset).__qualname__,
                "size": len(data.dataset),
                "batch_size": data.batch_size,
                "shuffle": isinstance(data.sampler, RandomSampler),
                "drop_last": data.drop_last,
            }
        return {"callable": getattr(data, "__qualname__", type(data).__qualname__)}

    def steps_per_epoch(self) -> int | None:
        """Steps of one pass over a DataLoader's dataset (None for a callable)."""
        if not isinstance(self.data, DataLoader):
            return None
        return self.sampler(1, 1).steps_per_epoch

    def sampler(self, first: int, last: int) -> SeededBatchSampler:
        loader = self.data
        shuffle = isinstance(loader.sampler, RandomSampler)
        return SeededBatchSampler(
            len(loader.dataset), loader.batch_size, self.seed, first, last, shuffle, loader.drop_last
        )

    def batches(self, first: int, last: int) -> Iterator[Any]:
        """The batches of steps first..last, in order."""
        if not isinstance(self.data, DataLoader):
            for step in range(first, last + 1):
                yield self.data(step)
            return
        loader = self.data
        extra = {"prefetch_factor": loader.prefetch_factor} if loader.num_workers else {}
        rebuilt = DataLoader(
            loader.dataset,
            batch_sampler=self.sampler(first, last),
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
            timeout=loader.timeout,
            worker_init_fn=loader.worker_init_fn,
            multiprocessing_context=loader.multiprocessing_context,
            # An explicit generator: otherwise each new iterator draws the workers' base seed from the global
            # torch generator, and a resumed run would draw once more than an uninterrupted one.
            generator=torch.Generator().manual_seed(derive_seed(self.seed, "workers", first)),
            **extra,
        )
        yield from rebuilt

    def state_dict(self) -> dict[str, Any] | None:
        state_dict = getattr(self.data, "state_dict", None)
        return state_dict() if callable(state_dict) and not isinstance(self.data, DataLoader) else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.data.load_state_dict(state)


def to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """The batch with every tensor in it (also inside tuples, lists and dicts) on `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        return type(batch)({key: to_device(value, device, non_blocking) for key, value in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(value, device, non_blocking) for value in batch))
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(value, device, non_blocking) for value in batch)
    return batch
