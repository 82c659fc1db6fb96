# Baselines without a model (intensity, deviation): maps straight from the images, one job per experiment and
# dataset; the reference rows a learned model must beat.

from defectlab.jobs import baseline as jobs_baseline

BASELINES = jobs_baseline.experiments(config)
MAPS_FILES["baseline"] = lambda experiment, dataset: jobs_baseline.maps(config, experiment, dataset)
FAMILY_OUTPUTS["baseline"] = lambda: []


rule baseline_maps:
    input:
        dataset="results/datasets/{dataset}",
        train=lambda wildcards: jobs_baseline.train_datasets(config, wildcards.experiment),
    output:
        "results/maps/{experiment}/{dataset}/maps.h5",
    wildcard_constraints:
        experiment=names_pattern(BASELINES),
    params:
        model=lambda wildcards: config["experiments"][wildcards.experiment]["model"],
    log:
        "logs/baseline_maps/{experiment}/{dataset}.log",
    conda:
        MODEL_ENV
    script:
        "../../scripts/baseline_maps.py"
