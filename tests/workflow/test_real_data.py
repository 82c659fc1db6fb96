"""The real-data stage of the workflow: download from a real HTTP server on localhost, verify, extract,
convert and select splits, driven by a registry file and a config as a user writes them."""

import hashlib
import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, snakemake
from http_server import FileServer

from defectlab.classes import class_index
from defectlab.data.layout import load_sample


def _mvtec_archive() -> bytes:
    """A tar.gz in MVTec AD's own layout: {category}/train/good, test/{defect}, ground_truth/{defect}/*_mask.png."""
    files = {}
    for k in range(3):
        files[f"screw/train/good/{k:03d}.png"] = np.full((32, 32), 100 + k, np.uint8)
    files["screw/test/good/000.png"] = np.full((32, 32), 90, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1200), dtype=np.uint8)
    files["screw/readme-noise.png"] = noise  # incompressible: the archive spans several download chunks
    for k in range(2):
        files[f"screw/test/scratch_head/{k:03d}.png"] = np.full((32, 32), 80 + k, np.uint8)
        mask = np.zeros((32, 32), np.uint8)
        mask[4 + 10 * k : 8 + 10 * k, 5:20] = 255
        files[f"screw/ground_truth/scratch_head/{k:03d}_mask.png"] = mask
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, array in sorted(files.items()):
            data = cv2.imencode(".png", array)[1].tobytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


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
    registry = {
        "version": 1,
        "download_dir": "resources/downloads",
        "weights_dir": "resources/weights",
        "entries": {"mvtec_ad": entry},
    }
    path.write_text(yaml.safe_dump(registry))
    return path


def _config(path: Path, registry: Path) -> Path:
    source = {"entry": "mvtec_ad", "objects": ["screw"]}
    config = yaml.safe_load((REPO / "config/tiny.yaml").read_text())
    config["registry"] = str(registry)
    config["sources"] = {"mvtec_ad": {"splits": {"val_fraction": 0.5, "val_from": "test", "seed": 3}}}
    config["datasets"] = {
        **{k: v for k, v in config["datasets"].items() if k == "plates-train"},
        "screw-train": {"split": "train", "source": source, "domain": "real"},
        "screw-val": {"split": "val", "source": source, "domain": "real"},
        "screw-test": {"split": "test", "source": source, "domain": "real"},
    }
    config["experiments"] = {"screw": {"train": ["screw-train"], "val": "screw-val", "test": "screw-test"}}
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_real_dataset_is_downloaded_verified_extracted_converted_and_split(tmp_path: Path):
    body = _mvtec_archive()
    with FileServer() as server:
        server.serve("/mvtec.tar.gz", body, drop_after=len(body) - 1000)  # the first response breaks off
        config = _config(
            tmp_path / "config.yaml", _registry(tmp_path / "registry.yaml", server.url("/mvtec.tar.gz"), body)
        )
        targets = [f"results/datasets/screw-{split}" for split in ("train", "val", "test")]
        result = snakemake(tmp_path, *targets, "--cores", "1", "--configfile", str(config))
        ranges = [r.headers.get("range") for r in server.requests]
    assert result.returncode == 0, result.stderr[-5000:]
    assert len(body) > 1 << 20 and ranges[0] is None  # several 1 MiB chunks, the first response cut short
    assert ranges[-1].startswith("bytes=") and int(ranges[-1][6:-1]) >= 1 << 20  # resumed, not restarted
    assert (tmp_path / "resources/downloads/mvtec_ad/mvtec.tar.gz").read_bytes() == body
    counts = {
        split: len(pd.read_parquet(tmp_path / f"results/datasets/screw-{split}/index.parquet"))
        for split in ("train", "val", "test")
    }
    assert counts["train"] == 3 and counts["val"] + counts["test"] == 3 and counts["val"] >= 1
    roots = {split: tmp_path / f"results/datasets/screw-{split}" for split in ("val", "test")}
    found = {image_id: root for root in roots.values() for image_id in pd.read_parquet(root / "index.parquet")["id"]}
    scratched = [image_id for image_id in found if "scratch_head" in image_id]
    assert len(scratched) == 2
    for image_id in scratched:
        mask = load_sample(found[image_id], image_id).mask
        assert set(np.unique(mask)) == {0, class_index("scratch")} and (mask > 0).sum() == 4 * 15


def test_a_checksum_mismatch_stops_the_download_and_keeps_the_bad_file_aside(tmp_path: Path):
    body = _mvtec_archive()
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


@pytest.mark.parametrize("config", ["sequential-patchcore-real.yaml"])
def test_a_real_study_without_its_data_says_what_to_download(tmp_path: Path, config: str):
    configs = [str(REPO / "config/sequential-patchcore.yaml"), str(REPO / "config" / config)]
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", *configs)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "config needs real data that is not here yet" in message
    assert "fraunhofer_plates" in message and "resources/downloads/fraunhofer_plates/" in message
    assert "Job stats" not in message
