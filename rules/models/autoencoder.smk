# Autoencoders (cae, vae, aae of seed 003): one training job per distinct trained model (experiments that
# differ only in evaluation share it), then its residual maps of each dataset its experiments are evaluated on.

from defectlab.jobs import autoencoder as jobs_autoencoder

AUTOENCODERS = jobs_autoencoder.experiments(config)
MAPS_FILES["autoencoder"] = lambda experiment, dataset: jobs_autoencoder.maps(config, experiment, dataset)
FAMILY_OUTPUTS["autoencoder"] = lambda: jobs_autoencoder.outputs(config)


# The checkpoint beside the weights is no output: Snakemake would delete it with a failed job, and the
# next attempt resumes from it.
rule train_autoencoder:
    input:
        lambda wildcards: expand("results/datasets/{dataset}", dataset=config["experiments"][wildcards.experiment]["train"]),
    output:
        "results/models/{experiment}/model.pt",
    wildcard_constraints:
        experiment=names_pattern(jobs_autoencoder.owners(config)),
    params:
        model=lambda wildcards: config["experiments"][wildcards.experiment]["model"],
        settings=lambda wildcards: SETTINGS[wildcards.experiment],
        seed=lambda wildcards: jobs_autoencoder.seed(config, wildcards.experiment),
    log:
        "logs/train_autoencoder/{experiment}.log",
    benchmark:
        "results/benchmarks/train_autoencoder/{experiment}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/train_autoencoder.py"


rule autoencoder_maps:
    input:
        weights="results/models/{experiment}/model.pt",
        dataset="results/datasets/{dataset}",
    output:
        "results/maps/{experiment}/{dataset}/maps.h5",
    wildcard_constraints:
        experiment=names_pattern(jobs_autoencoder.owners(config)),
    params:
        device=lambda wildcards: SETTINGS[wildcards.experiment]["device"],
    log:
        "logs/autoencoder_maps/{experiment}/{dataset}.log",
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/autoencoder_maps.py"
