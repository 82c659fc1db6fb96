"""The real kitchen boards in the layout the thesis describes: category folders with anomaly-free/ and with anomaly/,
JPG images, `*groundtruth.png` masks, one JSON of borders and labels keyed by image file name."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import check_options, kitchen_boards
from defectlab.data.exclusions import Exclusion, read_exclusions
from defectlab.data.layout import check_dataset, load_sample
from defectlab.data.patch_store import PatchGrid, write_patch_store
from defectlab.data.registry import load_registry

from .builders import boxes, colour, save

H, W = 40, 48  # not square
# the ground truth of white's test board: a defect and a one-pixel blob of value 1 (the thesis counts any pixel > 0)
WHITE_TRUTH = boxes((slice(5, 12), slice(6, 14)), h=H, w=W)
WHITE_TRUTH[30, 40] = 1
EDGES_TRUTH = boxes((slice(20, 26), slice(30, 44)), (slice(2, 4), slice(2, 4)), h=H, w=W)
JSON = {
    "231117_0302_1.jpg": {"labels": [[20, 20, 10, 8]], "borders": [[2, 1, 44, 38]]},
    "231117_0001_1.jpg": {"labels": [], "borders": [[0, 0, 48, 40]]},
    "231117_0303_1.jpg": {"labels": [], "borders": [[1, 1, 40, 30]]},  # a board without ground truth: left out
    "231117_0569.jpg": {"labels": [[0, 0, 5, 5], [30, 2, 8, 8]], "borders": [[4, 4, 40, 32]]},
    "231117_0999_1.jpg": {"borders": [[0, 0, 4000, 4000]]},  # a board not in the copy (outside these images)
}


def build(root: Path, json_data: dict | None = None) -> Path:
    """Two categories; the JSON at the top, for both."""
    white = root / "white"
    save(white / "anomaly-free/231117_0001_1.jpg", colour(200, 190, 180, H, W))
    save(white / "anomaly-free/231117_0002_1.jpg", colour(190, 180, 170, H, W))
    save(white / "with anomaly/231117_0302_1.jpg", colour(100, 150, 210, H, W))
    save(white / "with anomaly/231117_0302_1_groundtruth.png", WHITE_TRUTH)
    save(white / "with anomaly/231117_0303_1.jpg", colour(110, 160, 220, H, W))  # anomalous, not annotated
    edges = root / "white_with_edges"
    save(edges / "anomaly_free/images/231117_0401_1.jpg", colour(210, 200, 190, H, W))
    save(edges / "with_anomaly/images/231117_0569.jpg", colour(60, 70, 80, H, W))
    save(edges / "with_anomaly/ground_truth/231117_0569groundtruth.png", EDGES_TRUTH)  # no separator
    (root / "borders.json").write_text(json.dumps(JSON if json_data is None else json_data, indent=4))
    return root


def test_index_masks_and_images_of_both_categories(tmp_path: Path, out: Path):
    index = kitchen_boards.convert(build(tmp_path / "kb"), out).set_index("id")
    assert sorted(index.index) == [
        "white-test-231117_0302_1",
        "white-train-231117_0001_1",
        "white-train-231117_0002_1",
        "white_with_edges-test-231117_0569",
        "white_with_edges-train-231117_0401_1",
    ]
    assert index["split"].to_dict() == {i: i.split("-")[1] for i in index.index}
    assert index["object"].to_dict() == {i: i.split("-")[0] for i in index.index}
    assert index["label"].to_dict() == {i: "anomalous" if "-test-" in i else "normal" for i in index.index}
    assert index.loc["white-test-231117_0302_1", "source"] == "white/with anomaly/231117_0302_1.jpg"
    assert index.loc["white_with_edges-test-231117_0569", "n_instances"] == 2
    assert index.loc["white-test-231117_0302_1", "n_instances"] == 2  # the value-1 pixel is an anomaly too
    assert (index.loc[index["split"] == "train", "n_instances"] == 0).all()
    white = load_sample(out, "white-test-231117_0302_1")
    assert np.abs(white.image.astype(int) - [210, 150, 100]).max() <= 2  # RGB of the BGR planted, JPEG
    np.testing.assert_array_equal(white.mask, (WHITE_TRUTH > 0) * class_index("other_defect"))
    edges = load_sample(out, "white_with_edges-test-231117_0569")
    np.testing.assert_array_equal(edges.mask, (EDGES_TRUTH > 0) * class_index("other_defect"))
    assert not load_sample(out, "white-train-231117_0001_1").mask.any()
    check_dataset(out)


def test_exclusions_are_rekeyed_by_the_converted_file_and_checked(tmp_path: Path, out: Path):
    index = kitchen_boards.convert(build(tmp_path / "kb"), out)
    data = json.loads((out / "exclusions.json").read_text())
    assert data == {
        "white-test-231117_0302_1.png": {"labels": [[20, 20, 10, 8]], "borders": [[2, 1, 44, 38]]},
        "white-train-231117_0001_1.png": {"labels": [], "borders": [[0, 0, 48, 40]]},
        "white_with_edges-test-231117_0569.png": {"labels": [[0, 0, 5, 5], [30, 2, 8, 8]], "borders": [[4, 4, 40, 32]]},
    }
    # the evaluation's reader: every box inside its converted image, and every test image with its entry
    exclusions = read_exclusions(out / "exclusions.json", {f"{i}.png": (W, H) for i in index["id"]}, required=False)
    assert {f"{i}.png" for i in index.loc[index["split"] == "test", "id"]} <= set(exclusions)
    assert exclusions["white-test-231117_0302_1.png"] == Exclusion(borders=((2, 1, 44, 38),), labels=((20, 20, 10, 8),))


def test_one_category_with_the_json_at_the_top_or_its_own(tmp_path: Path, out: Path):
    root = build(tmp_path / "kb")
    index = kitchen_boards.convert(root / "white_with_edges", out)
    assert sorted(index["id"]) == ["white_with_edges-test-231117_0569", "white_with_edges-train-231117_0401_1"]
    assert index.set_index("id").loc["white_with_edges-test-231117_0569", "source"] == (
        "white_with_edges/with_anomaly/images/231117_0569.jpg"
    )
    assert list(json.loads((out / "exclusions.json").read_text())) == ["white_with_edges-test-231117_0569.png"]
    own = {"231117_0569.jpg": {"labels": [], "borders": [[0, 0, 10, 10]]}}
    (root / "white_with_edges/borders.json").write_text(json.dumps(own))  # the category's own comes first
    kitchen_boards.convert(root / "white_with_edges", tmp_path / "own")
    assert json.loads((tmp_path / "own/exclusions.json").read_text()) == {
        "white_with_edges-test-231117_0569.png": {"labels": [], "borders": [[0, 0, 10, 10]]}
    }


def test_a_test_image_without_a_json_entry_is_refused_naming_it(tmp_path: Path, out: Path):
    json_data = {k: v for k, v in JSON.items() if k != "231117_0569.jpg"}
    root = build(tmp_path / "kb", json_data)
    with pytest.raises(ValueError) as caught:
        kitchen_boards.convert(root, out)
    message = str(caught.value)
    assert f"{root / 'borders.json'}: no entry for test image(s) [" in message
    assert "with_anomaly/images/231117_0569.jpg]" in message and "e.g. '231117_0569.jpg'" in message
    assert not (out / "index.parquet").exists() and not (out / "images").exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"borders": [[40, 0, 10, 10]]},
            r"231117_0302_1.jpg: borders\[0\]: \[40, 0, 10, 10\] reaches outside the image",
        ),
        ({"borders": [[0, 0, 10, 10]], "stickers": []}, r"231117_0302_1.jpg: unknown key\(s\) \['stickers'\]"),
        ({"labels": [[1, 1, 2, 2]]}, r"231117_0302_1.jpg: no 'borders'"),
        ({"borders": [[0, 0, 10.5, 10]]}, r"231117_0302_1.jpg: borders\[0\]: expected \[x, y, width, height\] as"),
    ],
)
def test_bad_json_entries_are_refused_before_any_file_is_written(tmp_path: Path, out: Path, entry, message):
    root = build(tmp_path / "kb", {**JSON, "231117_0302_1.jpg": entry})
    with pytest.raises(ValueError, match=f"{root / 'borders.json'}: {message}"):
        kitchen_boards.convert(root, out)
    assert not out.exists()


def test_anomalous_boards_without_ground_truth_are_left_out_or_refused(tmp_path: Path, out: Path, capsys):
    root = build(tmp_path / "kb")
    kitchen_boards.convert(root, out)
    assert "white: 1 board(s) with anomalies have no ground truth and are left out: [231117_0303_1.jpg]" in (
        capsys.readouterr().out
    )
    with pytest.raises(FileNotFoundError, match=r"no ground truth for test image .*231117_0303_1.jpg"):
        kitchen_boards.convert(root, tmp_path / "strict", without_ground_truth="error")


def test_ambiguous_or_orphaned_ground_truth_is_refused(tmp_path: Path, out: Path):
    root = build(tmp_path / "kb")
    save(root / "white/with anomaly/231117_0302_1groundtruth.png", WHITE_TRUTH)
    with pytest.raises(ValueError, match="231117_0302_1.jpg: several ground-truth files"):
        kitchen_boards.convert(root, out)
    (root / "white/with anomaly/231117_0302_1groundtruth.png").unlink()
    save(root / "white_with_edges/with_anomaly/ground_truth/231117_0570groundtruth.png", EDGES_TRUTH)
    with pytest.raises(ValueError, match=r"ground truth without its test image .*231117_0570groundtruth.png"):
        kitchen_boards.convert(root, out)


def test_several_json_files_need_the_option_naming_one(tmp_path: Path, out: Path):
    root = build(tmp_path / "kb")
    (root / "notes.json").write_text("{}")
    with pytest.raises(ValueError, match="several JSON files in .*: borders.json, notes.json; name the one"):
        kitchen_boards.convert(root, out)
    index = kitchen_boards.convert(root, out, exclusions="borders.json", splits={"val_fraction": 0.5})
    assert index["split"].value_counts().to_dict() == {"train": 3, "val": 2}  # one test board per category: val
    assert pd.read_parquet(out / "index.parquet").equals(index)


# boards of different sizes, (height, width) and BGR colour; White's largest width and height are not one image's
MIXED = {
    "white/anomaly-free/231117_0001_1.jpg": ((40, 48), (200, 190, 180)),
    "white/anomaly-free/231117_0002_1.jpg": ((46, 44), (190, 180, 170)),
    "white/with anomaly/231117_0302_1.jpg": ((42, 50), (100, 150, 210)),
    "white_with_edges/anomaly-free/231117_0401_1.jpg": ((36, 40), (210, 200, 190)),
    "white_with_edges/with anomaly/231117_0569.jpg": ((38, 42), (60, 70, 80)),
}
MIXED_TRUTH = {  # each at its image's size
    "white/with anomaly/231117_0302_1_groundtruth.png": boxes((slice(30, 42), slice(40, 50)), h=42, w=50),
    "white_with_edges/with anomaly/231117_0569_groundtruth.png": boxes((slice(0, 5), slice(37, 42)), h=38, w=42),
}
MIXED_JSON = {  # the borders reach the original images' right and bottom edges
    "231117_0302_1.jpg": {"labels": [[40, 32, 10, 10]], "borders": [[0, 0, 50, 42]]},
    "231117_0569.jpg": {"labels": [], "borders": [[2, 0, 40, 38]]},
}
CANVAS = {"white": (46, 50), "white_with_edges": (38, 42)}  # (height, width): the category's largest


def build_mixed(root: Path, json_data: dict | None = None) -> Path:
    for name, ((h, w), bgr) in MIXED.items():
        save(root / name, colour(*bgr, h, w))
    for name, truth in MIXED_TRUTH.items():
        save(root / name, truth)
    (root / "borders.json").write_text(json.dumps(MIXED_JSON if json_data is None else json_data))
    return root


def test_boards_of_mixed_sizes_are_padded_black_to_their_category_s_largest(tmp_path: Path, out: Path, capsys):
    index = kitchen_boards.convert(build_mixed(tmp_path / "kb"), out).set_index("id")
    assert "white: 3 of 3 images padded (right and bottom, black) to 50 x 46" in capsys.readouterr().out
    check_dataset(out)
    for name, ((h, w), bgr) in MIXED.items():
        category, split_folder, stem = name.split("/")[0], name.split("/")[1], Path(name).stem
        image_id = f"{category}-{'train' if split_folder == 'anomaly-free' else 'test'}-{stem}"
        assert tuple(index.loc[image_id, ["original_width", "original_height"]]) == (w, h)
        sample = load_sample(out, image_id)
        assert sample.image.shape == (*CANVAS[category], 3)  # one size per category, all splits
        assert np.abs(sample.image[:h, :w].astype(int) - bgr[::-1]).max() <= 2  # the board, unmoved
        for array in (sample.image, sample.mask, sample.instances):
            assert not array[h:].any() and not array[:, w:].any()  # padded with 0: black, background, no instance
        truth = MIXED_TRUTH.get(name.replace(".jpg", "_groundtruth.png"))
        if truth is not None:
            np.testing.assert_array_equal(sample.mask[:h, :w], (truth > 0) * class_index("other_defect"))
            assert index.loc[image_id, "n_instances"] == 1 and sample.instances.max() == 1
    # the rectangles are the JSON's, inside the original image and so inside the padded one
    data = json.loads((out / "exclusions.json").read_text())
    assert data == {
        "white-test-231117_0302_1.png": MIXED_JSON["231117_0302_1.jpg"],
        "white_with_edges-test-231117_0569.png": MIXED_JSON["231117_0569.jpg"],
    }
    padded = {f"{i}.png": CANVAS[i.split("-")[0]][::-1] for i in index.index}
    exclusions = read_exclusions(out / "exclusions.json", padded, required=False)
    assert exclusions["white-test-231117_0302_1.png"] == Exclusion(
        borders=((0, 0, 50, 42),), labels=((40, 32, 10, 10),)
    )
    # the patch stores take each category's images, of one size now
    white = sorted(i for i in index.index if i.startswith("white-"))
    assert write_patch_store(tmp_path / "white.h5", out, white, PatchGrid(16, 8), 31) > 0


def test_rectangles_are_checked_against_the_original_size_not_the_padded_one(tmp_path: Path, out: Path):
    wide = {**MIXED_JSON, "231117_0302_1.jpg": {"labels": [], "borders": [[0, 0, 50, 44]]}}  # 42 rows high
    root = build_mixed(tmp_path / "kb", wide)
    with pytest.raises(
        ValueError, match=r"231117_0302_1.jpg: borders\[0\]: \[0, 0, 50, 44\] reaches outside the image"
    ):
        kitchen_boards.convert(root, out)
    assert not out.exists()


def test_without_padding_every_board_keeps_its_size_and_the_patch_store_refuses_them(tmp_path: Path, out: Path):
    index = kitchen_boards.convert(build_mixed(tmp_path / "kb"), out, pad=False).set_index("id")
    check_dataset(out)
    for image_id in index.index:
        shape = load_sample(out, image_id).image.shape
        assert (shape[1], shape[0]) == tuple(index.loc[image_id, ["original_width", "original_height"]])
    assert load_sample(out, "white-train-231117_0002_1").image.shape == (46, 44, 3)
    data = json.loads((out / "exclusions.json").read_text())
    assert data["white_with_edges-test-231117_0569.png"] == MIXED_JSON["231117_0569.jpg"]
    white = sorted(i for i in index.index if i.startswith("white-"))
    with pytest.raises(ValueError, match=r"white-train-231117_0001_1: shape \(40, 48, 3\) differs from \(42, 50, 3\)"):
        write_patch_store(tmp_path / "white.h5", out, white, PatchGrid(16, 8), 31)


def test_boards_of_one_size_are_left_as_they_are(tmp_path: Path, out: Path, capsys):
    index = kitchen_boards.convert(build(tmp_path / "kb"), out)
    assert "padded" not in capsys.readouterr().out
    assert (index["original_width"] == W).all() and (index["original_height"] == H).all()
    assert {load_sample(out, i).image.shape for i in index["id"]} == {(H, W, 3)}


def test_the_registry_entry_is_manual_and_its_options_are_checked():
    registry = load_registry()
    entry = registry["kitchen_boards"]
    assert entry.manual and entry.converter == "kitchen_boards" and entry.licence.redistribution == "no"
    check_options(
        {"kitchen_boards": {"without_ground_truth": "error", "exclusions": "borders.json", "pad": False}}, registry
    )
    with pytest.raises(ValueError, match="sources.kitchen_boards.pad: 'no' is not of type 'boolean'"):
        check_options({"kitchen_boards": {"pad": "no"}}, registry)
    with pytest.raises(ValueError, match="sources.kitchen_boards.without_ground_truth: 'drop' is not one of"):
        check_options({"kitchen_boards": {"without_ground_truth": "drop"}}, registry)
