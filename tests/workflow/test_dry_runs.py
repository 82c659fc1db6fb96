"""Every shipped config dry-runs with both profiles, and bad config stops before any job."""

import re
from pathlib import Path

import pytest
import yaml
from helpers import REPO, snakemake

# run configs (the registry is not one; the real-data studies are overrides whose data or credentials are absent
# here: test_real_data and the segmentation workflow tests check their messages)
REAL = (
    "sequential-patchcore-real.yaml",
    "kitchen-boards-real.yaml",
    "clutch-segmentation-real.yaml",
    "clutch-segmentation-planar.yaml",
    "latent-space-paint.yaml",
)
CONFIGS = sorted(p for p in (REPO / "config").glob("*.yaml") if p.name not in ("registry.yaml", *REAL))
PROFILES = ["local", "slurm"]
# the segmentation study runs over the clutch datasets' config (and its laptop sizes over theirs)
OVER = {
    "clutch-segmentation.yaml": ["clutch.yaml"],
    "clutch-segmentation-small.yaml": ["clutch.yaml", "clutch-small.yaml", "clutch-segmentation.yaml"],
}
TRAINED = {"autoencoders": "train_autoencoder", "clutch-segmentation": "train_segmentation"}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_dry_runs(config: Path, profile: str, tmp_path: Path):
    # a -small file holds the laptop sizes of its study: it runs over the study's own file
    if config.name in OVER:
        configs = [*(config.with_name(name) for name in OVER[config.name]), config]
    elif config.stem.endswith("-small"):
        configs = [config.with_stem(config.stem[: -len("-small")]), config]
    else:
        configs = [config]
    result = snakemake(
        tmp_path, "-n", "--profile", str(REPO / "profiles" / profile), "--configfile", *map(str, configs)
    )
    assert result.returncode == 0, result.stderr
    if any("experiments" in yaml.safe_load(c.read_text()) for c in configs):
        trained = next((rule for study, rule in TRAINED.items() if config.stem.startswith(study)), "meld")
        assert trained in result.stdout and "metrics_table" in result.stdout
    else:  # a datasets-only run (the clutch) or an analysis (the latent space): no experiment, no metrics
        assert "metrics_table" not in result.stdout
    if any("latent" in yaml.safe_load(c.read_text()) for c in configs):
        assert "train_classifier" in result.stdout and "latent_report" in result.stdout
    # rendered plates or clutches, generated images, or a real dataset fetched, verified, extracted, converted and split
    jobs = set(re.findall(r"^(\w+)\s+\d+$", result.stdout, flags=re.M))
    assert (
        jobs & {"render", "render_clutch", "generate"} or {"download", "extract", "convert", "select_dataset"} <= jobs
    )


def test_local_profile_gives_the_one_gpu_to_gpu_rules_only(tmp_path: Path):
    """Workstation: GPU rules hold the profile's single `gpu` resource, so they never run two at a time."""
    args = ("-n", "--profile", str(REPO / "profiles/local"), "--configfile", str(REPO / "config/tiny.yaml"))
    result = snakemake(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    takes_gpu = {
        rule: "gpu=1" in block
        for rule, block in re.findall(r"^rule (\w+):\n(.*?)(?=^\n|\Z)", result.stdout, flags=re.M | re.S)
    }
    assert takes_gpu["coreset_shard"] and takes_gpu["patchcore_maps"]
    assert not any(takes_gpu[rule] for rule in ("render", "patches", "meld", "evaluate"))


def test_the_slurm_profile_sends_every_rule_asking_for_a_gpu_to_the_gpu_partition():
    rules = [*(REPO / "rules").glob("*.smk"), *(REPO / "rules/models").glob("*.smk")]
    blocks = re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", "".join(p.read_text() for p in rules), flags=re.M | re.S)
    gpu_rules = sorted(rule for rule, block in blocks if re.search(r"^\s+gpu=1,", block, flags=re.M))
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())["set-resources"]
    assert len(gpu_rules) >= 12
    assert [rule for rule in gpu_rules if profile.get(rule, {}).get("slurm_partition") != "gpu"] == []


def _refused(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(REPO / "config/config.yaml"), str(path))
    assert result.returncode != 0
    assert "Job stats" not in result.stdout
    return result.stdout + result.stderr


def test_unknown_key_is_refused_by_name(tmp_path: Path):
    assert "'sampels' was unexpected" in _refused(tmp_path, {"render": {"sampels": 4}})


def test_wrong_type_is_refused_by_name(tmp_path: Path):
    message = _refused(tmp_path, {"patches": {"stride": "wide"}})
    assert "'wide' is not of type 'integer'" in message
    assert "stride" in message


def test_experiment_naming_an_unknown_dataset_is_refused(tmp_path: Path):
    message = _refused(
        tmp_path, {"experiments": {"plates": {"train": ["nowhere"], "val": "plates-val", "test": "plates-test"}}}
    )
    assert "experiments.plates.train: names dataset 'nowhere', which is not under datasets" in message


@pytest.mark.parametrize("section", ["datasets", "experiments"])
def test_a_name_that_is_a_path_is_refused_and_results_are_untouched(tmp_path: Path, section: str):
    """A dataset named `..` once made its output folder `results/` itself, deleted by the first job."""
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    (results / "tables" / "metrics.parquet").write_bytes(b"earlier results")
    spec = (
        {"split": "train", "count": 2}
        if section == "datasets"
        else {"train": ["plates-train"], "val": "plates-val", "test": "plates-test"}
    )
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({section: {"..": spec}}))
    result = snakemake(tmp_path, "--cores", "1", "--configfile", str(REPO / "config/config.yaml"), str(path))
    assert result.returncode != 0
    assert f"bad.yaml:2: {section}: name '..' is not allowed" in result.stdout + result.stderr
    assert [p.relative_to(tmp_path) for p in sorted(results.rglob("*"))] == [
        Path("results/tables"),
        Path("results/tables/metrics.parquet"),
    ]
    assert (results / "tables" / "metrics.parquet").read_bytes() == b"earlier results"


def test_a_key_given_twice_in_the_default_config_is_refused_with_its_line(tmp_path: Path):
    """The default config (read by the Snakefile's `configfile:`) is checked as strictly as --configfile ones."""
    (tmp_path / "config").mkdir()
    default = (REPO / "config/config.yaml").read_text()
    (tmp_path / "config" / "config.yaml").write_text(default + "seed: 8\n")
    result = snakemake(tmp_path, "-n", "--cores", "1")
    assert result.returncode != 0
    line = len(default.splitlines()) + 1
    assert f"config/config.yaml:{line}:1: key 'seed' given twice (first at line 3)" in result.stdout + result.stderr


def test_conda_env_pins_agree_with_requirements():
    requirements = {
        line.split("#")[0].strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    env = yaml.safe_load((REPO / "envs/pipeline.yaml").read_text())
    pins = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pins) <= requirements


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"twin_of": "nowhere"}, "bad.yaml:5: datasets.plates-train-ws.twin_of: names 'nowhere'"),
        (
            {"water_stains": {"cell": 0.01, "radius": 0.009}},
            "bad.yaml:2: datasets.plates-train-ws: water_stains: radius",
        ),
        ({"defects": {"max": 1, "scratch": {"width": [0.002, 0.001]}}}, "range [0.002, 0.001]: low above high"),
        ({"light": "dome"}, "'dome' is not one of ['hex', 'hex-rot90', 'hex-2x']"),
    ],
)
def test_bad_dataset_is_refused_before_any_job(tmp_path: Path, dataset: dict, message: str):
    spec = {"split": "train", "count": 16, **dataset}
    assert message in _refused(tmp_path, {"datasets": {"plates-train-ws": spec}})


STUDY = (REPO / "config/sequential-patchcore.yaml", REPO / "config/sequential-patchcore-small.yaml")


def _dry_run(tmp_path: Path, *configs: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Job counts per rule, and each job's input files keyed by its output, from a dry run."""
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", *map(str, configs))
    assert result.returncode == 0, result.stderr
    counts = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M) if rule != "total"}
    inputs = {
        output: [path.strip() for path in given.split(",")]
        for given, output in re.findall(r"^    input: (.*)\n    output: (.*)$", result.stdout, flags=re.M)
    }
    return counts, inputs


def test_the_study_matrix_expands_to_its_jobs(tmp_path: Path):
    counts, inputs = _dry_run(tmp_path, *STUDY)
    assert counts["evaluate"] == counts["example_figure"] == 19
    assert counts["finetune"] == 8 and counts["meld"] == 9 + 2 and counts["study_tables"] == 1
    # shard coresets: 7 training datasets, each plain and augmented, except real-train (plain only), 2 shards each
    assert counts["coreset_shard"] == (6 * 2 + 1) * 2
    assert counts["patchcore_maps"] == 19 * 2 * 2  # val and test, two patch stores each
    assert inputs["results/coresets/synth-ws-ft.h5"] == [
        "results/coresets/synth-ws.h5",
        "results/patches/real-train/shard-0.h5",
        "results/patches/real-train/shard-1.h5",
    ]
    assert inputs["results/coresets/melding.h5"] == [
        f"results/coresets/{e}.h5" for e in ("real", "synth", "synth-dr", "synth-da")
    ]
    assert inputs["results/coresets/synth-dr-da.h5"] == [
        f"results/coresets/{d}/augmented/shard-{k}.h5" for d in ("synth", "synth-rot90", "synth-2x") for k in (0, 1)
    ]


def test_a_new_scenario_is_one_config_entry(tmp_path: Path):
    extra = tmp_path / "extra.yaml"
    scenario = {"pretrained": "melding", "train": ["real-train"], "val": "real-val", "test": "real-test"}
    extra.write_text(yaml.safe_dump({"experiments": {"melding-ft": scenario}}))
    counts, inputs = _dry_run(tmp_path, *STUDY, extra)
    assert counts["evaluate"] == 20 and counts["finetune"] == 9
    assert inputs["results/coresets/melding-ft.h5"][0] == "results/coresets/melding.h5"


@pytest.mark.parametrize(
    ("experiments", "message"),
    [
        (
            {"a": {"pretrained": "b", "train": ["plates-train"]}, "b": {"pretrained": "a", "train": ["plates-train"]}},
            "cycle: a -> b -> a",
        ),
        ({"a": {"meld": ["plates", "nowhere"]}}, "builds on experiment 'nowhere'"),
        (
            {"a": {"meld": ["plates", "plates"], "train": ["plates-train"]}},
            "experiments.a: give `train` (datasets to train on) or `meld` (experiments to meld), not both",
        ),
    ],
)
def test_bad_experiment_matrix_is_refused(tmp_path: Path, experiments: dict, message: str):
    roles = {"val": "plates-val", "test": "plates-test"}
    assert message in _refused(tmp_path, {"experiments": {name: {**e, **roles} for name, e in experiments.items()}})


def test_registry_weights_are_downloaded_before_the_jobs_that_use_them(tmp_path: Path):
    weights = tmp_path / "weights.yaml"
    backbone = {
        "name": "wide_resnet50_2",
        "layers": [2, 3],
        "weights": "resources/torch/hub/checkpoints/wide_resnet50_2-9ba9bcbe.pth",
    }
    weights.write_text(yaml.safe_dump({"patchcore": {"backbone": backbone}}))
    counts, inputs = _dry_run(tmp_path, REPO / "config/tiny.yaml", weights)
    assert counts["weights"] == 1
    shard = inputs["results/coresets/plates-train/plain/shard-0.h5"]
    assert shard == ["results/patches/plates-train/shard-0.h5", backbone["weights"]]


def test_an_experiment_with_its_own_backbone_and_an_oracle_threshold_gets_its_own_jobs(tmp_path: Path):
    """Per-experiment settings: its own shard coresets (named after it), the default experiment's shared ones
    untouched; a threshold fitted on test asks for no val maps."""
    extra = tmp_path / "extra.yaml"
    own = {
        "train": ["plates-train"],
        "test": "plates-test",
        "backbone": {"pool": 3},
        "threshold": {"rule": "youden", "fit_on": "test"},
    }
    extra.write_text(yaml.safe_dump({"experiments": {"wide": own}}))
    counts, inputs = _dry_run(tmp_path, REPO / "config/config.yaml", extra)
    assert counts["evaluate"] == 3 and counts["meld"] == 2 and counts["coreset_shard"] == 4  # + plates-cutpaste
    assert inputs["results/coresets/wide.h5"] == [
        f"results/coresets/plates-train/wide-plain/shard-{k}.h5" for k in (0, 1)
    ]
    assert inputs["results/coresets/plates.h5"] == [f"results/coresets/plates-train/plain/shard-{k}.h5" for k in (0, 1)]
    assert inputs["results/metrics/wide.parquet"] == [
        "results/maps/wide/plates-test/shard-0.h5",
        "results/maps/wide/plates-test/shard-1.h5",
        "results/datasets/plates-test",
    ]
    assert counts["patchcore_maps"] == 4 + 2  # plates: val and test; wide: test only


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        (
            {"model": "mask-rcnn"},
            "experiments.plates.model: unknown model 'mask-rcnn'; "
            "known: patchcore, cutpaste, cae, vae, aae, intensity, deviation, fcn, deeplabv3, unet",
        ),
        ({"dropout": 0.1}, "experiments.plates.dropout: model 'patchcore' takes no key 'dropout'"),
        ({"threshold": {"rule": "iou"}, "unit": "image"}, "iou is a pixel measure; unit 'image' takes f1 or youden"),
    ],
)
def test_model_and_evaluation_keys_are_refused_before_any_job(tmp_path: Path, experiment: dict, message: str):
    spec = {"train": ["plates-train"], "val": "plates-val", "test": "plates-test", **experiment}
    assert message in _refused(tmp_path, {"experiments": {"plates": spec}})


def test_older_configs_with_top_level_patchcore_sections_still_run(tmp_path: Path):
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config.update(config.pop("patchcore"))
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(config, sort_keys=False))
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(old))
    assert result.returncode == 0, result.stderr
    assert "top-level `backbone` is read as `patchcore.backbone`" in result.stdout + result.stderr


def test_a_baseline_beside_patchcore_runs_no_patchcore_job(tmp_path: Path):
    extra = tmp_path / "extra.yaml"
    deviation = {"model": "deviation", "train": ["plates-train"], "val": "plates-val", "test": "plates-test"}
    extra.write_text(yaml.safe_dump({"experiments": {"dev": deviation}}))
    counts, inputs = _dry_run(tmp_path, REPO / "config/config.yaml", extra)
    assert counts["evaluate"] == 3 and counts["baseline_maps"] == 2 and counts["meld"] == 1  # + plates-cutpaste
    assert counts["patchcore_maps"] == 4 and counts["study_tables"] == 1  # the PatchCore experiment's only
    assert inputs["results/maps/dev/plates-test/maps.h5"] == [
        "results/datasets/plates-test",
        "results/datasets/plates-train",
    ]
    assert inputs["results/metrics/dev.parquet"] == [
        "results/maps/dev/plates-test/maps.h5",
        "results/datasets/plates-test",
        "results/maps/dev/plates-val/maps.h5",
        "results/datasets/plates-val",
    ]


def test_the_autoencoder_study_trains_each_model_once_and_shares_it(tmp_path: Path):
    counts, inputs = _dry_run(tmp_path, REPO / "config/autoencoders.yaml", REPO / "config/autoencoders-small.yaml")
    # 2 datasets x 3 models x 3 repeats and the 3 plate models; every other experiment (val thresholds, region
    # masks, held-out test images) reuses those weights; the plates are rendered, no PatchCore job runs
    assert counts["train_autoencoder"] == 18 + 3 and counts["evaluate"] == 43 and counts["baseline_maps"] == 9
    assert counts["render"] == 5 and "meld" not in counts and "patchcore_maps" not in counts
    assert inputs["results/maps/chess-cae/chess-val/maps.h5"] == [
        "results/models/chess-cae/model.pt",
        "results/datasets/chess-val",
    ]
    assert inputs["results/models/chess-aae-2/model.pt"] == ["results/datasets/chess-train"]
    assert inputs["results/maps/chess-vae/chess-test-region/maps.h5"][0] == "results/models/chess-vae/model.pt"
    # maps once per trained model and dataset: 18 models on their test data, the first repeats on val (6),
    # region masks (3) and held-out images (6), the plate models on plates-val and plates-test (6); the val
    # experiments share the test maps of their weights
    assert counts["autoencoder_maps"] == 18 + 6 + 3 + 6 + 6
    assert inputs["results/models/plates-vae/model.pt"] == ["results/datasets/plates-train"]


def test_an_autoencoder_beside_patchcore_runs_no_patchcore_job_for_it(tmp_path: Path):
    extra = tmp_path / "extra.yaml"
    cae = {"model": "cae", "train": ["plates-train"], "val": "plates-val", "test": "plates-test", "steps": 10}
    extra.write_text(yaml.safe_dump({"experiments": {"plates-cae": cae}}))
    counts, inputs = _dry_run(tmp_path, REPO / "config/config.yaml", extra)
    assert counts["train_autoencoder"] == 1 and counts["autoencoder_maps"] == 2 and counts["meld"] == 1
    assert counts["patchcore_maps"] == 4 and counts["coreset_shard"] == 2  # the PatchCore experiment's only
    assert inputs["results/models/plates-cae/model.pt"] == ["results/datasets/plates-train"]


def test_a_patchcore_key_on_an_autoencoder_is_refused_naming_the_model(tmp_path: Path):
    cae = {"model": "vae", "train": ["plates-train"], "val": "plates-val", "test": "plates-test"}
    message = _refused(tmp_path, {"experiments": {"plates": {**cae, "coreset": {"size": 64}}}})
    assert "experiments.plates.coreset: model 'vae' takes no key 'coreset'; it takes: model, label" in message
    message = _refused(tmp_path, {"datasets": {"plates-val": {"square": 8}}})
    assert "datasets.plates-val.square: generator 'plates' takes no key 'square'" in message
