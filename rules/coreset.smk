# Coresets: one coreset per training shard (Sequential PatchCore, or the greedy baseline), melded per experiment.


rule coreset_shard:
    input:
        "results/patches/{dataset}/shard-{shard}.h5",
    output:
        "results/coresets/{dataset}/shard-{shard}.h5",
    params:
        backbone=config["backbone"],
        coreset=config["coreset"],
        seed=config["seed"],
    log:
        "logs/coreset_shard/{dataset}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/coreset_shard/{dataset}/shard-{shard}.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/coreset_shard.py"


rule meld:
    input:
        shard_coresets,
    output:
        "results/coresets/{experiment}.h5",
    params:
        size=config["coreset"]["meld_size"],
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
