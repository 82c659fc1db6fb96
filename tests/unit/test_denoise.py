"""Denoised twins (`denoise_of`, defectlab.data.denoise): the thesis's "blur", cv2.fastNlMeansDenoisingColored
over whole images with everything else of the source copied, and the config checks of such a dataset."""

import json
from pathlib import Path

import config_files
import cv2
import numpy as np
import pandas as pd
import pytest

from defectlab.config import ConfigError
from defectlab.config.sections import patch_settings
from defectlab.data.denoise import COLUMNS, Denoise, denoise_dataset, denoise_image, parameters
from defectlab.data.exclusions import Exclusion, as_json, read_exclusions
from defectlab.data.layout import check_dataset, write_png

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "config/tiny.yaml"
H, W = 24, 32  # not square: a transposed image shows


def build_dataset(root: Path, count: int = 2) -> Path:
    """A small dataset in the common layout: coloured noise over a gradient (R, G and B differ, so a swapped
    channel order changes the filter's result), a mask with one defect, instances, an index, exclusions.json."""
    rng = np.random.default_rng(3)
    rows = []
    exclusions = {}
    for i in range(count):
        ramp = np.linspace(40, 200, W)[None, :, None] * np.array([1.0, 0.8, 0.5])
        image = np.clip(ramp + rng.normal(0, 18, (H, W, 3)), 0, 255).astype(np.uint8)
        mask = np.zeros((H, W), np.uint8)
        mask[4:9, 5 + i : 12 + i] = 7
        instances = (mask > 0).astype(np.uint16)
        sample_id = f"s{i:02d}"
        write_png(root / "images" / f"{sample_id}.png", image)
        write_png(root / "masks" / f"{sample_id}.png", mask)
        write_png(root / "instances" / f"{sample_id}.png", instances)
        exclusions[f"{sample_id}.png"] = Exclusion(borders=((1, 1, W - 2, H - 2),), labels=((20, 10, 5, 6),))
        rows.append((sample_id, "test", "board", 0, "line", 100 + i, "anomalous"))
    (root / "exclusions.json").write_text(json.dumps(as_json(exclusions), indent=1) + "\n")
    index = pd.DataFrame(rows, columns=["id", "split", "object", "view", "light", "seed", "label"])
    index.to_parquet(root / "index.parquet", index=False)
    return root


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_each_image_equals_opencvs_filter_of_the_stored_image(tmp_path: Path):
    source = build_dataset(tmp_path / "src")
    params = Denoise(h=12, h_color=8, template=5, search=15)
    denoise_dataset(source, tmp_path / "dn", params, name="src")
    for sample_id in ("s00", "s01"):
        bgr = cv2.imread(str(source / "images" / f"{sample_id}.png"), cv2.IMREAD_COLOR)  # OpenCV's own order
        expected = cv2.fastNlMeansDenoisingColored(bgr, None, 12, 8, 5, 15)
        got = cv2.imread(str(tmp_path / "dn" / "images" / f"{sample_id}.png"), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(got, expected)
        assert not np.array_equal(got, bgr)  # it did filter
    # the channel order matters: the same filter over the image taken as RGB gives other pixels
    rgb = cv2.cvtColor(cv2.imread(str(source / "images/s00.png"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    swapped = cv2.fastNlMeansDenoisingColored(rgb, None, 12, 8, 5, 15)
    assert not np.array_equal(denoise_image(rgb, params), swapped)


def test_masks_instances_exclusions_and_index_rows_are_the_sources(tmp_path: Path):
    source = build_dataset(tmp_path / "src")
    index = denoise_dataset(source, tmp_path / "dn", {"h": 10}, name="kb-test")
    out = tmp_path / "dn"
    before, after = files(source), files(out)
    assert set(before) == set(after)
    for name in before:
        if name.startswith(("masks/", "instances/")) or name == "exclusions.json":
            assert after[name] == before[name], name
    assert read_exclusions(out / "exclusions.json", {"s00.png": (W, H), "s01.png": (W, H)})
    original = pd.read_parquet(source / "index.parquet")
    written = pd.read_parquet(out / "index.parquet")
    pd.testing.assert_frame_equal(written[original.columns], original)
    assert list(written.columns) == [*original.columns, *COLUMNS]
    assert index.equals(written)
    assert parameters(written) == {
        "of": "kb-test",
        "h": 10,
        "h_color": 10,
        "template": 7,
        "search": 21,
        "opencv": cv2.__version__,
    }
    assert parameters(original) is None
    check_dataset(out)


def test_same_bytes_twice(tmp_path: Path):
    source = build_dataset(tmp_path / "src")
    denoise_dataset(source, tmp_path / "a", None, name="src")
    denoise_dataset(source, tmp_path / "b", None, name="src")
    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_a_broken_source_fails_before_any_image_is_filtered(tmp_path: Path):
    source = build_dataset(tmp_path / "src")
    (source / "masks/s01.png").unlink()
    with pytest.raises(ValueError, match=r"masks: no PNG for ids \[s01\]"):
        denoise_dataset(source, tmp_path / "dn")
    assert not (tmp_path / "dn" / "index.parquet").exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"template": 8}, r"denoise.template must be an odd integer >= 1 \(a window size\), got 8"),
        ({"search": 0}, "denoise.search must be an odd integer"),
        ({"h": 0}, r"denoise.h must be a number > 0, got 0"),
        ({"h_color": "10"}, "denoise.h_color must be a number > 0"),
        ({"hColor": 10}, r"denoise: unknown keys \['hColor'\]; known: h, h_color, template, search"),
    ],
)
def test_bad_parameters_are_refused(params: dict, message: str):
    with pytest.raises(ValueError, match=message):
        Denoise.of(params)


# ------------------------------------------------------------------ the config of a denoised dataset

BOARDS = {
    "generator": "boards",
    "split": "test",
    "count": 2,
    "anomalies": {"min": 1, "max": 2},
    "width": [320, 320],
    "height": [384, 384],
    "stickers": {"width": [30, 60], "height": [30, 80]},
}


def checked(tmp_path: Path, override: dict) -> tuple[dict, list[str]]:
    """config/tiny.yaml with `override` as a second file, through the start-up checks (no backbone)."""
    return config_files.checked(tmp_path, override, TINY, backbone=False)


def refusal(tmp_path: Path, override: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        checked(tmp_path, override)
    return str(caught.value)


def test_a_denoised_twin_takes_the_defaults_and_its_sources_patch_grid(tmp_path: Path):
    override = {
        "datasets": {
            "kb": {**BOARDS, "split": "train", "anomalies": {"min": 0, "max": 0}, "patches": {"stride": 96}},
            "kb-dn": {"split": "train", "denoise_of": "kb"},
            "kb-dn-own": {"split": "train", "denoise_of": "kb", "denoise": {"h": 5}, "patches": {"edges": "none"}},
        }
    }
    config, warnings = checked(tmp_path, override)
    assert warnings == []
    assert config["datasets"]["kb-dn"]["denoise"] == {"h": 10, "h_color": 10, "template": 7, "search": 21}
    assert config["datasets"]["kb-dn-own"]["denoise"] == {"h": 5, "h_color": 10, "template": 7, "search": 21}
    assert patch_settings(config, "kb-dn")["stride"] == 96
    assert patch_settings(config, "kb-dn-own") == {**patch_settings(config, "kb"), "edges": "none"}


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        (
            {"x-dn": {"split": "test", "denoise_of": "nope"}},
            "override.yaml:4: datasets.x-dn.denoise_of: names 'nope', which is not under datasets",
        ),
        ({"x-dn": {"split": "test", "denoise_of": "x-dn"}}, "datasets.x-dn.denoise_of: names the dataset itself"),
        (
            {"a": {"split": "test", "denoise_of": "b"}, "b": {"split": "test", "denoise_of": "a"}},
            "datasets.a.denoise_of: denoise_of forms a cycle: a -> b -> a",
        ),
        (
            {"kb": BOARDS, "kb-dn": {"split": "train", "denoise_of": "kb"}},
            "override.yaml:23: datasets.kb-dn.split: 'train' differs from the split 'test' of 'kb': a denoised "
            "dataset keeps its source's images, index and split (give split: test)",
        ),
        (
            {"kb": BOARDS, "kb-dn": {"split": "test", "denoise_of": "kb", "generator": "boards"}},
            "datasets.kb-dn.generator: a denoised dataset (denoise_of) takes no key 'generator': its images are "
            "those of 'kb', denoised; it takes: split, denoise_of, denoise, patches, domain",
        ),
        (
            {"kb": BOARDS, "kb-dn": {"split": "test", "denoise_of": "kb", "source": {"entry": "mvtec_ad"}}},
            "datasets.kb-dn.source: a denoised dataset (denoise_of) takes no key 'source'",
        ),
        (
            {"kb": BOARDS, "kb-dn": {"split": "test", "denoise_of": "kb", "twin_of": "kb"}},
            "datasets.kb-dn.twin_of: a denoised dataset (denoise_of) takes no key 'twin_of'",
        ),
        (
            {"kb": BOARDS, "kb-dn": {"split": "test", "denoise_of": "kb", "count": 2}},
            "datasets.kb-dn.count: a denoised dataset (denoise_of) takes no key 'count'",
        ),
        (
            {"kb": {**BOARDS, "denoise": {"h": 5}}},
            "datasets.kb.denoise: only with `denoise_of`: the dataset whose images to denoise",
        ),
        (
            {"kb": BOARDS, "kb-dn": {"split": "test", "denoise_of": "kb", "denoise": {"template": 8}}},
            "datasets.kb-dn.denoise.template: 8 should not be valid under {'multipleOf': 2}",
        ),
        (
            {"kb": BOARDS, "kb-dn": {"split": "test", "denoise_of": "kb", "denoise": {"hColor": 8}}},
            "datasets.kb-dn.denoise.hColor: Additional properties are not allowed",
        ),
        (
            {
                "kb": BOARDS,
                "kb-dn": {"split": "test", "denoise_of": "kb"},
                "kb-twin": {**BOARDS, "twin_of": "kb-dn"},
            },
            "datasets.kb-twin.twin_of: names 'kb-dn', a denoised dataset: make the twin of 'kb' and give it a "
            "denoised dataset of its own",
        ),
    ],
)
def test_bad_denoised_datasets_are_refused_by_key(tmp_path: Path, datasets: dict, message: str):
    assert message in refusal(tmp_path, {"datasets": datasets})


def test_a_denoised_test_dataset_of_boards_without_anomalies_is_refused_naming_its_source(tmp_path: Path):
    datasets = {"kb": {**BOARDS, "anomalies": {"min": 0, "max": 0}}, "kb-dn": {"split": "test", "denoise_of": "kb"}}
    experiments = {"plates": {"test": "kb-dn"}}
    message = refusal(tmp_path, {"datasets": datasets, "experiments": experiments})
    assert "experiments.plates.test: dataset 'kb-dn' renders no defect" in message
    assert "set its `anomalies` in 'kb', whose images it denoises" in message


def test_a_denoised_twin_of_another_domain_is_warned_about(tmp_path: Path):
    datasets = {"kb": {**BOARDS, "domain": "real"}, "kb-dn": {"split": "test", "denoise_of": "kb"}}
    _, warnings = checked(tmp_path, {"datasets": datasets})
    assert warnings == [
        "datasets.kb-dn: domain 'synthetic', but it denoises 'kb' of domain 'real' (coreset provenance counts its "
        "points as synthetic: give domain: real)"
    ]
