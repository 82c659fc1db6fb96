# PatchCore: one coreset per training shard (Sequential PatchCore, or the greedy baseline), melded per
# experiment (or fine-tuned from another's coreset, or melded from other experiments' coresets), then maps of
# every patch-store shard of the datasets it is evaluated on. Only PatchCore experiments reach these rules.

from defectlab.jobs import patchcore as jobs_patchcore

PATCHCORE = jobs_patchcore.experiments(config)
VARIANTS = jobs_patchcore.variants(config)
MAPS_FILES["patchcore"] = lambda experiment, dataset: jobs_patchcore.maps(config, experiment, dataset)
FAMILY_OUTPUTS["patchcore"] = lambda: jobs_patchcore.outputs(config)


rule coreset_shard:
    input:
        stores="results/patches/{dataset}/shard-{shard}.h5",
        weights=lambda wildcards: registry_weights(VARIANTS[wildcards.variant]["backbone"]),
        statistics=lambda wildcards: jobs_patchcore.statistics_files(VARIANTS[wildcards.variant]["statistics"]),
    output:
        "results/coresets/{dataset}/{variant}/shard-{shard}.h5",
    wildcard_constraints:
        variant=names_pattern(VARIANTS),
    params:
        backbone=lambda wildcards: VARIANTS[wildcards.variant]["backbone"],
        weights_dir=str(WEIGHTS_DIR),
        coreset=lambda wildcards: VARIANTS[wildcards.variant]["coreset"],
        augment=lambda wildcards: wildcards.variant.endswith("augmented"),
        seed=config["seed"],
    log:
        "logs/coreset_shard/{dataset}/{variant}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/coreset_shard/{dataset}/{variant}/shard-{shard}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/coreset_shard.py"


rule meld:
    input:
        lambda wildcards: jobs_patchcore.meld_inputs(config, wildcards.experiment),
    output:
        "results/coresets/{experiment}.h5",
    wildcard_constraints:
        experiment=names_pattern(n for n in PATCHCORE if not jobs_patchcore.finetuned(config, n)),
    params:
        size=lambda wildcards: jobs_patchcore.meld_size(config, wildcards.experiment),
        max_epochs=lambda wildcards: SETTINGS[wildcards.experiment]["coreset"]["max_epochs"],
        method=lambda wildcards: SETTINGS[wildcards.experiment]["coreset"]["method"],
        seed=config["seed"],
    log:
        "logs/meld/{experiment}.log",
    benchmark:
        "results/benchmarks/meld/{experiment}.tsv"
    conda:
        MODEL_ENV
    script:
        "../../scripts/meld.py"


rule finetune:
    input:
        pretrained=lambda wildcards: f"results/coresets/{config['experiments'][wildcards.experiment]['pretrained']}.h5",
        stores=lambda wildcards: jobs_patchcore.finetune_stores(config, wildcards.experiment),
        weights=lambda wildcards: registry_weights(SETTINGS[wildcards.experiment]["backbone"]),
    output:
        "results/coresets/{experiment}.h5",
    wildcard_constraints:
        experiment=names_pattern(n for n in PATCHCORE if jobs_patchcore.finetuned(config, n)),
    params:
        datasets=lambda wildcards: [
            dataset
            for dataset in config["experiments"][wildcards.experiment]["train"]
            for _ in range(config["patches"]["shards"])
        ],
        augment=lambda wildcards: jobs_patchcore.augmented(config, wildcards.experiment),
        backbone=lambda wildcards: SETTINGS[wildcards.experiment]["backbone"],
        weights_dir=str(WEIGHTS_DIR),
        coreset=lambda wildcards: SETTINGS[wildcards.experiment]["coreset"],
        seed=config["seed"],
    log:
        "logs/finetune/{experiment}.log",
    benchmark:
        "results/benchmarks/finetune/{experiment}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/finetune.py"


rule patchcore_maps:
    input:
        coreset="results/coresets/{experiment}.h5",
        patches="results/patches/{dataset}/shard-{shard}.h5",
        weights=lambda wildcards: registry_weights(SETTINGS[wildcards.experiment]["backbone"]),
        statistics=lambda wildcards: jobs_patchcore.statistics_files(
            jobs_patchcore.statistics_datasets(config, wildcards.experiment)
        ),
    output:
        "results/maps/{experiment}/{dataset}/shard-{shard}.h5",
    wildcard_constraints:
        experiment=names_pattern(PATCHCORE),
    params:
        backbone=lambda wildcards: SETTINGS[wildcards.experiment]["backbone"],
        weights_dir=str(WEIGHTS_DIR),
        scoring=lambda wildcards: SETTINGS[wildcards.experiment]["scoring"],
    log:
        "logs/patchcore_maps/{experiment}/{dataset}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/patchcore_maps/{experiment}/{dataset}/shard-{shard}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: 16000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    conda:
        MODEL_ENV
    script:
        "../../scripts/patchcore_maps.py"


rule coreset_figure:
    input:
        shards=lambda wildcards: jobs_patchcore.shard_coresets(config, wildcards.experiment),
        melded="results/coresets/{experiment}.h5",
    output:
        report(
            "results/figures/{experiment}-coreset.png",
            category="Figures",
            subcategory="{experiment}",
            caption="../../report/coreset.rst",
        ),
    wildcard_constraints:
        experiment=names_pattern(PATCHCORE),
    log:
        "logs/coreset_figure/{experiment}.log",
    conda:
        MODEL_ENV
    script:
        "../../scripts/coreset_figure.py"
