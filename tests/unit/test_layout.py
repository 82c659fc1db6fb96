"""The dataset check: index and folders agree, ids are unique, masks hold class indices."""

import numpy as np
import pandas as pd
import pytest
from layout_files import write_dataset

from defectlab.data.layout import check_dataset, check_files, image_shape, listed, load_sample, write_png


def _images(count: int = 3) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    images = {}
    for i in range(count):
        mask = np.zeros((16, 24), np.uint8)
        mask[2:5, 3:9] = 1 + i
        images[f"p-{i}"] = (rng.integers(0, 255, (16, 24, 3), dtype=np.uint8), mask, (mask > 0).astype(np.uint16))
    return images


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "ds", _images(), "test")


def test_a_dataset_in_the_layout_passes(dataset):
    assert check_dataset(dataset)["id"].tolist() == ["p-0", "p-1", "p-2"]


def test_a_mask_of_0_and_255_is_refused_naming_the_file_and_values(dataset):
    write_png(dataset / "masks" / "p-1.png", np.where(load_sample(dataset, "p-0").mask > 0, 255, 0).astype(np.uint8))
    message = r"ds/masks/p-1.png holds values \[255\] that are not class indices \(0..15: background, scratch, dent"
    with pytest.raises(ValueError, match=message):
        check_dataset(dataset)
    with pytest.raises(ValueError, match=message):  # and wherever a sample is loaded
        load_sample(dataset, "p-1")


def test_a_16_bit_mask_is_checked_before_it_could_wrap_to_a_class(dataset):
    write_png(dataset / "masks" / "p-2.png", np.full((16, 24), 257, np.uint16))  # 257 % 256 = 1, a scratch
    with pytest.raises(ValueError, match=r"masks/p-2.png holds values \[257\]"):
        check_dataset(dataset)


def test_a_colour_mask_is_refused(dataset):
    write_png(dataset / "masks" / "p-0.png", np.zeros((16, 24, 3), np.uint8))
    with pytest.raises(ValueError, match=r"masks/p-0.png: a class mask has one channel, this one has shape"):
        check_dataset(dataset)


def test_an_index_missing_a_row_is_refused_naming_the_files(dataset):
    index = pd.read_parquet(dataset / "index.parquet")
    index[index["id"] != "p-1"].to_parquet(dataset / "index.parquet")
    with pytest.raises(ValueError, match=r"ds/index.parquet: no row for \[images/p-1.png\]"):
        check_dataset(dataset)


def test_a_row_whose_files_are_missing_is_refused_naming_the_ids_and_the_folder(dataset):
    (dataset / "instances" / "p-2.png").unlink()
    (dataset / "instances" / "p-0.png").unlink()
    with pytest.raises(ValueError, match=r"ds/instances: no PNG for ids \[p-0, p-2\] of .*ds/index.parquet"):
        check_files(dataset)


def test_repeated_ids_and_an_empty_index_are_refused(dataset):
    index = pd.read_parquet(dataset / "index.parquet")
    pd.concat([index, index.iloc[[2]]]).to_parquet(dataset / "index.parquet")
    with pytest.raises(ValueError, match=r"ds/index.parquet: ids \[p-2\] occur more than once"):
        check_dataset(dataset)
    index.iloc[:0].to_parquet(dataset / "index.parquet")
    with pytest.raises(ValueError, match=r"ds/index.parquet: the dataset has no image"):
        check_dataset(dataset)


def test_long_lists_are_shortened_in_messages():
    assert listed([1, 2]) == "[1, 2]"
    assert listed(range(9)) == "[0, 1, 2, 3, 4, ...] (9 in all)"


def test_the_image_shape_comes_from_the_png_header_and_a_non_png_is_refused(dataset):
    assert image_shape(dataset, "p-1") == load_sample(dataset, "p-1").mask.shape == (16, 24)
    (dataset / "masks" / "p-2.png").write_bytes(b"GIF89a" + bytes(30))
    with pytest.raises(ValueError, match="p-2.png: not a PNG file"):
        image_shape(dataset, "p-2")
