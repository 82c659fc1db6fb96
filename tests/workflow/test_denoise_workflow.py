"""A denoised twin through the workflow: rule `denoise` makes `results/datasets/<twin>` from the generated boards
(no Blender), with the source's masks, instances and exclusions.json and the parameters in the index."""

import copy
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml
from helpers import REPO, snakemake

SMALL = {
    "width": [320, 320],
    "height": [384, 384],
    "stickers": {"width": [30, 60], "height": [30, 80]},
    "frame": {"ramp": [8, 16]},
}
DENOISE = {"h": 7, "h_color": 9, "template": 5, "search": 15}
DATASETS = {
    "kb-test": {
        "generator": "boards",
        "split": "test",
        "count": 2,
        "anomalies": {"min": 1, "max": 2},
        **copy.deepcopy(SMALL),
    },
    "kb-test-dn": {"split": "test", "denoise_of": "kb-test", "denoise": dict(DENOISE)},
}


def test_a_denoised_twin_is_its_source_with_filtered_images(tmp_path: Path):
    extra = tmp_path / "denoise.yaml"
    extra.write_text(yaml.safe_dump({"datasets": DATASETS}))
    target = "results/datasets/kb-test-dn"
    args = ["--profile", str(REPO / "profiles/local"), "--cores", "2"]
    result = snakemake(tmp_path, target, *args, "--configfile", str(REPO / "config/tiny.yaml"), str(extra), timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    ran = re.findall(r"^(?:local)?rule (\w+):", result.stdout + result.stderr, flags=re.M)
    assert sorted(ran) == ["denoise", "generate"]  # the tiny config's plates are not rendered
    source, twin = tmp_path / "results/datasets/kb-test", tmp_path / target
    index = pd.read_parquet(twin / "index.parquet")
    original = pd.read_parquet(source / "index.parquet")
    pd.testing.assert_frame_equal(index[original.columns], original)
    assert set(index["denoise_of"]) == {"kb-test"}
    assert {key: set(index[f"denoise_{key}"]) for key in DENOISE} == {key: {v} for key, v in DENOISE.items()}
    assert (twin / "exclusions.json").read_bytes() == (source / "exclusions.json").read_bytes()
    for image_id in index["id"]:
        for folder in ("masks", "instances"):
            name = f"{folder}/{image_id}.png"
            assert (twin / name).read_bytes() == (source / name).read_bytes()
        bgr = cv2.imread(str(source / "images" / f"{image_id}.png"), cv2.IMREAD_COLOR)
        expected = cv2.fastNlMeansDenoisingColored(bgr, None, 7, 9, 5, 15)
        np.testing.assert_array_equal(cv2.imread(str(twin / "images" / f"{image_id}.png"), cv2.IMREAD_COLOR), expected)
