"""The whole pipeline on config/tiny.yaml: real Blender renders, real HDF5, real Parquet."""

import re
import shutil
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml
from helpers import REPO, snakemake

from defectlab.data.layout import load_sample, read_index

ARGS = ("--profile", str(REPO / "profiles/local"), "--cores", "2", "--configfile", str(REPO / "config/tiny.yaml"))
HEADLINE = {"pixel_precision", "pixel_recall", "pixel_f1", "image_auroc", "pixel_auroc"}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("tiny")
    result = snakemake(workdir, *ARGS)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_metrics_table_has_every_metric_of_the_test_split(run: Path):
    table = pd.read_parquet(run / "results/tables/metrics.parquet")
    assert set(table["split"]) == {"test"} and set(table["dataset"]) == {"plates-test"}
    assert set(table["metric"]) >= HEADLINE
    headline = table[table["metric"].isin(HEADLINE - {"image_auroc"})]
    assert headline["value"].between(0, 1).all()
    assert (table["threshold_fitted_on"] == "plates-val").all()
    assert table["threshold"].nunique() == 1
    classes = table.loc[table["metric"] == "defect_wise_recall", "class"]
    assert "mean" in set(classes)
    # impurities are reported, and under the impurity category only
    impurity = table[table["class"] == "water_stain"]
    assert not impurity.empty and set(impurity["category"]) == {"impurity"}
    assert (run / "results/tables/summary.md").read_text().startswith("# Metrics on the test split")


def test_figures_and_job_logs_are_written(run: Path):
    for name in ("plates-examples.png", "plates-coreset.png", "plates-gallery.png", "coverage-sweep.png"):
        assert (run / "results/figures" / name).stat().st_size > 10_000
    assert list((run / "logs/render").rglob("*.log"))
    assert list((run / "results/benchmarks/coreset_shard").rglob("*.tsv"))


def test_datasets_are_in_the_common_layout(run: Path):
    root = run / "results/datasets/plates-test"
    index = read_index(root)
    assert len(index) == 3 and set(index["split"]) == {"test"}
    for sample_id in index["id"]:
        sample = load_sample(root, sample_id)
        assert sample.image.shape == (128, 128, 3)


def test_study_tables_hold_the_run_and_its_provenance(run: Path):
    assert (run / "results/tables/table2.md").read_text().startswith("Table II")
    table1 = (run / "results/tables/table1.md").read_text()
    assert "scratch R_PX" in table1 and "| plates " in table1
    sources = pd.read_parquet(run / "results/tables/coreset_provenance.parquet")
    assert sources["experiment"].tolist() == ["plates"] and sources["points"].tolist() == [64]
    assert sources["synthetic_share"].tolist() == [100.0]
    sweep = pd.read_parquet(run / "results/tables/coverage_sweep.parquet")
    assert sorted(set(sweep["coverage"])) == [0, 1, 2, 3, 5, 10, 15, 20, 25, 50, 75, 100]


def test_the_light_twin_shows_the_test_plates_under_another_light(run: Path):
    source, twin = run / "results/datasets/plates-test", run / "results/datasets/plates-test-2x"
    index = read_index(twin)
    assert index["id"].tolist() == ["plates-test-2x-0000", "plates-test-2x-0001"] and set(index["light"]) == {"hex-2x"}
    assert index["plate"].tolist() == ["plates-test-2x-0000", "plates-test-2x-0001"]
    assert (index["n_fingerprints"] == 1).all()
    for i in range(2):
        a, b = load_sample(source, f"plates-test-{i:04d}"), load_sample(twin, f"plates-test-2x-{i:04d}")
        assert (a.mask == b.mask).all() and (a.instances == b.instances).all() and (a.image != b.image).any()


def test_coreset_has_its_size_and_provenance(run: Path):
    with h5py.File(run / "results/coresets/plates.h5") as h5:
        assert h5["features"].shape[0] == 64
        assert set(h5["origin"]["dataset"].astype(str)) == {"plates-train"}
        assert h5.attrs["backbone"] == "tf_efficientnet_lite0"
    with h5py.File(run / "results/coresets/plates-train/plain/shard-0.h5") as h5:
        distances = h5.attrs["min_distance"]
        assert list(distances) == sorted(distances)  # d_m never decreases


def test_second_run_has_nothing_to_do(run: Path):
    result = snakemake(run, *ARGS, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("coreset", "augment"),
    [({"method": "greedy", "projection": 16}, False), ({"augment": {"enabled": True}}, True)],
)
def test_config_selects_the_greedy_baseline_or_augmentation(run: Path, tmp_path: Path, coreset: dict, augment: bool):
    """A copy of the finished run, its coresets rebuilt under another coreset config (only they rerun)."""
    workdir = shutil.copytree(run, tmp_path / "run", symlinks=True)
    override = tmp_path / "coreset.yaml"
    override.write_text(
        yaml.safe_dump({"patchcore": {"coreset": {"size": 64, "max_epochs": 2, "meld_size": 64, **coreset}}})
    )
    targets = ("results/coresets/plates.h5", "results/figures/plates-coreset.png")
    result = snakemake(workdir, *targets, *ARGS, str(override))  # a second --configfile, merged over tiny.yaml
    assert result.returncode == 0, result.stderr[-5000:]
    assert "rule render" not in result.stdout + result.stderr
    method = coreset.get("method", "sequential")
    for path in (f"plates-train/{'augmented' if augment else 'plain'}/shard-0.h5", "plates.h5"):
        with h5py.File(workdir / "results/coresets" / path) as h5:
            assert h5.attrs["method"] == method and h5["features"].shape[0] == 64
            assert set(h5["origin"]["dataset"].astype(str)) == {"plates-train"}
            if path != "plates.h5":
                assert bool(h5.attrs["augment"]) is augment
                # augmented epochs rarely settle, so training runs to max_epochs; greedy has no epochs
                assert h5.attrs["epochs"] == (0 if method == "greedy" else 2)


def test_fine_tuning_and_melding_experiments_build_on_the_finished_coreset(run: Path, tmp_path: Path):
    """Two scenarios added by config: the plates coreset fine-tuned on other plates, then melded with it."""
    workdir = shutil.copytree(run, tmp_path / "run", symlinks=True)
    roles = {"val": "plates-val", "test": "plates-test"}
    experiments = {
        "plates-ft": {"pretrained": "plates", "train": ["plates-val"], **roles},
        "plates-meld": {"meld": ["plates", "plates-ft"], "size": 32, **roles},
    }
    override = tmp_path / "experiments.yaml"
    override.write_text(yaml.safe_dump({"experiments": experiments}))
    result = snakemake(workdir, "results/coresets/plates-meld.h5", *ARGS, str(override))
    assert result.returncode == 0, result.stderr[-5000:]
    log = result.stdout + result.stderr
    assert "rule finetune" in log and "rule render" not in log and "rule coreset_shard" not in log
    with h5py.File(workdir / "results/coresets/plates-ft.h5") as h5:
        assert h5.attrs["pretrained"] == "results/coresets/plates.h5" and h5["features"].shape[0] == 64
        datasets = set(h5["origin"]["dataset"].astype(str))
        assert datasets == {"plates-train", "plates-val"}  # some pretrained points kept, some replaced
    with h5py.File(workdir / "results/coresets/plates-meld.h5") as h5:
        assert h5["features"].shape[0] == 32 and set(h5["origin"]["dataset"].astype(str)) <= datasets


def test_models_without_patchcore_go_through_the_same_maps_and_evaluation(run: Path, tmp_path: Path):
    """Two baselines (no model) beside PatchCore in one config: their maps through the maps contract, their
    metrics from the same evaluation, and not one PatchCore job for them."""
    extra = tmp_path / "baselines.yaml"
    experiments = {
        "deviation": {"model": "deviation", "train": ["plates-train"], "val": "plates-val", "test": "plates-test"},
        "intensity": {"model": "intensity", "test": "plates-test", "threshold": {"rule": "youden", "fit_on": "test"}},
    }
    extra.write_text(yaml.safe_dump({"experiments": experiments}))
    targets = ["results/metrics/deviation.parquet", "results/metrics/intensity.parquet"]
    result = snakemake(run, *targets, *ARGS, str(extra))  # targets first: --configfile takes every name after it
    assert result.returncode == 0, result.stderr[-5000:]
    ran = set(re.findall(r"^(?:local)?rule (\w+):", result.stdout + result.stderr, flags=re.M))
    assert ran == {"baseline_maps", "evaluate"}  # datasets exist; no coreset, meld or PatchCore maps
    deviation, intensity = (pd.read_parquet(run / target) for target in targets)
    assert set(deviation["model"]) == {"deviation"} and set(intensity["model"]) == {"intensity"}
    assert set(deviation["threshold_fitted_on"]) == {"plates-val"}
    assert set(intensity["threshold_fitted_on"]) == {"plates-test (oracle)"}
    assert set(intensity["threshold_rule"]) == {"youden"}
    headline = deviation[deviation["metric"].isin(HEADLINE | {"pixel_iou"})].set_index("metric")["value"]
    assert headline.between(0, 1).all() and len(headline) == len(HEADLINE) + 1
    with h5py.File(run / "results/maps/deviation/plates-test/maps.h5") as h5:
        assert h5.attrs["model"] == "deviation" and h5["maps"].shape == (3, 128, 128)


def test_the_autoencoders_on_both_generators_beside_patchcore_give_table_1(run: Path, tmp_path: Path):
    """Chess and noise generated, CAE, VAE and AAE trained (a few steps at 32 px) and evaluated with an oracle
    IoU threshold, the baselines beside them, Table 1 with every row; PatchCore's run in the same folder."""
    oracle = {"threshold": {"rule": "iou", "fit_on": "test"}}
    datasets = {
        "chess-train": {"generator": "chess", "split": "train", "count": 2, "size": 32, "square": 4},
        "chess-test": {"generator": "chess", "split": "test", "count": 2, "twin_of": "chess-train", "anomaly": {}},
        "noise-train": {"generator": "noise", "split": "train", "count": 2, "size": 32},
        "noise-test": {"generator": "noise", "split": "test", "count": 2, "twin_of": "noise-train", "anomaly": {}},
    }
    experiments = {
        f"{data}-{model}": {"model": model, "train": [f"{data}-train"], "test": f"{data}-test", **oracle}
        for data in ("chess", "noise")
        for model in ("cae", "vae", "aae")
    }
    experiments["chess-intensity"] = {"model": "intensity", "test": "chess-test", **oracle}
    settings = {"hidden": 16, "latent": 8, "steps": 3, "checkpoint_every": 2}
    extra = tmp_path / "autoencoders.yaml"
    extra.write_text(yaml.safe_dump({"datasets": datasets, "experiments": experiments, "autoencoder": settings}))
    figure = "results/figures/autoencoder-training.png"
    result = snakemake(run, "results/tables/autoencoders.md", figure, *ARGS, str(extra))
    assert result.returncode == 0, result.stderr[-5000:]
    ran = set(re.findall(r"^(?:local)?rule (\w+):", result.stdout + result.stderr, flags=re.M))
    assert {"generate", "train_autoencoder", "autoencoder_maps", "baseline_maps", "evaluate"} <= ran
    assert not ran & {"render", "coreset_shard", "meld", "patchcore_maps"}
    table = pd.read_parquet(run / "results/tables/autoencoders.parquet")
    assert sorted(zip(table["dataset"], table["model"], strict=True)) == sorted(
        [(f"{d}-test", m) for d in ("chess", "noise") for m in ("cae", "vae", "aae")] + [("chess-test", "intensity")]
    )
    assert set(table["threshold_fitted_on"]) == {"chess-test (oracle)", "noise-test (oracle)"}
    assert (table.loc[table["model"] != "intensity", "steps"] == 3).all()
    assert table["pixel_iou"].between(0, 1).all() and table["paper_iou"].notna().sum() == 6
    text = (run / "results/tables/autoencoders.md").read_text()
    assert text.startswith("Table 1 (autoencoders)") and "0.7998" in text
    assert "autoencoder_training_figure" in ran and (run / figure).stat().st_size > 0
    assert (
        "CAE on chess-train: snapshots at steps [0, 1, 2, 3]"
        in (run / "logs/autoencoder_training_figure.log").read_text()
    )


def test_the_patch_unit_scores_the_test_patches_of_any_model(run: Path, tmp_path: Path):
    """The kitchen-board thesis's unit on the plates: a baseline's maps cut into patches on the grid with the
    flush edge column and row, Youden's threshold fitted on test (an oracle), the confusion matrix as rows."""
    extra = tmp_path / "patches.yaml"
    experiment = {
        "model": "deviation",
        "train": ["plates-train"],
        "test": "plates-test",
        "unit": "patch",
        "patch": {"size": 48, "stride": 32},
        "threshold": {"rule": "youden", "fit_on": "test"},
    }
    extra.write_text(yaml.safe_dump({"experiments": {"deviation-patches": experiment}}))
    target = "results/metrics/deviation-patches.parquet"
    result = snakemake(run, target, *ARGS, str(extra))
    assert result.returncode == 0, result.stderr[-5000:]
    rows = pd.read_parquet(run / target).set_index("metric")["value"]
    counts = rows[["patch_tn", "patch_fp", "patch_fn", "patch_tp"]]
    per_image = 4 * 4  # 128-pixel maps: x, y in 0, 32, 64 and the flush 80
    assert counts.sum() == per_image * len(pd.read_parquet(run / "results/datasets/plates-test/index.parquet"))
    assert rows["patch_recall"] == counts["patch_tp"] / (counts["patch_tp"] + counts["patch_fn"])
    assert 0.5 <= rows["patch_auroc"] <= 1 and set(pd.read_parquet(run / target)["unit"]) == {"patch"}
