"""The dataset registry: the shipped config/registry.yaml, and the errors a broken one gives."""

import copy
from pathlib import Path

import pytest
import torchvision.models as tvm
import yaml

from defectlab.data.converters import CONVERTERS
from defectlab.data.registry import (
    DEFAULT_REGISTRY,
    Credentials,
    RegistryError,
    entry,
    load_registry,
)

REQUIRED = {
    "mvtec_ad",
    "kolektorsdd2",
    "dagm2007",
    "magnetic_tile",
    "severstal",
    "csem_misd",
    "fraunhofer_plates",
    "clutch",
    "paint_defects",
    "mobilenet_v3_large",
    "wide_resnet50_2",
    "resnet50",
}

VALID = {
    "version": 1,
    "download_dir": "resources/downloads",
    "weights_dir": "resources/torch/hub/checkpoints",
    "entries": {
        "demo": {
            "kind": "dataset",
            "description": "a demo dataset",
            "converter": "mvtec_ad",
            "licence": {"name": "CC BY 4.0", "url": "https://example.org/licence", "redistribution": "yes"},
            "credentials": None,
            "archives": [
                {
                    "file": "demo.tar.gz",
                    "format": "tar.gz",
                    "urls": ["https://example.org/demo.tar.gz"],
                    "size": 10,
                    "sha256": "ab" * 32,
                }
            ],
        }
    },
}


def _write(tmp_path: Path, document) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def _broken(tmp_path: Path, change) -> str:
    document = copy.deepcopy(VALID)
    change(document["entries"]["demo"])
    with pytest.raises(RegistryError) as failure:
        load_registry(_write(tmp_path, document))
    return str(failure.value)


def test_shipped_registry_has_every_study_dataset():
    registry = load_registry()
    assert set(registry.entries) >= REQUIRED
    for item in registry:
        for archive in item.archives:
            assert archive.urls or item.manual, f"{item.name}/{archive.file} has no URL and is not manual"
        if item.manual or item.credentials:
            assert item.how_to_fetch


def test_shipped_registry_credentials():
    registry = load_registry()
    assert registry["severstal"].credentials == Credentials(
        env="KAGGLE_KEY", send="basic", username_env="KAGGLE_USERNAME"
    )
    assert registry["paint_defects"].credentials == Credentials(env="ROBOFLOW_API_KEY", send="query", name="api_key")


def test_weights_match_torchvision():
    """URLs and hash prefixes of the weights are torchvision's own, and they land in the weights cache."""
    registry = load_registry()
    expected = {
        "mobilenet_v3_large": tvm.MobileNet_V3_Large_Weights,
        "wide_resnet50_2": tvm.Wide_ResNet50_2_Weights,
        "resnet50": tvm.ResNet50_Weights,
    }
    for name, weights in expected.items():
        item = registry[name]
        assert item.kind == "weights" and item.converter is None and item.no_converter is None
        assert {a.urls[0] for a in item.archives} == {w.url for w in weights}
        for archive in item.archives:
            assert archive.format == "file"
            assert archive.file == archive.urls[0].rsplit("/", 1)[1]
            assert archive.file.endswith(f"-{archive.sha256_prefix}.pth")
            assert registry.destination(name, archive.file) == registry.weights_dir / archive.file


def test_entry_lookup_and_destination():
    assert entry("mvtec_ad").archive().file == "mvtec_anomaly_detection.tar.xz"
    registry = load_registry(DEFAULT_REGISTRY)
    assert registry.destination("mvtec_ad") == registry.download_dir / "mvtec_ad" / "mvtec_anomaly_detection.tar.xz"
    with pytest.raises(KeyError, match="no registry entry 'nope'.*known: .*mvtec_ad"):
        entry("nope", registry)
    with pytest.raises(KeyError, match="several archives"):
        registry["dagm2007"].archive()


def test_valid_registry_loads(tmp_path):
    registry = load_registry(_write(tmp_path, VALID))
    archive = registry["demo"].archive("demo.tar.gz")
    assert archive.urls == ("https://example.org/demo.tar.gz",) and archive.sha256 == "ab" * 32


def test_missing_url(tmp_path):
    message = _broken(tmp_path, lambda e: e["archives"][0].update(urls=[]))
    assert "entries.demo.archives[0].urls: missing" in message


def test_missing_urls_key(tmp_path):
    message = _broken(tmp_path, lambda e: e["archives"][0].pop("urls"))
    assert "entries.demo.archives[0].urls" in message


def test_bad_sha256(tmp_path):
    message = _broken(tmp_path, lambda e: e["archives"][0].update(sha256="abc123"))
    assert "entries.demo.archives[0].sha256: expected 64 hexadecimal digits" in message
    message = _broken(tmp_path, lambda e: e["archives"][0].update(sha256="zz" * 32))
    assert "sha256: expected 64 hexadecimal digits" in message


def test_every_named_converter_exists_and_the_others_say_why_not():
    """A dataset's converter is a module of defectlab.data.converters; where there is none, the entry says why."""
    datasets = [item for item in load_registry() if item.kind == "dataset"]
    assert {item.name for item in datasets if item.converter is None} == {"csem_misd"}
    for item in datasets:
        if item.converter is None:
            assert item.no_converter and "layout" in item.no_converter
        else:
            assert item.converter in CONVERTERS and item.no_converter is None


def test_unknown_converter(tmp_path):
    message = _broken(tmp_path, lambda e: e.update(converter="mvtec_loco"))
    assert "entries.demo.converter: no converter module 'mvtec_loco' in defectlab.data.converters" in message
    assert "kolektorsdd2" in message  # the known ones are listed


def test_no_converter_needs_a_reason(tmp_path):
    message = _broken(tmp_path, lambda e: e.update(converter=None))
    assert "entries.demo.no_converter: converter is null: say why there is none yet" in message
    message = _broken(tmp_path, lambda e: e.pop("converter"))
    assert "entries.demo.converter: required" in message
    message = _broken(tmp_path, lambda e: e.update(no_converter="not written yet"))
    assert "entries.demo.no_converter: only with converter: null" in message


def test_a_dataset_without_converter_loads_with_its_reason(tmp_path):
    document = copy.deepcopy(VALID)
    document["entries"]["demo"].update(converter=None, no_converter="Its layout is not documented.")
    item = load_registry(_write(tmp_path, document))["demo"]
    assert item.converter is None and item.no_converter == "Its layout is not documented."


def test_weights_name_no_converter(tmp_path):
    def change(e):
        e.update(kind="weights", converter="torchvision_weights")
        e["archives"][0]["format"] = "file"

    assert "entries.demo.converter: weights are used as downloaded; leave it out" in _broken(tmp_path, change)


def test_credentials_need_a_how_to(tmp_path):
    message = _broken(tmp_path, lambda e: e.update(credentials={"env": "KAGGLE_KEY", "send": "query", "name": "k"}))
    assert "entries.demo.how_to_fetch: required" in message


def test_credentials_are_checked(tmp_path):
    message = _broken(
        tmp_path,
        lambda e: e.update(credentials={"env": "kaggle key", "send": "basic"}, how_to_fetch="make a token"),
    )
    assert "credentials.env: expected an environment variable name" in message
    assert "credentials.username_env: send: basic needs" in message


def test_secret_in_a_url_is_refused(tmp_path):
    def change(e):
        e.update(credentials={"env": "ROBOFLOW_API_KEY", "send": "query", "name": "api_key"}, how_to_fetch="x")
        e["archives"][0]["urls"] = ["https://example.org/demo.tar.gz?api_key=abc"]

    assert "carries api_key= itself" in _broken(tmp_path, change)


def test_every_problem_is_reported_at_once(tmp_path):
    def change(e):
        e["licence"]["redistribution"] = "maybe"
        e["archives"][0]["format"] = "rar"
        e["colour"] = "blue"

    message = _broken(tmp_path, change)
    assert "3 problem(s)" in message
    assert (
        "licence.redistribution" in message
        and "format: expected one of" in message
        and "colour: unknown key" in message
    )


def test_duplicate_keys_are_refused(tmp_path):
    text = yaml.safe_dump(VALID) + "download_dir: elsewhere\n"
    with pytest.raises(RegistryError, match="duplicate key 'download_dir'"):
        load_registry(_write(tmp_path, text))


def test_unreadable_registry(tmp_path):
    with pytest.raises(RegistryError, match="registry file not found"):
        load_registry(tmp_path / "missing.yaml")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(_write(tmp_path, "entries: [unclosed\n"))
