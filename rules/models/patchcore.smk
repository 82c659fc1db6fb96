# Coresets: one coreset per training shard (Sequential PatchCore, or the greedy baseline), melded per
# experiment; an experiment may instead fine-tune another's coreset or meld other experiments' coresets.


rule coreset_shard:
    input:
        stores="results/patches/{dataset}/shard-{shard}.h5",
        weights=backbone_weights,
    output:
        "results/coresets/{dataset}/{variant}/shard-{shard}.h5",
    wildcard_constraints:
        variant="plain|augmented",
    params:
        backbone=config["backbone"],
        coreset=config["coreset"],
        seed=config["seed"],
    log:
        "logs/coreset_shard/{dataset}/{variant}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/coreset_shard/{dataset}/{variant}/shard-{shard}.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/coreset_shard.py"


rule meld:
    input:
        meld_inputs,
    output:
        "results/coresets/{experiment}.h5",
    wildcard_constraints:
        experiment=experiments_pattern(finetuned=False),
    params:
        size=lambda wildcards: config["experiments"][wildcards.experiment].get("size", config["coreset"]["meld_size"]),
        max_epochs=config["coreset"]["max_epochs"],
        method=config["coreset"]["method"],
        seed=config["seed"],
    log:
        "logs/meld/{experiment}.log",
    benchmark:
        "results/benchmarks/meld/{experiment}.tsv"
    conda:
        ENV
    script:
        "../scripts/meld.py"


rule finetune:
    input:
        pretrained=lambda wildcards: f"results/coresets/{config['experiments'][wildcards.experiment]['pretrained']}.h5",
        stores=finetune_stores,
        weights=backbone_weights,
    output:
        "results/coresets/{experiment}.h5",
    wildcard_constraints:
        experiment=experiments_pattern(finetuned=True),
    params:
        datasets=lambda wildcards: [
            dataset
            for dataset in config["experiments"][wildcards.experiment]["train"]
            for _ in range(config["patches"]["shards"])
        ],
        augment=lambda wildcards: variant(wildcards.experiment) == "augmented",
        backbone=config["backbone"],
        coreset=config["coreset"],
        seed=config["seed"],
    log:
        "logs/finetune/{experiment}.log",
    benchmark:
        "results/benchmarks/finetune/{experiment}.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/finetune.py"
