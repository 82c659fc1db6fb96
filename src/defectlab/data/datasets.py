"""torch Datasets over the image layout and over HDF5 patch stores, for the models that train on them.

Both hand out uint8 tensors exactly as the reference readers give them (`load_sample`,
`iter_patches`), channels first; normalisation belongs to the backbone (`Backbone.normalise`).
Random crops are seeded per (seed, epoch, index), so an epoch's items are the same whatever the
number of DataLoader workers or the order they take items in.
"""

import bisect
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from defectlab.data.layout import check_files, listed, load_sample
from defectlab.hdf5 import open_h5
from defectlab.seeds import derive_seed

# (image (3, H, W) uint8, mask (H, W) uint8) -> (image, mask), after the crop
SampleTransform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class ImageDataset(Dataset):
    """Items (image (3, H, W) uint8, class mask (H, W) uint8, id) of a dataset in the common layout.

    Images may differ in size (batch them with a crop or a transform that resizes). With `crop`, each
    item is a `crop` x `crop` window at `crop_corner(..., seed, epoch, index)`; call `set_epoch` before
    each epoch to draw new windows (DataLoader workers take the dataset as it is when iteration starts,
    unless `persistent_workers`).
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        transform: SampleTransform | None = None,
        crop: int | None = None,
        seed: int = 0,
    ) -> None:
        self.root = Path(root)
        index = check_files(self.root)
        if split is not None:
            splits = sorted(index["split"].astype(str).unique())
            index = index[index["split"] == split]
            if index.empty:
                raise ValueError(f"{self.root / 'index.parquet'}: no image of split {split!r} (it has {splits})")
        if crop is not None and crop < 1:
            raise ValueError(f"crop must be >= 1, got {crop}")
        self.ids = index["id"].astype(str).tolist()
        self.transform = transform
        self.crop = crop
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, str]:
        sample_id = self.ids[index]
        sample = load_sample(self.root, sample_id)
        image, mask = sample.image, sample.mask
        if self.crop is not None:
            height, width = mask.shape
            if height < self.crop or width < self.crop:
                raise ValueError(
                    f"{self.root}/{sample_id}: image {height}x{width} is smaller than the crop {self.crop}"
                )
            y, x = crop_corner(height, width, self.crop, self.seed, self.epoch, index)
            image, mask = image[y : y + self.crop, x : x + self.crop], mask[y : y + self.crop, x : x + self.crop]
        image = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        mask = torch.from_numpy(np.ascontiguousarray(mask))
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask, sample_id


def crop_corner(height: int, width: int, size: int, seed: int, epoch: int, index: int) -> tuple[int, int]:
    """(y, x) top-left corner of item `index`'s `size` window in epoch `epoch`, uniform over the image."""
    rng = np.random.default_rng(derive_seed(seed, "crop", epoch, index))
    return int(rng.integers(height - size + 1)), int(rng.integers(width - size + 1))


class PatchDataset(Dataset):
    """Items (patch (3, P, P) uint8, source image id, x, y) of patch stores, concatenated in order.

    HDF5 handles are opened on first use in each process (h5py handles must not cross a fork) and
    never pickled, so the dataset goes to DataLoader workers under fork or spawn alike.
    """

    def __init__(self, stores: Sequence[str | Path]) -> None:
        self.stores = [Path(s) for s in stores]
        sizes = []
        for store in self.stores:
            with open_h5(store) as h5:
                sizes.append(len(h5["patches"]))
        self.offsets = np.cumsum([0, *sizes]).tolist()
        self._files: dict[int, h5py.File] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, int, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"patch {index} of {len(self)} in {listed(map(str, self.stores))}")
        index %= len(self)
        k = bisect.bisect_right(self.offsets, index) - 1
        row = index - self.offsets[k]
        h5 = self._file(k)
        patch, (image, x, y) = h5["patches"][row], h5["source"][row]
        image = image.decode() if isinstance(image, bytes) else image
        return torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))), image, int(x), int(y)

    def _file(self, k: int) -> h5py.File:
        if self._pid != os.getpid():  # a forked worker: the parent's handles are not ours to use
            self._files, self._pid = {}, os.getpid()
        if k not in self._files:
            self._files[k] = open_h5(self.stores[k])
        return self._files[k]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_files": {}}
