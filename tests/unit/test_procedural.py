"""The procedural generators chess and noise (seed 003, §3.1): determinism, twins, masks, the elastic field,
refusals naming the key, the layout they write and what the start-up checks ask them."""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from snakemake.utils import update_config

from defectlab.classes import DEFECT_INDICES, class_index
from defectlab.config import ConfigError, check_config, check_files, check_schema, fill_defaults
from defectlab.data.layout import check_dataset, load_sample
from defectlab.synth.generators import GENERATORS, can_hold_defects
from defectlab.synth.plan import resolve_spec
from defectlab.synth.procedural import (
    RMS_FACTOR,
    Line,
    displacement_field,
    gallery_datasets,
    make,
    plan_chess,
    plan_dataset,
    plan_noise,
    write_samples,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config/schema/config.schema.yaml"
SEED = 11
DATASETS = {
    "chess-train": {"generator": "chess", "split": "train", "count": 4, "size": 64},
    "chess-test": {"generator": "chess", "split": "test", "count": 4, "twin_of": "chess-train", "anomaly": {}},
    "chess-region": {
        "generator": "chess",
        "split": "test",
        "count": 4,
        "twin_of": "chess-train",
        "anomaly": {"mask": "region"},
    },
    "chess-heldout": {
        "generator": "chess",
        "split": "test",
        "count": 2,
        "twin_of": "chess-train",
        "regime": "heldout",
        "anomaly": {},
    },
    "noise-train": {"generator": "noise", "split": "train", "count": 4, "size": 64},
    "noise-test": {"generator": "noise", "split": "test", "count": 4, "twin_of": "noise-train", "anomaly": {}},
}


def samples(name: str, datasets: dict = DATASETS, seed: int = SEED):
    return plan_dataset(name, resolve_spec(name, datasets), seed)


def pictures(name: str, datasets: dict = DATASETS):
    return [make(s) for s in samples(name, datasets)]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["chess-test", "noise-test"])
def test_same_seed_same_bytes_and_another_seed_other_images(tmp_path: Path, name: str):
    write_samples(samples(name), tmp_path / "a")
    write_samples(samples(name), tmp_path / "b")
    write_samples(samples(name, seed=SEED + 1), tmp_path / "c")
    a, b, c = (files(tmp_path / x) for x in "abc")
    assert a == b
    assert a["images/" + f"{name}-0000.png"] != c["images/" + f"{name}-0000.png"]


@pytest.mark.parametrize(("twin", "source"), [("chess-test", "chess-train"), ("noise-test", "noise-train")])
def test_a_twin_is_its_source_outside_the_mask_bit_for_bit_and_differs_inside(twin: str, source: str):
    for base, sample, picture in zip(pictures(source), samples(twin), pictures(twin), strict=True):
        assert sample.base_id == sample.id.replace(twin, source) and sample.anomaly is not None
        assert np.array_equal(picture.normal, base.image)
        assert picture.mask.sum() > 0
        changed = picture.image != base.image
        if twin.startswith("chess"):  # bit-exact outside the rectangle; inside, the mask holds |delta| > 127.5
            inside = np.zeros_like(picture.mask)
            for r in sample.anomaly.regions:
                inside[r.y0 : r.y0 + r.h, r.x0 : r.x0 + r.w] = True
            assert np.array_equal(picture.image[~inside], base.image[~inside])
            delta = np.abs(picture.image.astype(int) - base.image)
            assert (delta[picture.mask] > 127.5).all() and (delta[~picture.mask] <= 127.5).all()
        else:  # bit-exact outside the line
            assert np.array_equal(picture.image[~picture.mask], base.image[~picture.mask])
            # the line's grey; a noise pixel may already have it (clipped at 1)
            assert (picture.image[picture.mask] == 255).all() and changed[picture.mask].mean() > 0.9


def test_twins_share_the_seed_and_base_of_their_source_and_heldout_draws_new_ones():
    train, test, heldout = samples("chess-train"), samples("chess-test"), samples("chess-heldout")
    assert [s.seed for s in test] == [s.seed for s in train[:4]]
    assert [s.params for s in test] == [s.params for s in train]
    assert {s.base_id for s in heldout} == {"chess-heldout-0000", "chess-heldout-0001"}
    assert not any(np.array_equal(make(h).normal, make(t).normal) for h in heldout for t in train)
    # a twin that changes the mask definition only keeps the base images, rectangles and fields
    for changed, region in zip(samples("chess-test"), samples("chess-region"), strict=True):
        assert changed.anomaly.regions == region.anomaly.regions
        assert np.array_equal(make(changed).image, make(region).image)


def test_chess_masks_changed_by_the_half_contrast_rule_and_region_as_the_rectangle(tmp_path: Path):
    for name in ("chess-train", "chess-test", "chess-region"):
        write_samples(samples(name), tmp_path / name)
    test_index = check_dataset(tmp_path / "chess-test")
    region_index = check_dataset(tmp_path / "chess-region")
    other = class_index("other_defect")
    for (_, row), (_, region_row) in zip(test_index.iterrows(), region_index.iterrows(), strict=True):
        base = load_sample(tmp_path / "chess-train", row["base_id"])
        anomalous = load_sample(tmp_path / "chess-test", row["id"])
        x0, y0, w, h = (int(row[f"region_{k}"]) for k in ("x0", "y0", "w", "h"))
        rectangle = np.zeros(base.mask.shape, bool)
        rectangle[y0 : y0 + h, x0 : x0 + w] = True
        delta = np.abs(anomalous.image[:, :, 0].astype(int) - base.image[:, :, 0].astype(int))
        assert np.array_equal(anomalous.mask == other, rectangle & (delta > 0.5 * 255))
        assert set(np.unique(anomalous.mask)) <= {0, other} and row["anomalous_pixels"] == (delta > 127.5).sum()
        assert (delta[~rectangle] == 0).all()
        by_region = load_sample(tmp_path / "chess-region", region_row["id"])
        assert np.array_equal(by_region.mask == other, rectangle) and region_row["mask_rule"] == "region"
        assert np.array_equal(by_region.instances, rectangle.astype(np.uint16))


def test_the_noise_mask_is_the_drawn_noisy_line():
    for sample, picture in zip(samples("noise-test"), pictures("noise-test"), strict=True):
        line = sample.anomaly
        assert isinstance(line, Line) and math.isclose(line.slope, math.tan(math.radians(line.angle)))
        assert -60 <= line.angle <= 60 and 0.25 * 64 <= line.intercept <= 0.75 * 64 and line.thickness == 3
        x = np.arange(64.0)
        y = line.slope * (x - 32) + line.intercept + np.random.default_rng(line.jitter_seed).normal(0, 1.5, 64)
        drawn = picture.normal.copy()
        points = np.rint(np.stack([x, y], 1) * 16).astype(np.int32)
        cv2.polylines(drawn, [points], False, 255, thickness=3, lineType=cv2.LINE_8, shift=4)
        assert np.array_equal(drawn, picture.image)
        canvas = np.zeros_like(picture.normal)
        cv2.polylines(canvas, [points], False, 1, thickness=3, lineType=cv2.LINE_8, shift=4)
        assert np.array_equal(picture.mask, canvas == 1)
        assert not (picture.image != picture.normal)[~picture.mask].any()
        centre = int(round(y[32]))
        if 0 <= centre < 64:
            assert picture.mask[centre, 32]


def test_the_noise_is_gaussian_with_the_configured_mean_and_sd():
    datasets = {"n": {"generator": "noise", "split": "train", "count": 1, "size": 256, "mean": 0.4, "std": 0.1}}
    values = pictures("n", datasets)[0].image / 255
    assert abs(values.mean() - 0.4) < 0.005 and abs(values.std() - 0.1) < 0.005


@pytest.mark.parametrize("sigma", [2.0, 4.0, 8.0])
def test_rms_displacement_is_0_163_alpha_over_sigma(sigma: float):
    """Spec §2.2: each component's rms is ~0.163 alpha / sigma (1 / sqrt(12 pi) = 0.1629), within 10 %."""
    dy, dx = displacement_field(np.random.default_rng(0), 512, 200.0, sigma)
    border = int(3 * sigma)  # mode "constant" damps the field near the image border
    for field in (dy, dx):
        rms = np.sqrt(np.mean(field[border:-border, border:-border] ** 2))
        assert rms == pytest.approx(0.163 * 200 / sigma, rel=0.10)
    assert abs(RMS_FACTOR - 0.163) < 5e-4


def test_the_index_records_parameters_base_and_measured_displacement(tmp_path: Path):
    index = write_samples(samples("chess-test"), tmp_path)
    assert (index[["object", "view", "light", "label"]].drop_duplicates().values.tolist()) == [
        ["chess", 0, "none", "elastic_deformation"]
    ]
    assert index["base_id"].tolist() == [f"chess-train-{i:04d}" for i in range(4)]
    assert index["displacement_rms_expected"].tolist() == pytest.approx([200 * RMS_FACTOR / 4] * 4)
    assert index["displacement_rms"].between(3, 14).all()  # small rectangles: a few correlation lengths
    normal = write_samples(samples("noise-train"), tmp_path / "n")
    assert normal["label"].eq("normal").all() and normal["anomalous_pixels"].eq(0).all()
    image = load_sample(tmp_path / "n", "noise-train-0000").image
    assert image.shape == (64, 64, 3) and (image == image[:, :, :1]).all()
    assert class_index("other_defect") in DEFECT_INDICES


@pytest.mark.parametrize(
    ("plan", "keys", "named"),
    [
        (plan_chess, {"size": 100}, "size: 100 must be a positive multiple of 16"),
        (plan_chess, {"size": 0}, "size"),
        (plan_chess, {"square": 40}, "square: 40"),
        (plan_chess, {"white": 0}, "white: equals black"),
        (plan_chess, {"anomaly": {"region": [0.2, 1.5]}}, "anomaly.region"),
        (plan_chess, {"anomaly": {"region": [0.0, 0.2]}}, "anomaly.region"),
        (plan_chess, {"anomaly": {"sigma": 0}}, "anomaly.sigma"),
        (plan_chess, {"anomaly": {"mask": "box"}}, "anomaly.mask"),
        (plan_noise, {"std": -1}, "std"),
        (plan_noise, {"anomaly": {"thickness": 0}}, "anomaly.thickness"),
        (plan_noise, {"anomaly": {"angle": [-90, 10]}}, "anomaly.angle"),
        (plan_noise, {"regime": "twin"}, "regime"),
    ],
)
def test_impossible_parameters_are_refused_naming_the_key(plan, keys: dict, named: str):
    spec = {"generator": plan.__name__.removeprefix("plan_"), "split": "test", "count": 1, "size": 64, **keys}
    with pytest.raises(ValueError, match=f"^{named}"):
        plan("x", spec, SEED, 0)


def checked(tmp_path: Path, datasets: dict) -> None:
    """The default config plus `datasets`, through every start-up check."""
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"datasets": datasets}, sort_keys=False))
    paths = [REPO / "config/config.yaml", override]
    where = check_files(paths)
    config: dict = {}
    for path in paths:
        update_config(config, yaml.safe_load(path.read_text()))
    check_schema(config, where, SCHEMA)
    fill_defaults(config, yaml.safe_load(SCHEMA.read_text()))
    check_config(config, where, weights_dir=tmp_path, known_weights=set(), backbone=False)


def test_the_start_up_checks_accept_chess_and_noise_and_name_the_bad_key(tmp_path: Path):
    checked(tmp_path, DATASETS)
    bad = {**DATASETS, "chess-train": {**DATASETS["chess-train"], "size": 100}}
    with pytest.raises(ConfigError, match=r"override.yaml:\d+: datasets.chess-train: size: 100 must be"):
        checked(tmp_path, bad)
    bad = {**DATASETS, "chess-test": {**DATASETS["chess-test"], "anomaly": {"region": [0.5, 2]}}}
    with pytest.raises(ConfigError, match=r"datasets.chess-test: anomaly.region: \[0.5, 2\]"):
        checked(tmp_path, bad)
    bad = {**DATASETS, "noise-test": {**DATASETS["noise-test"], "anomaly": {"thickness": 0}}}
    with pytest.raises(ConfigError, match=r"datasets.noise-test.anomaly.thickness: 0 is less than the minimum"):
        checked(tmp_path, bad)


def test_the_generators_tell_the_checks_their_images_and_defects():
    for name, holds in [("chess-train", False), ("chess-test", True), ("noise-train", False), ("noise-test", True)]:
        spec = resolve_spec(name, DATASETS)
        generator = GENERATORS[spec["generator"]]
        assert generator.images(spec) == spec["count"]
        assert can_hold_defects(generator, name, spec, SEED, 256) is holds
    spec = resolve_spec("chess-test", {**DATASETS, "chess-test": {**DATASETS["chess-test"], "anomaly": {"regions": 3}}})
    assert GENERATORS["chess"].min_defects(spec) == 3
    assert GENERATORS["chess"].defects(GENERATORS["chess"].plan("chess-test", spec, SEED, 0)) == 3


def test_the_gallery_shows_the_first_anomalous_dataset_of_each_generator():
    assert gallery_datasets(DATASETS) == {"chess": "chess-test", "noise": "noise-test"}
    assert gallery_datasets({"p": {"split": "test", "count": 1}}) == {}
