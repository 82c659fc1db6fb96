# Evaluate: anomaly maps per patch-store shard, then the threshold fitted on val and metrics on test.


rule anomaly_maps:
    input:
        coreset="results/coresets/{experiment}.h5",
        patches="results/patches/{dataset}/shard-{shard}.h5",
        weights=backbone_weights,
    output:
        "results/anomaly_maps/{experiment}/{dataset}/shard-{shard}.h5",
    params:
        backbone=config["backbone"],
        scoring=config["scoring"],
    log:
        "logs/anomaly_maps/{experiment}/{dataset}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/anomaly_maps/{experiment}/{dataset}/shard-{shard}.tsv"
    threads: 2
    conda:
        ENV
    script:
        "../scripts/anomaly_maps.py"


rule evaluate:
    input:
        val_maps=lambda wildcards: anomaly_maps(wildcards.experiment, "val"),
        test_maps=lambda wildcards: anomaly_maps(wildcards.experiment, "test"),
        val_dataset=lambda wildcards: dataset_dir(wildcards.experiment, "val"),
        test_dataset=lambda wildcards: dataset_dir(wildcards.experiment, "test"),
    output:
        "results/metrics/{experiment}.parquet",
    params:
        val=lambda wildcards: config["experiments"][wildcards.experiment]["val"],
        test=lambda wildcards: config["experiments"][wildcards.experiment]["test"],
    log:
        "logs/evaluate/{experiment}.log",
    conda:
        ENV
    script:
        "../scripts/evaluate.py"
