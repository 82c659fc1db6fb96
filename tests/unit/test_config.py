"""Start-up checks of the run configuration: each bad config is refused with the key, file and line named."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.utils import update_config, validate

from defectlab.config import ConfigError, ConfigFileError, check_config, check_files, check_schema
from defectlab.config.checks import NAME_PATTERN
from defectlab.data.registry import load_registry

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config/schema/config.schema.yaml"
DEFAULT = REPO / "config/config.yaml"
REGISTRY = load_registry(REPO / "config/registry.yaml")
KNOWN_WEIGHTS = {a.file for e in REGISTRY if e.kind == "weights" for a in e.archives}


def run_checks(tmp_path: Path, override: dict | str) -> list[str]:
    """The default config with `override` (a mapping, or YAML text) given as a second config file."""
    extra = tmp_path / "override.yaml"
    extra.write_text(override if isinstance(override, str) else yaml.safe_dump(override, sort_keys=False))
    files = [DEFAULT, extra]
    where = check_files(files)
    config: dict = {}
    for path in files:
        update_config(config, yaml.safe_load(path.read_text()) or {})
    check_schema(config, where, SCHEMA)
    validate(config, str(SCHEMA), set_default=True)
    return check_config(config, where, weights_dir=REGISTRY.weights_dir, known_weights=KNOWN_WEIGHTS)


def refusal(tmp_path: Path, override: dict | str) -> str:
    with pytest.raises((ConfigError, ConfigFileError)) as caught:
        run_checks(tmp_path, override)
    return str(caught.value)


def test_the_default_config_passes(tmp_path: Path):
    assert run_checks(tmp_path, {}) == []


PLATES = {"split": "train", "count": 2}
ROLES = {"val": "plates-val", "test": "plates-test"}


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../x", "with space", "", "plätes", ".hidden", "-x", "a" * 101])
def test_unsafe_names_are_refused_before_anything_else(tmp_path: Path, name: str):
    for section, spec in (("datasets", PLATES), ("experiments", {"train": ["plates-train"], **ROLES})):
        message = refusal(tmp_path, {section: {name: spec}})
        assert f"override.yaml:2: {section}: name {name!r} is not allowed" in message


@pytest.mark.parametrize(
    ("override", "message"),
    [
        # names and labels
        (
            {"experiments": {"other": {"label": "plates", "train": ["plates-train"], **ROLES}}},
            "override.yaml:3: experiments.other.label: label 'plates' is taken by experiment 'plates'",
        ),
        ({"experiments": {"plates": {"label": "a | b"}}}, "experiments.plates.label: label 'a | b': one line"),
        # integers are YAML integers
        ({"seed": 4.0}, "override.yaml:1: seed: 4.0 is not of type 'integer'"),
        ({"seed": 2**70}, "seed: 1180591620717411303424 is greater than the maximum of 9223372036854775807"),
        ({"datasets": {"plates-val": {"count": 4.0}}}, "override.yaml:3: datasets.plates-val.count: 4.0 is not of"),
        ({"datasets": {"plates-val": {"count": 10**9}}}, "count: 1000000000 is greater than the maximum of 1000000"),
        # short schema messages, with the key's own line
        ({"render": {"resolution": 256, "sampels": 4}}, "override.yaml:3: render.sampels: Additional properties"),
        ({"bogus": 1}, "override.yaml:1: bogus: Additional properties are not allowed ('bogus' was unexpected)"),
        ({"coreset": {"device": "gpu"}}, "coreset.device: 'gpu' does not match"),
        ({"scoring": {"device": "cuda:x"}}, "scoring.device: 'cuda:x' does not match"),
        # the experiment matrix
        (
            {"experiments": {"plates": {"meld": ["a", "b"]}}},
            "experiments.plates: give `train` (datasets to train on) or `meld` (experiments to meld), not both",
        ),
        (
            {
                "experiments": {
                    "a": {"pretrained": "b", "train": ["plates-train"], **ROLES},
                    "b": {"pretrained": "a", "train": ["plates-train"], **ROLES},
                }
            },
            "experiments.a: experiments build on each other in a cycle: a -> b -> a",
        ),
        ({"experiments": {"m": {"meld": ["plates", "x"], **ROLES}}}, "builds on experiment 'x', which is not"),
        ({"experiments": {"m": {"pretrained": "plates", **ROLES}}}, "experiments.m: `pretrained` needs `train`"),
        # datasets
        (
            {"datasets": {"plates-train": {"twin_of": "plates-train-ws"}}},
            "datasets.plates-train.twin_of: twin_of forms a cycle: plates-train -> plates-train-ws -> plates-train",
        ),
        ({"datasets": {"x": {"split": "train"}}}, "datasets.x: needs `count` (plates to render) or `source`"),
        ({"datasets": {"x": {"split": "train", "count": 2, "twin_of": "y"}}}, "datasets.x.twin_of: names 'y'"),
        ({"datasets": {"x": {"split": "test", "count": 2, "defects": {"max": 7}}}}, "datasets.x.defects.max: 7 is"),
        (
            {"datasets": {"clean": {"split": "val", "count": 3}}, "experiments": {"plates": {"val": "clean"}}},
            "experiments.plates.val: dataset 'clean' renders no defect (the pixel threshold is fitted on",
        ),
        (
            {"datasets": {"clean": {"split": "test", "count": 3}}, "experiments": {"plates": {"test": "clean"}}},
            "experiments.plates.test: dataset 'clean' renders no defect (AUROC, AUPRO and recall need defect",
        ),
        # tiles, shards and the backbone
        ({"patches": {"stride": 200}}, "patches.stride: 200 exceeds patches.size 128: pixels between tiles"),
        ({"patches": {"size": 100, "stride": 50}}, "patches.size: 100 is not a multiple of the backbone's feature"),
        ({"patches": {"size": 512, "stride": 256}}, "patches.size: 512 exceeds the rendered images (256 px"),
        ({"patches": {"min_mean_intensity": 255}}, "patches.min_mean_intensity: 255 drops every tile"),
        ({"patches": {"shards": 7}}, "patches.shards: 7 patch shards for the 6 images of dataset 'plates-val'"),
        ({"backbone": {"name": "resnet_nope", "weights": "none"}}, "backbone: unknown backbone 'resnet_nope'"),
        ({"backbone": {"name": "resnet18"}}, "'package' weights exist only for tf_efficientnet_lite0, not 'resnet18'"),
        ({"backbone": {"layers": [3, 2]}}, "backbone: layers must be increasing indices in 0..4, got (3, 2)"),
        ({"backbone": {"weights": "/nowhere/w.pth"}}, "backbone.weights: /nowhere/w.pth: no such file"),
        (
            {"backbone": {"weights": "resources/torch/hub/checkpoints/mine.pth"}},
            "resources/torch/hub/checkpoints/mine.pth: not a weights file of the registry (known: mobilenet",
        ),
        ({"coreset": {"size": 10**6}}, "coreset.size: 1000000 is above 65536: its 1000000x1000000 float64 distance"),
        ({"coreset": {"meld_size": 65537}}, "coreset.meld_size: 65537 is above 65536"),
        # report
        ({"report": {"table1": ["plates", "nope"]}}, "report.table1: names experiment 'nope', which is not"),
        ({"report": {"sweep": "nope"}}, "report.sweep: names experiment 'nope', which is not configured"),
    ],
)
def test_bad_config_is_refused_naming_key_and_line(tmp_path: Path, override: dict, message: str):
    assert message in refusal(tmp_path, override)


def test_weights_files_that_are_no_state_dict_or_do_not_fit(tmp_path: Path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    assert "cannot be read by torch.load" in refusal(tmp_path, {"backbone": {"weights": str(junk)}})
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listed)
    assert "does not hold a state dict" in refusal(tmp_path, {"backbone": {"weights": str(listed)}})
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(2)}, other)
    assert "do not fit 'tf_efficientnet_lite0'" in refusal(tmp_path, {"backbone": {"weights": str(other)}})


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path):
    message = refusal(tmp_path, "seed: 4\nrender:\n  samples: 4\n  samples: 8\n")
    assert message.endswith(
        "override.yaml:4:3: key 'render.samples' given twice (first at line 3); YAML would silently keep the last"
    )


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path: Path):
    message = refusal(tmp_path, "datasets:\n  plates-val: {split: val\n")
    assert "override.yaml:3:1: YAML syntax error: expected ',' or '}'" in message


def test_a_config_file_must_hold_a_mapping(tmp_path: Path):
    assert "a config file holds a mapping of keys, not list" in refusal(tmp_path, "- seed\n")


def test_odd_but_legal_settings_warn(tmp_path: Path):
    warnings = run_checks(tmp_path, {"experiments": {"plates": {"test": "plates-val"}}})
    assert warnings == [
        "experiments.plates: val and test are one dataset 'plates-val': the threshold is fitted on test"
    ]


def test_start_up_planning_is_bounded_whatever_the_count(tmp_path: Path):
    """A huge dataset is checked on its first samples only (planning every one took minutes)."""
    assert run_checks(tmp_path, {"datasets": {"plates-test": {"count": 1000000}}}) == []


def test_the_name_rule_is_a_safe_path_component():
    for name in ("plates", "plates-train.v2", "A_1"):
        assert re.fullmatch(NAME_PATTERN, name)
    for name in ("..", ".", "a/b", "a b", "", "\\x"):
        assert not re.fullmatch(NAME_PATTERN, name)


def test_the_command_line_check_names_the_file_of_a_syntax_error(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  x: {split: train\n")
    result = subprocess.run([sys.executable, "-m", "defectlab.config", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{bad}:3:1: YAML syntax error" in result.stderr
    good = subprocess.run([sys.executable, "-m", "defectlab.config", str(DEFAULT)], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "config OK" in good.stdout


def test_validation_fills_every_default_the_jobs_read():
    """Defaults behind a `$ref` are filled too (jobs read e.g. coreset.device without a fallback)."""
    schema = yaml.safe_load(SCHEMA.read_text())
    config = {
        "datasets": {"a": {"split": "train", "count": 1}},
        "experiments": {"e": {"train": ["a"], "val": "a", "test": "a"}},
    }
    validate(config, str(SCHEMA), set_default=True)
    for section, spec in schema["properties"].items():
        for key, value in spec.get("properties", {}).items():
            if "default" in value:
                assert key in config[section], f"{section}.{key}"


def test_the_start_up_coreset_bound_is_the_coresets_own():
    from defectlab.config.checks import MAX_CORESET
    from defectlab.patchcore.sequential import MAX_SIZE

    assert MAX_CORESET == MAX_SIZE
