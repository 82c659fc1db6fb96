"""The real-data stage of the workflow: download from a real HTTP server on localhost, verify, extract,
convert per category and select splits, driven by a registry file and a config as a user writes them; a
copy already on disk used as it is; bad `sources` refused before any job."""

import hashlib
import io
import json
import re
import tarfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, snakemake
from http_server import FileServer

from defectlab.classes import class_index
from defectlab.data.exclusions import patch_positions, read_exclusions
from defectlab.data.layout import load_sample

NOWHERE = "http://127.0.0.1:9/mvtec.tar.gz"  # nothing listens: a download would fail


def _mvtec_files(categories: tuple[str, ...] = ("screw", "bottle")) -> dict[str, np.ndarray]:
    """Images in MVTec AD's own layout: {category}/train/good, test/{defect}, ground_truth/{defect}/*_mask.png."""
    files = {}
    for c, category in enumerate(categories):
        for k in range(3):
            files[f"{category}/train/good/{k:03d}.png"] = np.full((32, 32), 100 + k + c, np.uint8)
        files[f"{category}/test/good/000.png"] = np.full((32, 32), 90 + c, np.uint8)
        for k in range(2):
            files[f"{category}/test/scratch_head/{k:03d}.png"] = np.full((32, 32), 80 + k + c, np.uint8)
            mask = np.zeros((32, 32), np.uint8)
            mask[4 + 10 * k : 8 + 10 * k, 5:20] = 255
            files[f"{category}/ground_truth/scratch_head/{k:03d}_mask.png"] = mask
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1200), dtype=np.uint8)
    files[f"{categories[0]}/readme-noise.png"] = noise  # incompressible: the archive spans several download chunks
    return files


def _archive(files: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, array in sorted(files.items()):
            data = cv2.imencode(".png", array)[1].tobytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _place(root: Path, files: dict[str, np.ndarray]) -> None:
    """A copy of the dataset already on disk, as a user places it."""
    for name, array in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), array)


def _registry(path: Path, url: str, body: bytes) -> Path:
    entry = {
        "kind": "dataset",
        "description": "MVTec AD: a small archive in its layout",
        "converter": "mvtec_ad",
        "licence": {
            "name": "CC BY-NC-SA 4.0",
            "url": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
            "redistribution": "non-commercial",
        },
        "credentials": None,
        "archives": [
            {
                "file": "mvtec.tar.gz",
                "format": "tar.gz",
                "urls": [url],
                "size": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        ],
    }
    registry = yaml.safe_load((REPO / "config/registry.yaml").read_text())
    registry["entries"]["mvtec_ad"] = entry
    path.write_text(yaml.safe_dump(registry))
    return path


def _config(path: Path, registry: Path, categories=("screw",), sources=None, objects=True) -> Path:
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config["registry"] = str(registry)
    config["sources"] = sources or {"mvtec_ad": {"splits": {"val_fraction": 0.5, "val_from": "test", "seed": 3}}}
    config["datasets"] = {k: v for k, v in config["datasets"].items() if k == "plates-train"}
    for category in categories:
        source = {"entry": "mvtec_ad", **({"objects": [category]} if objects else {})}
        for split in ("train", "val", "test"):
            config["datasets"][f"{category}-{split}"] = {"split": split, "source": source, "domain": "real"}
    config["experiments"] = {c: {"train": [f"{c}-train"], "val": f"{c}-val", "test": f"{c}-test"} for c in categories}
    path.write_text(yaml.safe_dump(config))
    return path


def _jobs(stdout: str) -> dict[str, int]:
    """Job counts per rule from a dry run's job stats."""
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stdout, flags=re.M) if rule != "total"}


def test_a_real_dataset_is_downloaded_verified_extracted_converted_per_category_and_split(tmp_path: Path):
    body = _archive(_mvtec_files())
    targets = [f"results/datasets/screw-{split}" for split in ("train", "val", "test")] + [
        "results/datasets/bottle-train"
    ]
    with FileServer() as server:
        server.serve("/mvtec.tar.gz", body, drop_after=len(body) - 1000)  # the first response breaks off
        registry = _registry(tmp_path / "registry.yaml", server.url("/mvtec.tar.gz"), body)
        config = _config(tmp_path / "config.yaml", registry, categories=("screw", "bottle"))
        result = snakemake(tmp_path, *targets, "--cores", "1", "--configfile", str(config))
        ranges = [r.headers.get("range") for r in server.requests]
    assert result.returncode == 0, result.stderr[-5000:]
    assert len(body) > 1 << 20 and ranges[0] is None  # several 1 MiB chunks, the first response cut short
    assert ranges[-1].startswith("bytes=") and int(ranges[-1][6:-1]) >= 1 << 20  # resumed, not restarted
    assert (tmp_path / "resources/downloads/mvtec_ad/mvtec.tar.gz").read_bytes() == body
    assert sorted(p.name for p in (tmp_path / "resources/converted/mvtec_ad").iterdir()) == ["bottle", "screw"]
    counts = {
        split: len(pd.read_parquet(tmp_path / f"results/datasets/screw-{split}/index.parquet"))
        for split in ("train", "val", "test")
    }
    assert counts["train"] == 3 and counts["val"] + counts["test"] == 3 and counts["val"] >= 1
    bottle = pd.read_parquet(tmp_path / "results/datasets/bottle-train/index.parquet")
    assert set(bottle["object"]) == {"bottle"} and len(bottle) == 3
    roots = {split: tmp_path / f"results/datasets/screw-{split}" for split in ("val", "test")}
    found = {image_id: root for root in roots.values() for image_id in pd.read_parquet(root / "index.parquet")["id"]}
    scratched = [image_id for image_id in found if "scratch_head" in image_id]
    assert len(scratched) == 2
    for image_id in scratched:
        mask = load_sample(found[image_id], image_id).mask
        assert set(np.unique(mask)) == {0, class_index("scratch")} and (mask > 0).sum() == 4 * 15

    again = snakemake(tmp_path, *targets, "-n", "--cores", "1", "--configfile", str(config))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout, again.stdout[-3000:]
    # the README's commands for edits Snakemake cannot see: redo one conversion, or every selection
    for forced, jobs in (
        ("resources/converted/mvtec_ad/bottle", {"convert": 1, "select_dataset": 1}),
        ("select_dataset", {"select_dataset": 4}),
    ):
        rerun = snakemake(tmp_path, *targets, "-n", "--cores", "1", "--forcerun", forced, "--configfile", str(config))
        assert rerun.returncode == 0 and _jobs(rerun.stdout) == jobs, (forced, rerun.stdout[-3000:])

    time.sleep(1)  # a newer mtime than the conversions' on any file system
    (tmp_path / "resources/extracted/mvtec_ad/screw").touch()  # e.g. after editing a mask in that category
    touched = snakemake(tmp_path, *targets, "-n", "--cores", "1", "--configfile", str(config))
    assert touched.returncode == 0, touched.stderr[-3000:]
    assert _jobs(touched.stdout) == {"convert": 1, "select_dataset": 3}
    assert "output: resources/converted/mvtec_ad/screw" in touched.stdout
    assert "resources/converted/mvtec_ad/bottle" not in touched.stdout


def test_a_checksum_mismatch_stops_the_download_and_keeps_the_bad_file_aside(tmp_path: Path):
    body = _archive(_mvtec_files(("screw",)))
    with FileServer() as server:
        server.serve("/mvtec.tar.gz", body[:-1] + b"x")  # tampered on the way
        registry = _registry(tmp_path / "registry.yaml", server.url("/mvtec.tar.gz"), body)
        config = _config(tmp_path / "config.yaml", registry)
        result = snakemake(tmp_path, "results/datasets/screw-train", "--cores", "1", "--configfile", str(config))
    assert result.returncode != 0
    log = (tmp_path / "logs/download/mvtec_ad/mvtec.tar.gz.log").read_text()
    assert hashlib.sha256(body).hexdigest() in log and "sha256" in log.lower()
    assert not (tmp_path / "resources/downloads/mvtec_ad/mvtec.tar.gz").exists()
    assert list((tmp_path / "resources/downloads/mvtec_ad").glob("*.bad"))


def test_an_archive_placed_by_hand_is_verified_before_it_is_extracted(tmp_path: Path):
    body = _archive(_mvtec_files(("screw",)))
    placed = tmp_path / "resources/downloads/mvtec_ad/mvtec.tar.gz"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(body[:-1] + b"x")  # the right size, the wrong bytes
    config = _config(tmp_path / "config.yaml", _registry(tmp_path / "registry.yaml", NOWHERE, body))
    result = snakemake(tmp_path, "results/datasets/screw-train", "--cores", "1", "--configfile", str(config))
    assert result.returncode != 0
    log = (tmp_path / "logs/extract/mvtec_ad.log").read_text()
    expected, actual = hashlib.sha256(body).hexdigest(), hashlib.sha256(placed.read_bytes()).hexdigest()
    assert "resources/downloads/mvtec_ad/mvtec.tar.gz is not the archive mvtec.tar.gz of mvtec_ad" in log
    assert f"sha256: expected {expected}, got {actual}" in log
    assert not (tmp_path / "resources/extracted/mvtec_ad").exists()
    assert not (tmp_path / "logs/download").exists()  # the file was there: nothing was downloaded
    assert placed.exists()  # the user's file is left where it is


def test_a_copy_already_extracted_is_used_without_a_download(tmp_path: Path):
    _place(tmp_path / "resources/extracted/mvtec_ad", _mvtec_files(("screw", "bottle")))
    registry = _registry(tmp_path / "registry.yaml", NOWHERE, b"the published archive")
    config = _config(tmp_path / "config.yaml", registry, categories=("screw", "bottle"))
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _jobs(result.stdout)
    assert jobs["convert"] == 2 and jobs["select_dataset"] == 6
    assert "download" not in jobs and "extract" not in jobs
    assert "input: resources/extracted/mvtec_ad/bottle" in result.stdout


def test_a_copy_lacking_categories_says_which_before_any_job(tmp_path: Path):
    """A dataset naming no objects takes every category: a copy with two of them is refused at start-up."""
    _place(tmp_path / "resources/extracted/mvtec_ad", _mvtec_files(("screw", "bottle")))
    registry = _registry(tmp_path / "registry.yaml", NOWHERE, b"the published archive")
    config = _config(tmp_path / "config.yaml", registry, categories=("mvtec",), objects=False)
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(config))
    message = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in message
    assert "- mvtec_ad: no folder cable, capsule, carpet, grid, hazelnut, leather, metal_nut, pill, tile," in message
    assert "in resources/extracted/mvtec_ad: place the categories there" in message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"sources": {"mvtec_ad": {"split": {"val_fraction": 0.2}}}},
            "config: sources.mvtec_ad.split: unknown option (known: root, splits, classes)",
        ),
        (
            {"sources": {"mvtec_ad": {"splits": {"val_fraction": "a fifth"}}}},
            "config: sources.mvtec_ad.splits.val_fraction: 'a fifth' is not of type 'number'",
        ),
        ({"sources": {"mvtec": {}}}, "config: sources.mvtec: no registry entry 'mvtec' in "),
        (
            {"datasets": {"gears-train": {"split": "train", "source": {"entry": "csem_misd"}}}},
            "config: datasets.gears-train.source.entry: csem_misd has no converter yet: ",
        ),
        (
            {"datasets": {"screw-train": {"split": "train", "source": {"entry": "mvtec_ad", "objects": ["srew"]}}}},
            "config: datasets.screw-train.source.objects: srew: not a category of mvtec_ad",
        ),
    ],
    ids=["unknown-option", "wrong-type", "unknown-entry", "no-converter", "unknown-category"],
)
def test_bad_sources_are_refused_before_any_job(tmp_path: Path, change: dict, message: str):
    config = _config(tmp_path / "config.yaml", _registry(tmp_path / "registry.yaml", NOWHERE, b"archive"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(change))
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(config), str(bad))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output
    assert "Job stats" not in output


@pytest.mark.parametrize(
    ("study", "config", "entry"),
    [
        ("sequential-patchcore.yaml", "sequential-patchcore-real.yaml", "fraunhofer_plates"),
        ("kitchen-boards.yaml", "kitchen-boards-real.yaml", "kitchen_boards"),
    ],
)
def test_a_real_study_without_its_data_says_what_to_download(tmp_path: Path, study: str, config: str, entry: str):
    configs = [str(REPO / "config" / study), str(REPO / "config" / config)]
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", *configs)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "config needs real data that is not here yet" in message
    assert entry in message and f"resources/downloads/{entry}/" in message
    assert "Job stats" not in message


# the real kitchen boards as the converter reads them (kitchen_boards.py), of mixed sizes on the black conveyor:
# (height, width) and the board's rectangle [x, y, width, height], its borders; a sticker in the borders' top-left
# corner, and on each test board a dark spot near the borders' right end, marked in its ground truth
BOARDS = {
    "white/anomaly-free/231117_0001_1.jpg": ((360, 400), (20, 16, 350, 320)),
    "white/anomaly-free/231117_0002_1.jpg": ((372, 392), (12, 24, 356, 330)),
    "white/anomaly-free/231117_0003_1.jpg": ((366, 418), (30, 20, 360, 326)),
    "white/with anomaly/231117_0301_1.jpg": ((364, 404), (24, 20, 340, 300)),
    "white/with anomaly/231117_0302_1.jpg": ((380, 396), (16, 28, 344, 310)),
    "white/with anomaly/231117_0303_1.jpg": ((368, 400), (20, 24, 346, 304)),
    "white_with_edges/anomaly-free/231117_0401_1.jpg": ((360, 400), (20, 16, 350, 320)),
    "white_with_edges/with anomaly/231117_0569.jpg": ((364, 404), (24, 20, 340, 300)),
}
WHITE_SIZE = (380, 418)  # White's largest height and width: every White board padded to it


def _place_boards(root: Path) -> dict[str, dict]:
    """A copy of the kitchen boards placed by hand under resources/extracted/kitchen_boards/, with its JSON of
    borders and labels; returns the JSON."""
    rng = np.random.default_rng(0)
    entries = {}
    for name, ((h, w), (x, y, bw, bh)) in BOARDS.items():
        image = rng.integers(0, 12, (h, w, 3)).astype(np.uint8)  # the black conveyor
        image[y : y + bh, x : x + bw] = rng.integers(190, 215, (bh, bw, 3))
        if "with anomaly" in name:
            truth = np.zeros((h, w), np.uint8)
            truth[y + bh // 2 : y + bh // 2 + 10, x + bw - 20 : x + bw - 8] = 255
            image[truth > 0] = 40
            _place(root, {name.replace(".jpg", "_groundtruth.png"): truth})
        _place(root, {name: image})
        entries[Path(name).name] = {"borders": [[x, y, bw, bh]], "labels": [[x, y, 20, 20]]}
    (root / "borders.json").write_text(json.dumps(entries))
    return entries


def test_the_real_kitchen_study_converts_pads_and_evaluates_boards_placed_by_hand(tmp_path: Path):
    """The kitchen study with its real overlay on a copy placed where the registry asks for it: each category's
    boards padded to one size, the exclusions carried to the datasets, one patch-unit experiment evaluated."""
    entries = _place_boards(tmp_path / "resources/extracted/kitchen_boards")
    configs = [str(REPO / "config/kitchen-boards.yaml"), str(REPO / "config/kitchen-boards-real.yaml")]
    target = "results/metrics/pc-white-r18.parquet"
    result = snakemake(tmp_path, target, "--cores", "2", "--configfile", *configs)
    assert result.returncode == 0, result.stderr[-5000:]
    assert _jobs_run(result.stdout + result.stderr) >= {"convert", "select_dataset", "patchcore_maps", "evaluate"}
    converted = tmp_path / "resources/converted/kitchen_boards"
    assert sorted(p.name for p in converted.iterdir()) == ["white"]  # the other category is not asked for
    index = pd.read_parquet(converted / "white/index.parquet").set_index("id")
    assert index["split"].value_counts().to_dict() == {"train": 3, "test": 2, "val": 1}  # a fifth of 3 test boards
    for image_id, row in index.iterrows():
        h, w = BOARDS[row["source"]][0]
        assert (row["original_height"], row["original_width"]) == (h, w)
        sample = load_sample(converted / "white", image_id)
        assert sample.image.shape[:2] == WHITE_SIZE  # padded right and bottom: black, masks 0
        for array in (sample.image, sample.mask, sample.instances):
            assert not array[h:].any() and not array[:, w:].any()
    test = tmp_path / "results/datasets/kb-white-test"
    ids = sorted(pd.read_parquet(test / "index.parquet")["id"])
    assert len(ids) == 2 and set(ids) == set(index.index[index["split"] == "test"])
    exclusions = json.loads((test / "exclusions.json").read_text())  # carried by select_dataset, re-keyed
    assert exclusions == {f"{i}.png": entries[f"{i.split('-', 2)[2]}.jpg"] for i in ids}
    areas = read_exclusions(test / "exclusions.json", {f"{i}.png": WHITE_SIZE[::-1] for i in ids})
    expected = sum(len(patch_positions(areas[f"{i}.png"], 224, 112)) for i in ids)
    rows = pd.read_parquet(tmp_path / target).set_index("metric")["value"]
    counts = rows[["patch_tn", "patch_fp", "patch_fn", "patch_tp"]]
    assert counts.sum() == expected == 10 and counts["patch_tp"] + counts["patch_fn"] == 8
    assert 0 <= rows["patch_auroc"] <= 1


def _jobs_run(log: str) -> set[str]:
    return set(re.findall(r"^(?:local)?rule (\w+):", log, flags=re.M))
