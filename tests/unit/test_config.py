"""Start-up checks of the run configuration: each bad config is refused with the key, file and line named."""

import re
import subprocess
import sys
from pathlib import Path

import config_files
import pytest
import torch
import yaml

from defectlab.config import ConfigError, ConfigFileError, fill_defaults
from defectlab.config.checks import NAME_PATTERN
from defectlab.config.sections import experiment_settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config/schema/config.schema.yaml"
DEFAULT = REPO / "config/config.yaml"


def checked(tmp_path: Path, override: dict | str, base: Path = DEFAULT) -> tuple[dict, list[str]]:
    return config_files.checked(tmp_path, override, base)


def run_checks(tmp_path: Path, override: dict | str) -> list[str]:
    return checked(tmp_path, override)[1]


def refusal(tmp_path: Path, override: dict | str) -> str:
    with pytest.raises((ConfigError, ConfigFileError)) as caught:
        run_checks(tmp_path, override)
    return str(caught.value)


def test_the_default_config_passes(tmp_path: Path):
    assert run_checks(tmp_path, {}) == []


def test_a_training_dataset_may_take_the_theses_training_grid(tmp_path: Path):
    """Stride 512 for 128-pixel tiles and no flush edges on the training plates: allowed, not scored."""
    from defectlab.config.sections import patch_settings

    assert run_checks(tmp_path, {"datasets": {"plates-train": {"patches": {"stride": 512, "edges": "none"}}}}) == []
    config = {
        "patches": {"size": 128, "stride": 64, "edges": "flush"},
        "datasets": {
            "a": {"split": "train", "count": 2, "patches": {"stride": 512}},
            "b": {"split": "train", "count": 2, "twin_of": "a"},
        },
    }
    assert patch_settings(config, "b") == {"size": 128, "stride": 512, "edges": "flush"}


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
        ({"patchcore": {"coreset": {"device": "gpu"}}}, "patchcore.coreset.device: 'gpu' does not match"),
        ({"patchcore": {"scoring": {"device": "cuda:x"}}}, "patchcore.scoring.device: 'cuda:x' does not match"),
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
        ({"datasets": {"x": {"split": "train"}}}, "datasets.x: needs `count` (objects to generate) or `source`"),
        ({"datasets": {"x": {"split": "train", "count": 2, "twin_of": "y"}}}, "datasets.x.twin_of: names 'y'"),
        ({"datasets": {"x": {"split": "test", "count": 2, "defects": {"max": 7}}}}, "datasets.x.defects.max: 7 is"),
        (
            {"datasets": {"clean": {"split": "val", "count": 3}}, "experiments": {"plates": {"val": "clean"}}},
            "experiments.plates.val: dataset 'clean' renders no defect (the threshold is fitted on its",
        ),
        (
            {"datasets": {"clean": {"split": "test", "count": 3}}, "experiments": {"plates": {"test": "clean"}}},
            "experiments.plates.test: dataset 'clean' renders no defect (AUROC, AUPRO and recall need defect",
        ),
        # tiles, shards and the backbone
        ({"patches": {"stride": 200}}, "patches.stride: 200 exceeds patches.size 128: pixels between tiles"),
        ({"patches": {"edges": "none"}}, "patches.edges: none leaves the right and bottom edges of scored"),
        (
            {"datasets": {"plates-test": {"patches": {"stride": 512}}}},
            "datasets.plates-test.patches.stride: 512 exceeds patches.size 128, and 'plates-test' is scored",
        ),
        (
            {"datasets": {"plates-val": {"patches": {"edges": "none"}}}},
            "datasets.plates-val.patches.edges: none leaves the right and bottom edges of 'plates-val' in no tile",
        ),
        (
            {"patches": {"size": 100, "stride": 50}},
            "patches.size: 100 is not a multiple of the feature stride 8 of tf_efficientnet_lite0",
        ),
        ({"patches": {"size": 512, "stride": 256}}, "patches.size: 512 exceeds the rendered images (256 px"),
        ({"patches": {"min_mean_intensity": 255}}, "patches.min_mean_intensity: 255 drops every tile"),
        ({"patches": {"shards": 7}}, "patches.shards: 7 patch shards for the 6 images of dataset 'plates-val'"),
        (
            {"patchcore": {"backbone": {"name": "resnet_nope", "weights": "none"}}},
            "patchcore.backbone: unknown backbone 'resnet_nope'",
        ),
        (
            {"patchcore": {"backbone": {"name": "resnet18"}}},
            "'package' weights exist only for tf_efficientnet_lite0, not 'resnet18'",
        ),
        (
            {"patchcore": {"backbone": {"layers": [3, 2]}}},
            "patchcore.backbone: layers must be increasing indices in 0..4, got (3, 2)",
        ),
        (
            {"patchcore": {"backbone": {"weights": "/nowhere/w.pth"}}},
            "patchcore.backbone.weights: /nowhere/w.pth: no such file",
        ),
        (
            {"patchcore": {"backbone": {"weights": "resources/torch/hub/checkpoints/mine.pth"}}},
            "resources/torch/hub/checkpoints/mine.pth: not a weights file of the registry (known: mobilenet",
        ),
        (
            {"patchcore": {"coreset": {"size": 10**6}}},
            "patchcore.coreset.size: 1000000 is above 65536: its 1000000x1000000 float64 distance",
        ),
        ({"patchcore": {"coreset": {"meld_size": 65537}}}, "patchcore.coreset.meld_size: 65537 is above 65536"),
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
    assert "cannot be read by torch.load" in refusal(tmp_path, {"patchcore": {"backbone": {"weights": str(junk)}}})
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listed)
    assert "does not hold a state dict" in refusal(tmp_path, {"patchcore": {"backbone": {"weights": str(listed)}}})
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(2)}, other)
    assert "do not fit 'tf_efficientnet_lite0'" in refusal(
        tmp_path, {"patchcore": {"backbone": {"weights": str(other)}}}
    )


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


def test_defaults_fill_every_setting_the_jobs_read():
    """Defaults behind a `$ref` and inside sections are filled (jobs read e.g. coreset.device without a fallback)."""
    schema = yaml.safe_load(SCHEMA.read_text())
    config = {
        "datasets": {"a": {"split": "train", "count": 1}},
        "experiments": {"e": {"train": ["a"], "val": "a", "test": "a"}},
    }
    fill_defaults(config, schema)
    for section, spec in schema["properties"].items():
        if section not in config and "default" not in spec:
            continue  # an optional section (latent): absent, no analysis
        for key, value in spec.get("properties", {}).items():
            if "default" in value:
                assert key in config[section], f"{section}.{key}"
    assert config["patchcore"]["coreset"]["device"] == "auto" and config["patchcore"]["coreset"]["augment"]["flip"]
    assert config["experiments"]["e"]["threshold"] == {"rule": "f1", "fit_on": "val"}
    assert config["experiments"]["e"]["unit"] == "pixel" and config["datasets"]["a"]["shards"] == 1


def test_the_start_up_coreset_bound_is_the_coresets_own():
    from defectlab.config.checks import MAX_CORESET
    from defectlab.patchcore.sequential import MAX_SIZE

    assert MAX_CORESET == MAX_SIZE


# Generators, models, their sections and the evaluation keys


def test_unknown_model_and_generator_are_refused_listing_the_known_ones(tmp_path: Path):
    message = refusal(tmp_path, {"experiments": {"plates": {"model": "mask-rcnn"}}})
    known = "patchcore, cutpaste, cae, vae, aae, intensity, deviation, fcn, deeplabv3, unet"
    assert f"override.yaml:3: experiments.plates.model: unknown model 'mask-rcnn'; known: {known}" in message
    message = refusal(tmp_path, {"datasets": {"plates-val": {"generator": "gears"}}})
    known = "known: plates, chess, noise, boards, clutch"
    assert f"override.yaml:3: datasets.plates-val.generator: unknown generator 'gears'; {known}" in message


def test_a_key_the_generator_or_model_does_not_take_is_refused_naming_both(tmp_path: Path):
    message = refusal(tmp_path, {"experiments": {"plates": {"light": "hex"}}})
    assert "experiments.plates.light: model 'patchcore' takes no key 'light'; it takes: model, label, train" in message
    message = refusal(tmp_path, {"datasets": {"plates-val": {"meld": ["plates"]}}})
    assert "datasets.plates-val.meld: generator 'plates' takes no key 'meld'; it takes: generator, split" in message
    message = refusal(tmp_path, {"datasets": {"x": {"split": "test", "generator": "plates", "source": {"entry": "a"}}}})
    assert "datasets.x: give `generator` (generated images) or `source` (real data), not both" in message


def test_a_key_of_another_model_is_refused_with_the_models_blocks_of_the_schema():
    """With a second model in the schema (as the model issues add them), PatchCore's keys are refused on it."""
    from defectlab.config.sections import key_problems

    schema = yaml.safe_load(SCHEMA.read_text())
    schema["$defs"]["models"]["toy"] = {"properties": {"epochs": {"type": "integer"}}}
    schema["$defs"]["experiment"]["properties"]["model"]["enum"].append("toy")
    config = {"experiments": {"t": {"model": "toy", "epochs": 3, "augment": True, "train": ["a"], "test": "a"}}}
    assert list(key_problems(config, schema)) == [
        (("experiments", "t", "augment"), f"model 'toy' takes no key 'augment'; it takes: {TAKES_TOY}")
    ]


TAKES_TOY = "model, label, train, val, test, threshold, unit, patch, epochs"


def test_older_top_level_sections_are_read_as_patchcores_with_a_warning(tmp_path: Path):
    old = tmp_path / "old.yaml"
    text = DEFAULT.read_text().replace("patchcore:", "legacy:")
    config_text = yaml.safe_load(text)
    config_text.update(config_text.pop("legacy"))  # backbone, coreset, scoring at the top, as before
    old.write_text(yaml.safe_dump(config_text, sort_keys=False))
    config, warnings = checked(tmp_path, {"coreset": {"size": 64}}, base=old)
    assert config["patchcore"]["coreset"]["size"] == 64 and config["patchcore"]["backbone"]["pool"] == 2
    assert "backbone" not in config and "coreset" not in config
    assert "top-level `coreset` is read as `patchcore.coreset`, its place since models have sections" in warnings
    # the moved keys keep their lines: an error inside names the file and line where it was written
    with pytest.raises(ConfigError, match=r"old.yaml:\d+: patchcore.coreset.device: 'gpu' does not match"):
        checked(tmp_path, {"experiments": {"plates": {"train": ["plates-train"], **ROLES}}}, base=_with(old, "gpu"))
    # given in both places: refused, since which one wins would be a guess
    assert "coreset: given here and as patchcore.coreset: keep only patchcore.coreset" in refusal(
        tmp_path, {"coreset": {"size": 64}}
    )


def _with(path: Path, device: str) -> Path:
    config = yaml.safe_load(path.read_text())
    config["coreset"]["device"] = device
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_an_experiment_overrides_its_models_section_key_by_key(tmp_path: Path):
    override = {
        "patchcore": {"coreset": {"size": 256}},
        "experiments": {
            "plates": {"train": ["plates-train"], **ROLES, "coreset": {"max_epochs": 1, "augment": {"flip": False}}},
            "other": {"train": ["plates-train"], **ROLES, "backbone": {"pool": 3}},
        },
    }
    config, _ = checked(tmp_path, override)
    mine = experiment_settings(config, "plates")
    assert (mine["coreset"]["size"], mine["coreset"]["max_epochs"], mine["coreset"]["meld_size"]) == (256, 1, 512)
    assert mine["coreset"]["augment"]["flip"] is False and mine["coreset"]["augment"]["noise_std"] == [0, 4]
    assert mine["backbone"]["pool"] == 2 and experiment_settings(config, "other")["backbone"]["pool"] == 3
    # the override itself holds only what was written: no schema default replaced the section's value
    assert config["experiments"]["plates"]["coreset"] == {"max_epochs": 1, "augment": {"flip": False}}


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        ({"threshold": {"rule": "iou"}, "unit": "image"}, "threshold.rule: iou is a pixel measure; unit 'image' takes"),
        (
            {"threshold": {"rule": "max"}},
            "experiments.plates.threshold.rule: 'max' is not one of ['f1', 'iou', 'youden']",
        ),
        ({"unit": "region"}, "experiments.plates.unit: 'region' is not one of ['pixel', 'image', 'patch']"),
        (
            {"val": None},
            "experiments.plates: needs `val` (the dataset the threshold is fitted on), or threshold.fit_on",
        ),
        ({"backbone": {"name": "resnet_nope"}}, "experiments.plates.backbone: unknown backbone 'resnet_nope'"),
    ],
)
def test_bad_evaluation_and_override_keys_are_refused(tmp_path: Path, experiment: dict, message: str):
    spec = {"train": ["plates-train"], **ROLES, **experiment}
    spec = {k: v for k, v in spec.items() if v is not None}
    base = tmp_path / "base.yaml"
    config = yaml.safe_load(DEFAULT.read_text())
    config["experiments"] = {"plates": spec}
    base.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises((ConfigError, ConfigFileError)) as caught:
        checked(tmp_path, {}, base=base)
    assert message in str(caught.value)


def test_an_oracle_threshold_needs_no_val_and_is_not_warned_about(tmp_path: Path):
    base = tmp_path / "base.yaml"
    config = yaml.safe_load(DEFAULT.read_text())
    config["experiments"] = {
        "plates": {"train": ["plates-train"], "test": "plates-test", "threshold": {"fit_on": "test"}}
    }
    base.write_text(yaml.safe_dump(config, sort_keys=False))
    config, warnings = checked(tmp_path, {}, base=base)
    assert config["experiments"]["plates"]["threshold"] == {"fit_on": "test", "rule": "f1"} and warnings == []


def test_torchvision_backbones_take_the_registrys_weights_files(tmp_path: Path):
    mobilenet = {"name": "torchvision:mobilenet_v3_large", "layers": [2, 3]}
    # ResNet-18's weights are not a file the registry fetches (yet): refused until placed by hand
    message = refusal(tmp_path, {"patchcore": {"backbone": {"name": "torchvision:resnet18", "weights": "registry"}}})
    assert "checkpoints/resnet18-f37072fd.pth: neither a weights file of the registry nor placed there" in message
    # MobileNetV3-large's V1 weights are (the Sequential PatchCore paper's backbone); an experiment's own too
    assert run_checks(tmp_path, {"patchcore": {"backbone": {**mobilenet, "weights": "registry:IMAGENET1K_V1"}}}) == []
    own = {"plates": {"train": ["plates-train"], **ROLES, "backbone": {**mobilenet, "weights": "none"}}}
    assert run_checks(tmp_path, {"experiments": own}) == []


def test_baselines_take_no_patchcore_keys_and_intensity_no_training_data(tmp_path: Path):
    spec = {"model": "deviation", "train": ["plates-train"], **ROLES}
    assert run_checks(tmp_path, {"experiments": {"dev": spec}}) == []
    message = refusal(tmp_path, {"experiments": {"dev": {**spec, "coreset": {"size": 64}}}})
    assert "experiments.dev.coreset: model 'deviation' takes no key 'coreset'; it takes: model, label, train" in message
    message = refusal(tmp_path, {"experiments": {"raw": {**spec, "model": "intensity"}}})
    assert "experiments.raw.train: model 'intensity' takes no training data" in message
    message = refusal(tmp_path, {"experiments": {"dev": {"model": "deviation", **ROLES}}})
    assert "experiments.dev: needs `train`: the datasets the model trains on" in message


def test_a_generated_test_dataset_without_an_anomaly_is_refused_saying_how_to_give_it_one(tmp_path: Path):
    datasets = {
        "chess-train": {"generator": "chess", "split": "train", "count": 2, "size": 32, "square": 4},
        "chess-clean": {"generator": "chess", "split": "test", "count": 2, "twin_of": "chess-train"},
    }
    experiments = {
        "c": {"model": "cae", "train": ["chess-train"], "test": "chess-clean", "threshold": {"fit_on": "test"}}
    }
    message = refusal(tmp_path, {"datasets": datasets, "experiments": experiments})
    assert "experiments.c.test: dataset 'chess-clean' renders no defect (AUROC, AUPRO and recall need defect" in message
    assert "give it an `anomaly`" in message


KITCHEN = REPO / "config/kitchen-boards.yaml"


def test_the_kitchen_study_passes_and_its_checks_name_what_to_change(tmp_path: Path):
    assert checked(tmp_path, {}, KITCHEN)[1] == []

    def refused(override: dict) -> str:
        with pytest.raises((ConfigError, ConfigFileError)) as caught:
            checked(tmp_path, override, KITCHEN)
        return str(caught.value)

    assert "datasets.kb-white-test.patches: needs grid: exclusions: experiment 'pc-white-r50'" in refused(
        {"datasets": {"kb-white-test": {"patches": {"grid": "image"}}}}
    )
    assert "experiments.pc-white-r18.patch: size 224, stride 64: the patch store of 'kb-white-test'" in refused(
        {"experiments": {"pc-white-r18": {"patch": {"stride": 64}}}}
    )
    assert "patchcore.scoring.patch_score: reweighted scores test patches: experiment 'pc-white-r18' needs" in (
        refused({"experiments": {"pc-white-r18": {"unit": "pixel", "val": "kb-white-val"}}})
    )
    assert "report.kitchen_rows: names 'nope', which is not a configured patch-unit experiment" in refused(
        {"report": {"kitchen_rows": {"nope": 3}}}
    )


def test_an_overlay_may_give_a_generated_stand_in_a_source_but_one_file_may_not_give_both(tmp_path: Path):
    """config/kitchen-boards-real.yaml turns the generated boards into the real ones; a dataset given both in one
    file is refused."""
    real = yaml.safe_load((REPO / "config/kitchen-boards-real.yaml").read_text())
    config, warnings = checked(tmp_path, real, KITCHEN)
    assert config["datasets"]["kb-white-test"]["source"]["entry"] == "kitchen_boards" and warnings == []
    both = {"datasets": {"x": {"split": "train", "generator": "boards", "source": {"entry": "kitchen_boards"}}}}
    with pytest.raises((ConfigError, ConfigFileError), match="give `generator` .* or `source` .*, not both"):
        checked(tmp_path, both, KITCHEN)
