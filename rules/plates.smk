# Generator `plates`: synthetic aluminium plates rendered with Blender (one Blender process per shard), the
# shards assembled into one dataset in the common layout, and the gallery of the plates.


rule render:
    output:
        directory("results/renders/{dataset}/shard-{shard}"),
    wildcard_constraints:
        dataset=names_pattern(generated_by("plates")),
    params:
        spec=lambda wildcards: dataset_spec(wildcards.dataset),
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
    wildcard_constraints:
        dataset=names_pattern(generated_by("plates")),
    log:
        "logs/dataset/{dataset}.log",
    conda:
        ENV
    script:
        "../scripts/assemble_dataset.py"


rule plates_gallery:
    input:
        test=lambda wildcards: dataset_dir(first_experiment(), "test"),
    output:
        report(
            "results/figures/plates-gallery.png",
            category="Figures",
            caption="../report/gallery.rst",
        ),
    params:
        plate=gallery_plate(),
        datasets=config["datasets"],
        render=config["render"],
        seed=config["seed"],
    log:
        "logs/plates_gallery.log",
    benchmark:
        "results/benchmarks/plates_gallery.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/plates_gallery.py"
