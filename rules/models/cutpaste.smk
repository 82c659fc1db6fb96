# CutPaste (seed 002): one training job per distinct trained network (experiments that differ only in evaluation
# or scoring share it), one density per distinct scorer, then the maps of every patch-store shard of the datasets
# its experiments are evaluated on, with each test patch's embedding beside them.

from defectlab.jobs import cutpaste as jobs_cutpaste

CUTPASTE = jobs_cutpaste.experiments(config)
MAPS_FILES["cutpaste"] = lambda experiment, dataset: jobs_cutpaste.maps(config, experiment, dataset)
FAMILY_OUTPUTS["cutpaste"] = lambda: ["results/figures/cutpaste-gallery.png", "results/figures/cutpaste-training.png"]


# The checkpoint beside the weights is no output: Snakemake would delete it with a failed job, and the
# next attempt resumes from it.
rule train_cutpaste:
    input:
        datasets=lambda wildcards: jobs_cutpaste.training_datasets(config, wildcards.experiment),
        weights=lambda wildcards: registry_weights(SETTINGS[wildcards.experiment]["backbone"]),
    output:
        "results/models/{experiment}/model.pt",
    wildcard_constraints:
        experiment=names_pattern(jobs_cutpaste.owners(config)),
    params:
        settings=lambda wildcards: SETTINGS[wildcards.experiment],
        patches=config["patches"],
        seed=lambda wildcards: jobs_cutpaste.seed(config, wildcards.experiment),
        weights_dir=str(WEIGHTS_DIR),
    log:
        "logs/train_cutpaste/{experiment}.log",
    benchmark:
        "results/benchmarks/train_cutpaste/{experiment}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 240 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/train_cutpaste.py"


rule cutpaste_density:
    input:
        weights=lambda wildcards: jobs_cutpaste.weights(config, wildcards.experiment),
        datasets=lambda wildcards: jobs_cutpaste.training_datasets(config, wildcards.experiment),
    output:
        "results/models/{experiment}/density.npz",
    wildcard_constraints:
        experiment=names_pattern(jobs_cutpaste.fitters(config)),
    params:
        density=lambda wildcards: SETTINGS[wildcards.experiment]["density"],
        batch_size=lambda wildcards: SETTINGS[wildcards.experiment]["batch_size"],
        device=lambda wildcards: SETTINGS[wildcards.experiment]["device"],
    log:
        "logs/cutpaste_density/{experiment}.log",
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/cutpaste_density.py"


rule cutpaste_maps:
    input:
        weights=lambda wildcards: jobs_cutpaste.weights(config, wildcards.experiment),
        density=lambda wildcards: jobs_cutpaste.density(config, wildcards.experiment),
        patches="results/patches/{dataset}/shard-{shard}.h5",
    output:
        maps="results/maps/{experiment}/{dataset}/shard-{shard}.h5",
        embeddings="results/maps/{experiment}/{dataset}/shard-{shard}.embeddings.h5",
    wildcard_constraints:
        experiment=names_pattern(jobs_cutpaste.scorers(config)),
    params:
        settings=lambda wildcards: SETTINGS[wildcards.experiment],
    log:
        "logs/cutpaste_maps/{experiment}/{dataset}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/cutpaste_maps/{experiment}/{dataset}/shard-{shard}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/cutpaste_maps.py"


# The augmentations on the first CutPaste experiment's training patches (the thesis's Fig. 5.3).
rule cutpaste_gallery:
    input:
        lambda wildcards: jobs_cutpaste.training_datasets(config, CUTPASTE[0]),
    output:
        report("results/figures/cutpaste-gallery.png", category="Figures", caption="../../report/cutpaste-gallery.rst"),
    params:
        settings=lambda wildcards: SETTINGS[CUTPASTE[0]],
        patches=config["patches"],
        seed=config["seed"],
    log:
        "logs/cutpaste_gallery.log",
    conda:
        MODEL_ENV
    script:
        "../../scripts/cutpaste_gallery.py"


# Training loss, accuracy and validation loss over the steps of every trained CutPaste network.
rule cutpaste_training_figure:
    input:
        [jobs_cutpaste.weights(config, name) for name in jobs_cutpaste.owners(config)],
    output:
        report(
            "results/figures/cutpaste-training.png", category="Figures", caption="../../report/cutpaste-training.rst"
        ),
    params:
        labels=[config["experiments"][name].get("label", name) for name in jobs_cutpaste.owners(config)],
    log:
        "logs/cutpaste_training_figure.log",
    conda:
        MODEL_ENV
    script:
        "../../scripts/cutpaste_training_figure.py"
