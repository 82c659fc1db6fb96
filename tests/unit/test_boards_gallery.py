"""The boards gallery: the figure of two tiny boards is written, not blank, and as large as its boards say; the
crops are of the kinds' largest instances; the datasets it shows come from the config."""

import dataclasses

import cv2
import numpy as np

from defectlab.classes import class_index
from defectlab.report.boards_gallery import BOARD_SIZE, CROP_HEIGHT, DPI, Board, boards_gallery_figure, kind_crops
from defectlab.synth.boards import KINDS, gallery_datasets, make, plan_board

TINY = {
    "width": [320, 352],
    "height": [384, 400],
    "stickers": {"width": [40, 80], "height": [30, 120]},
    "frame": {"ramp": [8, 16]},
}


def tiny_boards():
    anomalous = plan_board("kb", {**TINY, "category": "edges", "anomalies": {"min": 5, "max": 6}}, 7, 0)
    normal = dataclasses.replace(anomalous, anomalies=())
    return [(f"{s.category}: {s.id}", s, make(s)) for s in (normal, anomalous)]


def test_the_gallery_of_two_tiny_boards_is_written_with_the_size_its_boards_give(tmp_path):
    boards = [Board(title, p.image, p.mask, p.instances, p.exclusion) for title, _, p in tiny_boards()]
    crops = kind_crops((b.image, b.mask, b.instances) for b in boards)
    assert crops and set(crops) <= set(KINDS)
    sizes = []
    for attempt in range(2):
        path = tmp_path / f"gallery-{attempt}.png"
        boards_gallery_figure(boards, crops).savefig(path, format="png")
        picture = cv2.imread(str(path))
        assert path.stat().st_size > 20_000 and picture.std() > 10  # drawn, not blank
        sizes.append(picture.shape)
    width = max(BOARD_SIZE[0] * 2, 1.6 * len(KINDS))
    assert sizes[0] == sizes[1] == (round((BOARD_SIZE[1] + CROP_HEIGHT + 0.6) * DPI), round(width * DPI), 3)


def test_each_crop_holds_the_largest_instance_of_its_kind():
    _, sample, picture = tiny_boards()[1]
    crops = kind_crops([(picture.image, picture.mask, picture.instances)])
    assert set(crops) == {a.kind for a in sample.anomalies}
    for kind, (image, mask) in crops.items():
        largest = max(
            int((picture.instances == i).sum()) for i in np.unique(picture.instances[picture.mask == class_index(kind)])
        )
        assert image.shape[:2] == mask.shape and mask.sum() >= largest


def test_the_gallery_shows_per_category_the_first_anomalous_and_normal_boards_datasets():
    datasets = {
        "plates": {"split": "test", "count": 2},
        "w-train": {"generator": "boards", "split": "train", "count": 2},
        "w-test": {"generator": "boards", "split": "test", "count": 2, "anomalies": {"min": 1, "max": 2}},
        "w-val": {"generator": "boards", "split": "val", "count": 2, "anomalies": {"min": 1, "max": 2}},
        "e-test": {"generator": "boards", "category": "edges", "split": "test", "count": 1, "anomalies": {"max": 1}},
        "e-train": {"generator": "boards", "category": "edges", "split": "train", "count": 1, "source": {"entry": "x"}},
    }
    assert gallery_datasets(datasets) == {
        "white": {"anomalous": "w-test", "normal": "w-train"},
        "edges": {"anomalous": "e-test", "normal": None},  # a real dataset (source) is not a generated one
    }
    assert gallery_datasets({"w-train": datasets["w-train"], "plates": datasets["plates"]}) == {}
