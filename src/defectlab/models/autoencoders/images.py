"""Images for the autoencoders: read once into memory as float in [0, 1] (the Sigmoid's range), and the batches
of a step drawn from (seed, step), so a resumed run sees exactly the batches an uninterrupted one would.

Two ways to feed a network of input size s: `WholeImages` (every image is s × s; the paper's synthetic regime,
where 4 images and batch 4 give every image every step) and `RandomPatches` (s × s crops at uniform positions of
uniformly chosen images; the paper's industrial regime of random 128² patches).
"""

from collections.abc import Sequence
from pathlib import Path

import torch

from defectlab.data.datasets import ImageDataset
from defectlab.data.layout import listed
from defectlab.training import step_generator


def to_input(image: torch.Tensor, channels: int) -> torch.Tensor:
    """A layout image (3, H, W) uint8 as the network's input (n_c, H, W) float in [0, 1]: RGB, or for one channel
    the mean of the three (the grey value itself for the layout's grey images, stored as R = G = B)."""
    x = image.to(torch.float32)
    if channels == 1:
        x = x.mean(dim=0, keepdim=True)
    return x / 255.0


def read_images(dataset: str | Path, channels: int) -> tuple[list[str], list[torch.Tensor]]:
    """The ids (in the dataset's index order) and input tensors of every image of a dataset."""
    items = ImageDataset(dataset)
    images = [to_input(items[k][0], channels) for k in range(len(items))]
    return items.ids, images


def read_training_images(datasets: Sequence[str | Path], channels: int) -> tuple[list[str], list[torch.Tensor]]:
    """Every image of the training datasets, in order; ids are prefixed by their dataset's folder name."""
    if not datasets:
        raise ValueError("autoencoder: no training dataset given")
    ids, images = [], []
    for dataset in datasets:
        these, tensors = read_images(dataset, channels)
        ids += [f"{Path(dataset).name}/{i}" for i in these]
        images += tensors
    return ids, images


def common_size(images: Sequence[torch.Tensor]) -> int | None:
    """The side of the images when all are square and of one size, else None."""
    shapes = {tuple(x.shape[1:]) for x in images}
    if len(shapes) == 1:
        height, width = shapes.pop()
        if height == width:
            return height
    return None


def choose_sampling(sampling: str, images: Sequence[torch.Tensor], ids: Sequence[str], size: int) -> str:
    """ "whole" when every image is size × size (and sampling allows it), else "patches"; refuses images smaller
    than the network input, and "whole" for images of another size."""
    small = [i for i, x in zip(ids, images, strict=True) if min(x.shape[1:]) < size]
    if small:
        raise ValueError(f"autoencoder: training images {listed(small)} are smaller than the input size {size}")
    other = [i for i, x in zip(ids, images, strict=True) if tuple(x.shape[1:]) != (size, size)]
    if sampling == "whole" and other:
        raise ValueError(
            f"autoencoder.sampling is 'whole' but images {listed(other)} are not {size}x{size}: "
            f"set sampling to patches (random {size}x{size} crops) or the size to theirs"
        )
    if sampling == "auto":
        return "patches" if other else "whole"
    return sampling


def probe(images: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """The input whose reconstruction is followed over training: the centre size × size crop of the first
    training image (the whole image in the synthetic regime), as a batch of one."""
    image = images[0]
    height, width = image.shape[1:]
    y, x = (height - size) // 2, (width - size) // 2
    return image[None, :, y : y + size, x : x + size]


class WholeImages:
    """batch(step): all images when the batch holds them all (the paper's regime), else `batch_size` of them
    drawn without replacement from (seed, step)."""

    def __init__(self, images: Sequence[torch.Tensor], batch_size: int, seed: int) -> None:
        self.images = torch.stack(list(images))
        self.batch_size, self.seed = batch_size, seed

    def __call__(self, step: int) -> torch.Tensor:
        if self.batch_size >= len(self.images):
            return self.images
        order = torch.randperm(len(self.images), generator=step_generator(self.seed, step))
        return self.images[order[: self.batch_size]]


class RandomPatches:
    """batch(step): `batch_size` size × size crops, each of a uniformly drawn image at a uniform position,
    all drawn from (seed, step)."""

    def __init__(self, images: Sequence[torch.Tensor], size: int, batch_size: int, seed: int) -> None:
        self.images, self.size, self.batch_size, self.seed = list(images), size, batch_size, seed

    def __call__(self, step: int) -> torch.Tensor:
        generator = step_generator(self.seed, step)
        patches = []
        for _ in range(self.batch_size):
            image = self.images[int(torch.randint(len(self.images), (), generator=generator))]
            height, width = image.shape[1:]
            y = int(torch.randint(height - self.size + 1, (), generator=generator))
            x = int(torch.randint(width - self.size + 1, (), generator=generator))
            patches.append(image[:, y : y + self.size, x : x + self.size])
        return torch.stack(patches)
