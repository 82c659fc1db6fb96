# Render: synthetic aluminium plates with Blender (one Blender process per shard),
# then the shards assembled into one dataset in the common layout.


rule render:
    output:
        directory("results/renders/{dataset}/shard-{shard}"),
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        render=config["render"],
        seed=config["seed"],
    log:
        "logs/render/{dataset}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/render/{dataset}/shard-{shard}.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/render.py"


rule dataset:
    input:
        lambda wildcards: expand(
            "results/renders/{dataset}/shard-{shard}",
            dataset=wildcards.dataset,
            shard=render_shards(wildcards.dataset),
        ),
    output:
        directory("results/datasets/{dataset}"),
    log:
        "logs/dataset/{dataset}.log",
    conda:
        ENV
    script:
        "../scripts/assemble_dataset.py"
