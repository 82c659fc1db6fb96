# Supervised segmentation (fcn, deeplabv3, unet of seed 004): an image cache per dataset and working scale, one
# training job per point of the lr x weight-decay grid, the point with the best validation F1 kept, and its maps
# of each dataset the experiment is evaluated on.

from defectlab.jobs import segmentation as jobs_segmentation

SEGMENTATION = jobs_segmentation.experiments(config)
MAPS_FILES["segmentation"] = lambda experiment, dataset: jobs_segmentation.maps(config, experiment, dataset)
FAMILY_OUTPUTS["segmentation"] = lambda: jobs_segmentation.outputs(config)


rule segmentation_cache:
    input:
        "results/datasets/{dataset}",
    output:
        "results/cache/{dataset}/segmentation-x{scale}.h5",
    wildcard_constraints:
        scale=r"[0-9.]+",
    log:
        "logs/segmentation_cache/{dataset}-x{scale}.log",
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/segmentation_cache.py"


# The checkpoint beside the weights is no output: Snakemake would delete it with a failed job, and the next
# attempt resumes from it.
rule train_segmentation:
    input:
        train=lambda wildcards: jobs_segmentation.training_caches(config, wildcards.experiment),
        val=lambda wildcards: jobs_segmentation.validation_cache(config, wildcards.experiment),
        pretrained=lambda wildcards: (
            [jobs_segmentation.weights(jobs_segmentation.pretrained(config, wildcards.experiment))]
            if jobs_segmentation.pretrained(config, wildcards.experiment)
            else []
        ),
    output:
        "results/models/{experiment}/grid-{point}/model.pt",
    wildcard_constraints:
        experiment=names_pattern(SEGMENTATION),
        point=r"\d+",
    params:
        model=lambda wildcards: config["experiments"][wildcards.experiment]["model"],
        settings=lambda wildcards: jobs_segmentation.training_settings(config, wildcards.experiment),
        seed=lambda wildcards: jobs_segmentation.seed(config, wildcards.experiment, int(wildcards.point)),
    log:
        "logs/train_segmentation/{experiment}-{point}.log",
    benchmark:
        "results/benchmarks/train_segmentation/{experiment}-{point}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 12000 * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/train_segmentation.py"


rule select_segmentation:
    input:
        runs=lambda wildcards: jobs_segmentation.runs(config, wildcards.experiment),
        val=lambda wildcards: jobs_segmentation.validation_cache(config, wildcards.experiment),
    output:
        weights="results/models/{experiment}/model.pt",
        table="results/models/{experiment}/grid.parquet",
    wildcard_constraints:
        experiment=names_pattern(SEGMENTATION),
    params:
        device=lambda wildcards: SETTINGS[wildcards.experiment].get("device", "auto"),
    log:
        "logs/select_segmentation/{experiment}.log",
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/select_segmentation.py"


rule segmentation_maps:
    input:
        weights="results/models/{experiment}/model.pt",
        dataset="results/datasets/{dataset}",
    output:
        "results/maps/{experiment}/{dataset}/maps.h5",
    wildcard_constraints:
        experiment=names_pattern(SEGMENTATION),
    params:
        device=lambda wildcards: SETTINGS[wildcards.experiment].get("device", "auto"),
        geometry=lambda wildcards: jobs_segmentation.dataset_geometry(config, wildcards.experiment, wildcards.dataset),
    log:
        "logs/segmentation_maps/{experiment}/{dataset}.log",
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/segmentation_maps.py"


# Table 1 of the clutch paper beside this run's numbers (defectlab.report.segmentation).
rule segmentation_table:
    input:
        metrics=expand("results/metrics/{experiment}.parquet", experiment=SEGMENTATION),
        weights=[jobs_segmentation.weights(name) for name in SEGMENTATION],
    output:
        table="results/tables/clutch-table1.parquet",
        markdown=report("results/tables/clutch-table1.md", category="Study", caption="../../report/clutch-table1.rst"),
    params:
        config={"experiments": config["experiments"], "datasets": config["datasets"]},
        settings={name: jobs_segmentation.settings(config, name) for name in SEGMENTATION},
        weights={name: jobs_segmentation.weights(name) for name in SEGMENTATION},
    log:
        "logs/segmentation_table.log",
    conda:
        MODEL_ENV
    script:
        "../../scripts/segmentation_table.py"
